// A cluster served over HTTPS on loopback, with certificates made by openssl for the test: the
// CLI's status, ps, call and migrate work with the cluster CA, a hand-off between two daemons
// runs over TLS (also from a Node daemon to a Deno one), and a CLI trusting another CA or
// pinning another certificate is refused with one line naming the node, its URL and what did
// not match (exit status 6).
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import { TlsCluster } from "../helpers/tls-cluster.ts";

/** uvu reports nothing of a failed `before`; this says why before the suite shows 0 passed. */
async function loud(setUp: () => Promise<void>): Promise<void> {
  try {
    await setUp();
  } catch (error) {
    console.error(`set-up failed: ${error instanceof Error ? error.stack : String(error)}`);
    throw error;
  }
}

const https = suite("a cluster over https");
let c: TlsCluster;
https.before(() =>
  loud(async () => {
    c = await TlsCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], processes: { tally: "module: Tally, node: alpha" } });
    await Promise.all([c.start("alpha"), c.start("beta")]);
    await c.waitRunningOn("tally", "alpha");
  }));
https.after(async () => c?.close());

https("ferry status and ps reach both daemons over https with the cluster CA", async () => {
  const status = await c.cli(["status", "--json"]);
  assert.is(status.code, 0, status.stderr);
  const nodes = (JSON.parse(status.stdout) as { nodes: { node: string; url: string; reachable: boolean }[] }).nodes;
  assert.equal(nodes.map((n) => [n.node, n.url, n.reachable]), [["alpha", c.url("alpha"), true], ["beta", c.url("beta"), true]]);
  const ps = await c.cli(["ps", "--json"]);
  assert.is(ps.code, 0, ps.stderr);
  const tally = (JSON.parse(ps.stdout) as ProcessInfo[]).find((p) => p.name === "tally");
  assert.equal([tally?.node, tally?.state], ["alpha", "running"]);
  assert.match(c.logs.alpha ?? "", `listening on ${c.url("alpha")}`);
});

https("ferry migrate moves a process between the daemons over TLS, its state intact", async () => {
  const noted = await c.cli(["call", "tally", "note", "before-the-move"]);
  assert.is(noted.code, 0, noted.stderr);
  const migrate = await c.cli(["migrate", "tally", "beta"]);
  assert.is(migrate.code, 0, migrate.stderr);
  const moved = await c.waitRunningOn("tally", "beta");
  assert.is(moved.generation, 1);
  const history = await c.cli(["call", "tally", "history", "--json"]);
  assert.is(history.code, 0, history.stderr);
  assert.equal(JSON.parse(history.stdout), ["before-the-move"]);
});

https("a CLI trusting another CA is refused with one line naming the node, its URL and the CA, exit status 6", async () => {
  const other = join(c.dir, "other-ca.yaml");
  writeFileSync(other, c.configText({}, { ca: "certs/other-ca.pem" }));
  const ps = await c.cli(["ps"], other);
  assert.is(ps.code, 6, ps.stderr);
  const lines = ps.stderr.trim().split("\n");
  assert.is(lines.length, 1, ps.stderr);
  assert.match(lines[0]!, `ferry: Node "alpha" at ${c.url("alpha")} presented a certificate not signed by the cluster CA "certs/other-ca.pem"`);
});

https("a CLI pinning another certificate's fingerprint is refused, showing the fingerprint presented", async () => {
  const pinned = join(c.dir, "pinned.yaml");
  const wrong = `fingerprint: "${c.pki.selfSigned.fingerprint}"`;
  writeFileSync(pinned, c.configText({}, { nodeExtra: { alpha: wrong, beta: wrong } }));
  const status = await c.cli(["status"], pinned);
  assert.is(status.code, 6, status.stderr);
  assert.match(status.stderr, `Node "alpha" at ${c.url("alpha")} presented a certificate with fingerprint ${c.pki.server.fingerprint}, not the one pinned in nodes.alpha.tls.fingerprint`);
  // The right pins work without any CA.
  const right = join(c.dir, "right-pins.yaml");
  writeFileSync(right, c.configText({}, { ca: null, nodeExtra: { alpha: `fingerprint: "${c.pki.server.fingerprint}"`, beta: `fingerprint: "${c.pki.server2.fingerprint}"` } }));
  const ok = await c.cli(["ps", "--json"], right);
  assert.is(ok.code, 0, ok.stderr);
});

https.run();

const mixed = suite("a hand-off over TLS between a Node and a Deno daemon");
let m: TlsCluster;
mixed.before(() =>
  loud(async () => {
    m = await TlsCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], processes: { tally: "module: Tally, node: alpha" }, runtimes: { alpha: "node", beta: "deno" } });
    await Promise.all([m.start("alpha"), m.start("beta")]);
    await m.waitRunningOn("tally", "alpha");
  }));
mixed.after(async () => m?.close());

mixed("a process moves Node → Deno → Node over https, each daemon checking the other's certificate", async () => {
  for (const [i, node] of ["beta", "alpha"].entries()) {
    const migrate = await m.cli(["migrate", "tally", node]);
    assert.is(migrate.code, 0, migrate.stderr);
    assert.is((await m.waitRunningOn("tally", node)).generation, i + 1);
  }
  assert.match(m.logs.beta ?? "", /\(deno [0-9.]+\) listening on https:/);
});

mixed("the CLI run by Deno reaches both daemons over https and is refused by a wrong pin like on Node", async () => {
  const ps = await m.cli(["ps", "--json"], m.file, {}, "deno");
  assert.is(ps.code, 0, ps.stderr);
  assert.equal((JSON.parse(ps.stdout) as ProcessInfo[]).map((p) => [p.name, p.state]), [["tally", "running"]]);
  const pinned = join(m.dir, "pinned.yaml");
  writeFileSync(pinned, m.configText({}, { nodeExtra: { beta: `fingerprint: "${m.pki.selfSigned.fingerprint}"` } }));
  const status = await m.cli(["ps", "--node", "beta"], pinned, {}, "deno");
  assert.is(status.code, 6, status.stderr);
  assert.match(status.stderr, `Node "beta" at ${m.url("beta")} presented a certificate with fingerprint ${m.pki.server2.fingerprint}`);
});

mixed.run();
