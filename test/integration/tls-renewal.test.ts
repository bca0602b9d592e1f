/**
 * A renewed certificate without a restart: a Node and a Deno daemon serving https read their
 * certificate and key files again, present the new certificate to new connections once the pair
 * fits, keep the old one (and say why) while it does not, and their peers and the CLI go on.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { renameSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { until } from "../helpers/cluster.ts";
import { pemOf, type TestCert } from "../helpers/certs.ts";
import { TlsCluster } from "../helpers/tls-cluster.ts";

let m: TlsCluster | undefined;
test.after.each(async () => {
  await m?.close();
  m = undefined;
});

/** The SHA-256 fingerprint of the certificate a new connection to `port` is shown. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

/** Replaces a file's content as a renewal tool does: a new file renamed over the old one. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

/** Writes `next`'s certificate and key into the files cluster.yaml names for `files`. */
function renew(files: TestCert, next: { cert: string; key: string }): void {
  replace(files.cert, next.cert);
  replace(files.key, next.key);
}

test("a Node and a Deno daemon present a renewed certificate without a restart; a pair that does not fit is not used; an unusable CA file is reported once and the CA in use kept", async () => {
  m = await TlsCluster.create({
    nodes: ["alpha", "beta"],
    modules: ["Tally"],
    processes: { tally: "module: Tally, node: alpha" },
    runtimes: { alpha: "node", beta: "deno" },
    settings: { tlsCheckIntervalMs: 100 },
  });
  const c = m;
  const first = pemOf(c.pki.server);
  const second = pemOf(c.pki.server2);
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("tally", "alpha");
  assert.is(await presented(c.ports.alpha!), c.pki.server.fingerprint);
  assert.is(await presented(c.ports.beta!), c.pki.server2.fingerprint);

  // Half a renewal: the new certificate is written, its key not yet.
  replace(c.pki.server.cert, second.cert);
  await until(() => /alpha keeps presenting its current TLS certificate: The TLS key .* is not the key of its certificate/.test(c.logs.alpha ?? ""), "alpha to refuse the pair that does not fit");
  assert.is(await presented(c.ports.alpha!), c.pki.server.fingerprint, "a certificate without its key was presented");

  replace(c.pki.server.key, second.key);
  await until(async () => (await presented(c.ports.alpha!)) === c.pki.server2.fingerprint, "alpha to present its renewed certificate");
  assert.match(c.logs.alpha ?? "", /alpha presents its renewed TLS certificate \(valid until .*, SHA-256 [0-9A-F:]+…\) to new connections/);

  renew(c.pki.server2, first);
  await until(async () => (await presented(c.ports.beta!)) === c.pki.server.fingerprint, "beta (Deno) to present its renewed certificate");

  // The peers and the CLI check the renewed certificates against the cluster CA and go on.
  const migrate = await c.cli(["migrate", "tally", "beta"]);
  assert.is(migrate.code, 0, migrate.stderr);
  assert.is((await c.waitRunningOn("tally", "beta")).generation, 1);
  const ps = await c.cli(["ps", "--json"]);
  assert.is(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /"tally"/);

  // A CA file that cannot be used is reported, once however many checks find it so; the node
  // keeps checking peers against the CA it has, and renews its own certificate meanwhile.
  replace(c.pki.ca, "not a certificate\n");
  const refused = /alpha keeps its previous TLS settings/g;
  await until(() => refused.test(c.logs.alpha ?? ""), "alpha to report the unusable CA file");
  renew(c.pki.server, first);
  await until(async () => (await presented(c.ports.alpha!)) === c.pki.server.fingerprint, "alpha to present the first certificate again");
  renew(c.pki.server, second);
  await until(async () => (await presented(c.ports.alpha!)) === c.pki.server2.fingerprint, "alpha to present the second certificate again");
  assert.is((c.logs.alpha ?? "").match(refused)?.length, 1, "the same problem was reported at every check");
  // Alpha pulls the process from beta, checking beta's certificate against the CA it kept.
  c.writeConfig({ tally: "module: Tally, node: alpha" });
  assert.is((await c.waitRunningOn("tally", "alpha")).generation, 2);
});

test.run();
