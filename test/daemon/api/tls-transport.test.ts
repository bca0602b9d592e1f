// The transport's checks of an https:// daemon, against real HTTPS servers on 127.0.0.1 with
// certificates made by openssl for the test: the cluster CA and the host name, or a pinned
// fingerprint; every refusal is a one-line `tls_failed` naming the node, its URL and what did
// not match, and the refused server never sees a request (so never the secret).
import { suite } from "../../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentPlatform } from "../../../daemon/adapters/mod.ts";
import { ApiClient } from "../../../daemon/api/client.ts";
import { type ClientTls, clientTlsOf } from "../../../daemon/api/client-tls.ts";
import { httpTransport } from "../../../daemon/api/transport.ts";
import { failureOf, type FerryError, isFerryError } from "../../../daemon/errors.ts";
import { parseClusterConfig } from "../../../daemon/config/parse.ts";
import { makeTestPki, pemOf, type TestCert, type TestPki } from "../../helpers/certs.ts";

const test = suite("tls-transport");

const SECRET = "transport-secret";
const tmp = mkdtempSync(join(tmpdir(), "ferry-tls-transport-"));
let pki: TestPki;

test.before(async () => {
  pki = await makeTestPki(join(tmp, "certs"));
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

interface Served {
  url: string;
  /** Requests that reached the handler. */
  seen: string[];
}

async function withServer(cert: TestCert | null, body: (served: Served) => Promise<void>): Promise<void> {
  const seen: string[] = [];
  const platform = await currentPlatform();
  const handler = async (req: Request) => {
    seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
    return Response.json({ ok: true });
  };
  const server = await platform.serve(handler, { hostname: "127.0.0.1", port: 0, ...(cert ? { tls: pemOf(cert) } : {}) });
  try {
    await body({ url: `${cert ? "https" : "http"}://127.0.0.1:${server.port}`, seen });
  } finally {
    await server.close();
  }
}

function settings(url: string, options: { ca?: string; fingerprint?: string } = {}): ClientTls {
  return {
    ...(options.ca ? { ca: { pem: readFileSync(options.ca, "utf8"), file: options.ca.split("/").pop()! } } : {}),
    peers: new Map([[url, { name: "beta", ...(options.fingerprint ? { fingerprint: options.fingerprint } : {}) }]]),
  };
}

async function refusal(client: ApiClient): Promise<FerryError> {
  try {
    await client.post("ps", {}, { timeoutMs: 10_000 });
  } catch (error) {
    assert.ok(isFerryError(error), String(error));
    return error;
  }
  assert.unreachable("the request was answered");
  throw new Error("unreachable");
}

test("an https request is answered when the node's certificate is signed by the cluster CA, for its host", () =>
  withServer(pki.server, async ({ url, seen }) => {
    const client = new ApiClient("beta", url, SECRET, httpTransport({ tls: settings(url, { ca: pki.ca }) }));
    assert.equal(await client.post("ps", {}), { ok: true } as never);
    assert.equal(await client.post("ps", {}), { ok: true } as never);
    assert.equal(seen, [`POST /v1/ps Bearer ${SECRET}`, `POST /v1/ps Bearer ${SECRET}`]);
  }));

test("a certificate not signed by the cluster CA is refused with tls_failed naming the node, the URL and the CA file, before the secret is sent", () =>
  withServer(pki.otherServer, async ({ url, seen }) => {
    const error = await refusal(new ApiClient("beta", url, SECRET, httpTransport({ tls: settings(url, { ca: pki.ca }) })));
    assert.is(error.code, "tls_failed");
    assert.is(error.message, `Node "beta" at ${url} presented a certificate not signed by the cluster CA "ca.pem"`);
    assert.is(error.retryable, false);
    assert.is(failureOf(error.code).exit, 6);
    assert.equal(seen, []);
  }));

test("a certificate for another host name is refused, naming the names it is for", () =>
  withServer(pki.wrongName, async ({ url, seen }) => {
    const error = await refusal(new ApiClient("beta", url, SECRET, httpTransport({ tls: settings(url, { ca: pki.ca }) })));
    assert.is(error.code, "tls_failed");
    assert.is(error.message, `Node "beta" at ${url} presented a certificate for DNS:wrong.example, not for "127.0.0.1"`);
    assert.equal(seen, []);
  }));

test("without a cluster CA, a certificate of a private CA is refused as not trusted by this machine", () =>
  withServer(pki.server, async ({ url, seen }) => {
    const error = await refusal(new ApiClient("beta", url, SECRET, httpTransport({ tls: settings(url) })));
    assert.is(error.code, "tls_failed");
    assert.match(error.message, `Node "beta" at ${url} presented a certificate not signed by a CA this machine trusts`);
    assert.match(error.hint ?? "", "cluster.tls.ca");
    assert.equal(seen, []);
  }));

test("a pinned fingerprint accepts exactly that certificate, even self-signed and with a cluster CA configured", () =>
  withServer(pki.selfSigned, async ({ url, seen }) => {
    const bare = pki.selfSigned.fingerprint.replaceAll(":", "").toLowerCase();
    const tls = await clientTlsOf(
      parseClusterConfig(`cluster: { name: t, secret: s, tls: { ca: ca.pem } }\nnodes:\n  beta: { url: "${url}", tls: { cert: c, key: k, fingerprint: ${bare} } }\n`, "cluster.yaml"),
      pki.dir,
    );
    const client = new ApiClient("beta", url, SECRET, httpTransport({ tls }));
    assert.equal(await client.post("ps", {}), { ok: true } as never);
    assert.is(seen.length, 1);
  }));

test("a certificate other than the pinned one is refused, showing the fingerprint it has, before the secret is sent", () =>
  withServer(pki.server, async ({ url, seen }) => {
    // Signed by the cluster CA and for the right name: the pin decides alone.
    const error = await refusal(new ApiClient("beta", url, SECRET, httpTransport({ tls: settings(url, { ca: pki.ca, fingerprint: pki.selfSigned.fingerprint }) })));
    assert.is(error.code, "tls_failed");
    assert.is(error.message, `Node "beta" at ${url} presented a certificate with fingerprint ${pki.server.fingerprint}, not the one pinned in nodes.beta.tls.fingerprint`);
    assert.equal(seen, []);
  }));

test("an https URL served over plain HTTP fails the handshake with tls_failed, not unreachable", () =>
  withServer(null, async ({ url, seen }) => {
    const secureUrl = url.replace("http:", "https:");
    const error = await refusal(new ApiClient("beta", secureUrl, SECRET, httpTransport({ tls: settings(secureUrl, { ca: pki.ca }) })));
    assert.is(error.code, "tls_failed");
    assert.match(error.message, `Node "beta" at ${secureUrl} did not complete a TLS handshake`);
    assert.equal(seen, []);
  }));

test("a transport given its settings as a function follows them: a corrected CA takes effect on the next request", () =>
  withServer(pki.server, async ({ url }) => {
    let current = settings(url, { ca: pki.otherCa });
    const client = new ApiClient("beta", url, SECRET, httpTransport({ tls: () => current }));
    assert.is((await refusal(client)).code, "tls_failed");
    current = settings(url, { ca: pki.ca });
    assert.equal(await client.post("ps", {}), { ok: true } as never);
  }));

test("clientTlsOf() maps https nodes by origin with their normalised pins and reads the CA relative to the config", async () => {
  const config = parseClusterConfig(
    "cluster: { name: t, secret: s, tls: { ca: certs/ca.pem } }\nnodes:\n" +
      "  alpha: { url: http://127.0.0.1:7101 }\n" +
      `  beta: { url: "https://127.0.0.1:7102/", tls: { cert: c, key: k, fingerprint: "${pki.server.fingerprint.toLowerCase()}" } }\n` +
      "  gamma: { url: https://localhost:443, tls: { cert: c, key: k } }\n",
    "cluster.yaml",
  );
  const tls = await clientTlsOf(config, tmp);
  assert.equal([...(tls?.peers ?? [])], [
    ["https://127.0.0.1:7102", { name: "beta", fingerprint: pki.server.fingerprint }],
    ["https://localhost", { name: "gamma" }],
  ]);
  assert.equal(tls?.ca, { pem: readFileSync(pki.ca, "utf8"), file: "certs/ca.pem" });
});

test("clientTlsOf() reads no CA when no node is https, and refuses a missing or non-PEM CA file naming it", async () => {
  const text = (url: string, ca: string) => `cluster: { name: t, secret: s, tls: { ca: ${ca} } }\nnodes:\n  beta: { url: "${url}"${url.startsWith("https") ? ", tls: { cert: c, key: k }" : ""} }\n`;
  assert.is(await clientTlsOf(parseClusterConfig(text("http://127.0.0.1:7102", "missing.pem"), "cluster.yaml"), tmp), undefined);
  for (const [file, message] of [["missing.pem", 'Cannot read the cluster CA "missing.pem"'], ["junk.pem", 'The cluster CA "junk.pem" holds no readable certificate']]) {
    writeFileSync(join(tmp, "junk.pem"), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
    try {
      await clientTlsOf(parseClusterConfig(text("https://127.0.0.1:7102", file!), "cluster.yaml"), tmp);
      assert.unreachable("the CA was accepted");
    } catch (error) {
      assert.ok(isFerryError(error), String(error));
      assert.is(error.code, "config_invalid");
      assert.match(error.message, message!);
    }
  }
});

test.run();
