// loadClusterTarget(): what the read-only commands and `call` can still read of a broken
// cluster.yaml (the daemons keep running the last good config meanwhile).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadClusterTarget } from "../../daemon/config/load.ts";
import { ConfigError } from "../../daemon/errors.ts";
import { rejection } from "../helpers/assert.ts";

let dir = "";
let file = "";

const good = `cluster:
  name: demo
  secret: from-file
nodes:
  alpha: { url: http://127.0.0.1:7101 }
  beta: { url: http://127.0.0.1:7102, runtime: deno }
processes:
  counter:
    module: Counter
    node: alpha
  sorter: { module: Counter, node: beta }
`;

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-target-"));
  file = join(dir, "cluster.yaml");
  await mkdir(join(dir, "processes"));
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await writeFile(join(dir, "processes", "Counter.ts"), "export default class Counter { constructor(args: string[]) {} async run() {} }\n");
});

test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

const nodes = {
  alpha: { url: "http://127.0.0.1:7101", runtime: "node" },
  beta: { url: "http://127.0.0.1:7102", runtime: "deno" },
};

test("loadClusterTarget() of a valid file carries the loaded config and no error", async () => {
  await writeFile(file, good);
  const target = await loadClusterTarget(file, {});
  assert.is(target.error, null);
  assert.ok(target.loaded);
  assert.is(target.loaded.config.processes.counter?.node, "alpha");
  assert.equal(target.nodes, nodes);
  assert.is(target.secret, "from-file");
  assert.is(target.name, "demo");
  assert.equal(target.processes, ["counter", "sorter"]);
  assert.is(target.file, file);
});

test("loadClusterTarget() reads nodes and secret past a YAML syntax error elsewhere in the file", async () => {
  await writeFile(file, good.replace("    node: alpha", "   node: alpha"));
  const target = await loadClusterTarget(file, {});
  assert.is(target.loaded, null);
  assert.ok(target.error);
  assert.is(target.error.code, "config_invalid");
  assert.is(target.error.issues[0]?.line, 10);
  assert.equal(target.nodes, nodes);
  assert.is(target.secret, "from-file");
  assert.is(target.name, "demo");
  // As the parser recovered it: the mis-indented line became an entry of its own.
  assert.equal(target.processes, ["counter", "node", "sorter"]);
});

test("loadClusterTarget() reads nodes and secret of a file with a schema error", async () => {
  await writeFile(file, good.replace("  secret: from-file", "  secret: from-file\n  colour: blue"));
  const target = await loadClusterTarget(file, {});
  assert.is(target.loaded, null);
  assert.match(target.error?.message ?? "", /cluster\.yaml:4:3: Unknown field "colour"/);
  assert.equal(target.nodes, nodes);
  assert.is(target.secret, "from-file");
});

test("loadClusterTarget() reads nodes and secret of a file naming an unknown module", async () => {
  await writeFile(file, good.replace("sorter: { module: Counter", "sorter: { module: Nope"));
  const target = await loadClusterTarget(file, {});
  assert.is(target.loaded, null);
  assert.match(target.error?.message ?? "", /Unknown module "Nope"/);
  assert.equal(target.nodes, nodes);
  assert.equal(target.processes, ["counter", "sorter"]);
});

test("loadClusterTarget() leaves out a node whose URL does not fit and keeps the others", async () => {
  await writeFile(file, good.replace("http://127.0.0.1:7102", "ftp://127.0.0.1:7102"));
  const target = await loadClusterTarget(file, {});
  assert.ok(target.error);
  assert.equal(target.nodes, { alpha: nodes.alpha });
});

test("loadClusterTarget() takes FERRY_SECRET over the secret of a broken file, or in its absence", async () => {
  await writeFile(file, good.replace("  secret: from-file\n", "").replace("module: Counter", "module: Nope"));
  const target = await loadClusterTarget(file, { FERRY_SECRET: "from-env" });
  assert.ok(target.error);
  assert.is(target.secret, "from-env");
});

test("loadClusterTarget() fails with the config error when no node can be read", async () => {
  await writeFile(file, "cluster:\n  name: demo\n  secret: s\nprocesses: {}\n");
  const missing = await rejection(loadClusterTarget(file, {}));
  assert.is(missing.code, "config_invalid");
  assert.match(missing.message, /cluster\.yaml:1:1: .*"nodes"/);

  await writeFile(file, "cluster:\n  name: demo\n  secret: s\nnodes: [\n");
  const unreadable = await rejection(loadClusterTarget(file, {}));
  assert.is(unreadable.code, "config_invalid");
  assert.ok(unreadable instanceof ConfigError && unreadable.issues.length > 0);
});

test("loadClusterTarget() fails with the config error when a broken file has no secret and FERRY_SECRET is unset", async () => {
  await writeFile(file, good.replace("  secret: from-file\n", ""));
  const error = await rejection(loadClusterTarget(file, { FERRY_SECRET: "" }));
  assert.is(error.code, "config_invalid");
  assert.match(error.message, /secret/);
});

test("loadClusterTarget() reports a missing file as config_not_found", async () => {
  const error = await rejection(loadClusterTarget(join(dir, "nope.yaml"), {}));
  assert.is(error.code, "config_not_found");
});

test.run();
