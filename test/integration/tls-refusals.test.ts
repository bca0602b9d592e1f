// What a daemon refuses at start, with one line on stderr and exit status 2, before it restores
// anything: plain HTTP off loopback (the listen address counts, not only the URL) and a weak
// secret off loopback, unless cluster.insecure says so; an https:// URL without its tls files
// (a config error at its position); a certificate file it cannot read. `ferry up` refuses the
// same way instead of restarting the daemon in a loop.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SECRET, TestCluster } from "../helpers/cluster.ts";
import { TLS_SECRET, TlsCluster } from "../helpers/tls-cluster.ts";

async function loud(setUp: () => Promise<void>): Promise<void> {
  try {
    await setUp();
  } catch (error) {
    console.error(`set-up failed: ${error instanceof Error ? error.stack : String(error)}`);
    throw error;
  }
}

const plain = suite("plain HTTP off loopback");
let c: TestCluster;
plain.before(() => loud(async () => void (c = await TestCluster.create({ nodes: ["alpha"], modules: ["Tally"] }))));
plain.after(async () => c?.close());

function plainConfig(extra: string, secret = "a-secret-of-more-than-16-bytes"): string {
  const port = c.ports.alpha;
  return `cluster:\n  name: t\n  secret: ${secret}\n${extra}nodes:\n  alpha: { url: "http://127.0.0.1:${port}", listen: "0.0.0.0:${port}" }\nprocesses:\n  tally: { module: Tally, node: alpha }\n`;
}

plain("ferry daemon refuses to listen on 0.0.0.0 over plain HTTP with one line and exit status 2, before restoring anything", async () => {
  c.writeRaw(plainConfig(""));
  const r = await c.cli(["daemon", "--node", "alpha"]);
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stderr, `ferry: Refusing to serve node "alpha" over plain HTTP on 0.0.0.0:${c.ports.alpha} (set cluster.insecure: true to allow it, or use an https:// URL with tls)\n`);
  assert.not.ok(existsSync(join(c.dir, ".ferry", "alpha")), "no data directory was opened");
});

plain("ferry up refuses it the same way, once, instead of restarting the daemon", async () => {
  c.writeRaw(plainConfig(""));
  const r = await c.cli(["up"]);
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stderr, `ferry: Refusing to serve node "alpha" over plain HTTP on 0.0.0.0:${c.ports.alpha} (set cluster.insecure: true to allow it, or use an https:// URL with tls)\n`);
});

plain("with cluster.insecure: true it serves plain HTTP on 0.0.0.0, even with a weak secret, reached at 127.0.0.1", async () => {
  c.writeRaw(plainConfig("  insecure: true\n", SECRET));
  await c.start("alpha");
  assert.match(c.logs.alpha ?? "", `listening on http://127.0.0.1:${c.ports.alpha} (bound to 0.0.0.0:${c.ports.alpha})`);
  await c.stop("alpha");
});

plain.run();

const secure = suite("https and weak secrets");
let t: TlsCluster;
secure.before(() => loud(async () => void (t = await TlsCluster.create({ nodes: ["alpha"], modules: ["Tally"] }))));
secure.after(async () => t?.close());

secure("a weak secret off loopback is refused even over https: the example one, or one shorter than 16 bytes", async () => {
  const port = t.ports.alpha;
  t.writeConfig({}, t.configText({}, { listen: { alpha: `0.0.0.0:${port}` } }).replace(TLS_SECRET, "change-me"));
  const example = await t.cli(["daemon", "--node", "alpha"]);
  assert.is(example.code, 2, example.stderr);
  assert.match(example.stderr, new RegExp(`^ferry: Refusing to serve node "alpha" on 0\\.0\\.0\\.0:${port} with the example secret "change-me" \\(set a secret of at least 16 bytes in cluster\\.secret or FERRY_SECRET.*cluster\\.insecure: true to allow it\\)\\n$`));
  const short = await t.cli(["daemon", "--node", "alpha"], t.file, { FERRY_SECRET: "hunter2" });
  assert.is(short.code, 2, short.stderr);
  assert.match(short.stderr, `ferry: Refusing to serve node "alpha" on 0.0.0.0:${port} with a secret of 7 bytes`);
});

secure("over https with a strong secret it listens on 0.0.0.0 and is reached at 127.0.0.1 with the cluster CA", async () => {
  t.writeConfig({}, t.configText({}, { listen: { alpha: `0.0.0.0:${t.ports.alpha}` } }));
  await t.start("alpha");
  assert.match(t.logs.alpha ?? "", `listening on ${t.url("alpha")} (bound to 0.0.0.0:${t.ports.alpha})`);
  const status = await t.cli(["status"]);
  assert.is(status.code, 0, status.stderr);
  await t.stop("alpha");
});

secure("an https:// URL without tls files is a config error at its line and column", async () => {
  t.writeConfig({}, `cluster:\n  name: t\n  secret: ${TLS_SECRET}\nnodes:\n  alpha:\n    url: "https://127.0.0.1:${t.ports.alpha}"\n`);
  const validate = await t.cli(["validate"]);
  assert.is(validate.code, 2, validate.stderr);
  assert.match(validate.stdout + validate.stderr, `cluster.yaml:6:10: Node "alpha" has an https:// URL but no "tls"`);
  const daemon = await t.cli(["daemon", "--node", "alpha"]);
  assert.is(daemon.code, 2, daemon.stderr);
  assert.match(daemon.stderr, /^ferry: .*cluster\.yaml:6:10: Node "alpha" has an https:\/\/ URL but no "tls"/);
});

secure("a certificate file that cannot be read stops the start with one line naming it", async () => {
  t.writeConfig({}, t.configText({}).replace(/cert: certs\/server\.pem/, "cert: certs/missing.pem"));
  const r = await t.cli(["daemon", "--node", "alpha"]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^ferry: Cannot read the TLS certificate "certs\/missing\.pem" of node "alpha" \(ENOENT at .*certs\/missing\.pem\) \(nodes\.alpha\.tls\.cert names a PEM file relative to cluster\.yaml\)\n$/);
});

secure.run();
