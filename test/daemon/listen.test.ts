// Where a node's daemon listens and what it refuses before it starts: plain HTTP or a weak
// secret off loopback, unless cluster.insecure says so; and reading its certificate files.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseClusterConfig } from "../../daemon/config/parse.ts";
import { type FerryError, failureOf, isFerryError } from "../../daemon/errors.ts";
import { isLoopbackHost, type ListenPlan, planListen, readServeTls } from "../../daemon/listen.ts";
import { makeTestPki, type TestPki } from "../helpers/certs.ts";

const test = suite("listen");

const STRONG = "a-secret-of-24-bytes-xyz";
const tmp = mkdtempSync(join(tmpdir(), "ferry-listen-"));
let pki: TestPki;

test.before(async () => {
  pki = await makeTestPki(join(tmp, "pki"));
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A config with one node `beta` declared by `node` (a YAML flow mapping body). */
function source(node: string, options: { secret?: string; insecure?: boolean } = {}) {
  const secret = options.secret ?? STRONG;
  const text = `cluster: { name: t, secret: ${JSON.stringify(secret)}${options.insecure ? ", insecure: true" : ""} }\nnodes:\n  beta: { ${node} }\n`;
  return { config: parseClusterConfig(text, "cluster.yaml"), secret, file: "/srv/ferry/cluster.yaml" };
}

function refusal(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (error) {
    assert.ok(isFerryError(error), String(error));
    return error;
  }
  assert.unreachable("it was allowed");
  throw new Error("unreachable");
}

const tlsFiles = "tls: { cert: beta.pem, key: beta.key }";

test("planListen() binds the URL's host and port, or the listen address, and keeps the URL", () => {
  const plain = planListen(source("url: http://127.0.0.1:7102"), "beta");
  assert.equal(plain, { node: "beta", url: "http://127.0.0.1:7102", hostname: "127.0.0.1", port: 7102, address: "127.0.0.1:7102", tls: undefined });
  const https = planListen(source(`url: "https://10.0.0.6", listen: "[::]:7443", ${tlsFiles}`), "beta");
  assert.equal(https, { node: "beta", url: "https://10.0.0.6", hostname: "::", port: 7443, address: "[::]:7443", tls: { cert: "beta.pem", key: "beta.key" } });
  assert.is(planListen(source(`url: "https://10.0.0.6", ${tlsFiles}`), "beta").port, 443);
  const hostOnly = planListen(source(`url: "https://203.0.113.9:7102", listen: 0.0.0.0, ${tlsFiles}`), "beta");
  assert.equal([hostOnly.hostname, hostOnly.port, hostOnly.address], ["0.0.0.0", 7102, "0.0.0.0:7102"]);
});

test("planListen() refuses plain HTTP on a non-loopback listen address with a one-line reason and exit status 2", () => {
  const error = refusal(() => planListen(source('url: http://127.0.0.1:7102, listen: "0.0.0.0:7102"'), "beta"));
  assert.is(error.code, "config_invalid");
  assert.is(failureOf(error.code).exit, 2);
  assert.is(error.userMessage, 'Refusing to serve node "beta" over plain HTTP on 0.0.0.0:7102 (set cluster.insecure: true to allow it, or use an https:// URL with tls)');
});

test("planListen() refuses plain HTTP at a non-loopback URL, even when it listens on loopback behind it", () => {
  assert.match(refusal(() => planListen(source("url: http://10.0.0.6:7102"), "beta")).message, "over plain HTTP on 10.0.0.6:7102");
  assert.match(refusal(() => planListen(source('url: http://10.0.0.6:7102, listen: "127.0.0.1:7000"'), "beta")).message, "over plain HTTP on 10.0.0.6:7102");
  assert.match(refusal(() => planListen(source("url: http://beta.lan:7102"), "beta")).message, "over plain HTTP on beta.lan:7102");
});

test("planListen() refuses the example secret and secrets under 16 bytes off loopback, even over https", () => {
  const offLoopback = `url: "https://10.0.0.6:7102", ${tlsFiles}`;
  const example = refusal(() => planListen(source(offLoopback, { secret: "change-me" }), "beta"));
  assert.is(example.code, "config_invalid");
  assert.is(example.message, 'Refusing to serve node "beta" on 10.0.0.6:7102 with the example secret "change-me"');
  assert.match(example.hint ?? "", "at least 16 bytes in cluster.secret or FERRY_SECRET");
  assert.match(example.hint ?? "", "cluster.insecure: true");
  const short = refusal(() => planListen(source(offLoopback, { secret: "fifteen-bytes!!" }), "beta"));
  assert.is(short.message, 'Refusing to serve node "beta" on 10.0.0.6:7102 with a secret of 15 bytes');
  assert.not.match(short.userMessage, "fifteen", "the secret itself is not shown");
  // Bytes, not characters: eight two-byte letters are enough.
  planListen(source(offLoopback, { secret: "éééééééé" }), "beta");
  planListen(source(offLoopback, { secret: "sixteen-bytes-ok" }), "beta");
});

test("planListen() allows plain HTTP and any secret on loopback addresses", () => {
  for (const node of ["url: http://127.0.0.1:7101", "url: http://localhost:7101", "url: http://127.0.0.2:7101", 'url: http://127.0.0.1:7101, listen: "[::1]:7101"']) {
    assert.is(planListen(source(node, { secret: "change-me" }), "beta").node, "beta");
  }
});

test("planListen() allows plain HTTP and a weak secret off loopback when cluster.insecure is true", () => {
  const plan = planListen(source('url: http://10.0.0.6:7102, listen: "0.0.0.0:7102"', { secret: "change-me", insecure: true }), "beta");
  assert.is(plan.address, "0.0.0.0:7102");
});

test("planListen() names the known nodes for an unknown one", () => {
  const error = refusal(() => planListen(source("url: http://127.0.0.1:7101"), "gamma"));
  assert.is(error.code, "not_found");
  assert.is(error.userMessage, 'No node named "gamma" in /srv/ferry/cluster.yaml (nodes: beta)');
});

test("isLoopbackHost() knows 127.0.0.0/8, ::1 in any spelling and localhost, and nothing else", () => {
  for (const host of ["127.0.0.1", "127.255.0.9", "localhost", "LOCALHOST", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(host), host);
  for (const host of ["0.0.0.0", "::", "[::]", "10.0.0.6", "128.0.0.1", "::2", "::ffff:10.0.0.1", "example.com", "localhost.example.com"]) assert.not.ok(isLoopbackHost(host), host);
});

function planWith(cert: string, key: string): ListenPlan {
  return { node: "beta", url: "https://127.0.0.1:7102", hostname: "127.0.0.1", port: 7102, address: "127.0.0.1:7102", tls: { cert, key } };
}

test("readServeTls() reads the certificate and key relative to the config's directory", async () => {
  const dir = join(tmp, "config");
  mkdirSync(join(dir, "certs"), { recursive: true });
  copyFileSync(pki.server.cert, join(dir, "certs/beta.pem"));
  copyFileSync(pki.server.key, join(dir, "certs/beta.key"));
  const tls = await readServeTls(planWith("certs/beta.pem", "certs/beta.key"), dir);
  assert.match(tls?.cert ?? "", "-----BEGIN CERTIFICATE-----");
  assert.match(tls?.key ?? "", "PRIVATE KEY-----");
  assert.is(await readServeTls({ ...planWith("x", "y"), tls: undefined }, dir), undefined);
});

test("readServeTls() refuses a missing file, a file not in PEM and a key of another certificate, naming them", async () => {
  writeFileSync(join(tmp, "junk.pem"), "not a certificate\n");
  const cases: [string, string, string][] = [
    ["missing.pem", pki.server.key, 'Cannot read the TLS certificate "missing.pem" of node "beta" (ENOENT at '],
    [pki.server.cert, "junk.pem", 'The TLS key "junk.pem" of node "beta" is not in PEM format'],
    [pki.server.cert, pki.server2.key, `The TLS key "${pki.server2.key}" of node "beta" is not the key of its certificate "${pki.server.cert}"`],
    [pki.server.cert, pki.server.cert, `Cannot use the TLS certificate "${pki.server.cert}" and key "${pki.server.cert}" of node "beta"`],
  ];
  for (const [cert, key, message] of cases) {
    try {
      await readServeTls(planWith(cert, key), tmp);
      assert.unreachable(`${cert} and ${key} were accepted`);
    } catch (error) {
      assert.ok(isFerryError(error), String(error));
      assert.is(error.code, "config_invalid");
      assert.match(error.message, message);
    }
  }
});

test.run();
