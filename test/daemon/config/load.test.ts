import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { loadClusterConfig } from "../../../daemon/config/load.ts";
import { ConfigError, isFerryError } from "../../../daemon/errors.ts";

let dir = "";

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-load-"));
});

test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = `cluster:
  name: demo
  secret: from-file
  processesDir: procs
  dataDir: /var/lib/ferry
nodes:
  alpha: { url: http://127.0.0.1:7101 }
processes:
  counter: { module: Counter, node: alpha, args: [data/in.txt] }
`;

test("loadClusterConfig() resolves paths against the config's directory", async () => {
  await mkdir(join(dir, "procs"));
  await writeFile(join(dir, "procs", "Counter.ts"), "export default class Counter {}\n");
  await writeFile(join(dir, "cluster.yaml"), text);
  const loaded = await loadClusterConfig(relative(process.cwd(), join(dir, "cluster.yaml")), {});
  assert.is(loaded.file, join(dir, "cluster.yaml"));
  assert.is(loaded.dir, dir);
  assert.is(loaded.processesDir, join(dir, "procs"));
  assert.is(loaded.dataDir, "/var/lib/ferry");
  assert.is(loaded.secret, "from-file");
  assert.is(loaded.text, text);
  assert.equal([...loaded.modules], [["Counter", join(dir, "procs", "Counter.ts")]]);
});

test("loadClusterConfig() lets FERRY_SECRET override the file's secret", async () => {
  await mkdir(join(dir, "procs"));
  await writeFile(join(dir, "procs", "Counter.js"), "export default class Counter {}\n");
  await writeFile(join(dir, "cluster.yaml"), text);
  const loaded = await loadClusterConfig(join(dir, "cluster.yaml"), { FERRY_SECRET: "from-env" });
  assert.is(loaded.secret, "from-env");
  assert.is(loaded.config.cluster.secret, "from-file");
});

test("loadClusterConfig() checks modules against the processes folder, labelled with the path as given", async () => {
  await writeFile(join(dir, "cluster.yaml"), text);
  const given = join(dir, "cluster.yaml");
  try {
    await loadClusterConfig(given, {});
    assert.unreachable("loaded");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.issues.map((i) => [i.file, i.line, i.col, i.message]), [[given, 9, 22, 'Unknown module "Counter" for process "counter"']]);
    assert.is(error.issues[0]?.hint, "No procs/Counter.ts or .js; known modules: none");
  }
});

test("loadClusterConfig() reports a missing file as config_not_found", async () => {
  try {
    await loadClusterConfig(join(dir, "nope.yaml"), {});
    assert.unreachable("loaded");
  } catch (error) {
    assert.ok(isFerryError(error));
    assert.is(error.code, "config_not_found");
    assert.is(error.message, `Cannot read config "${join(dir, "nope.yaml")}"`);
    assert.is(error.hint, "Pass --config <file> or set FERRY_CONFIG");
  }
});

test("loadClusterConfig() answers the config it read before while neither the text nor the modules changed", async () => {
  await mkdir(join(dir, "procs"));
  await writeFile(join(dir, "procs", "Counter.ts"), "export default class Counter {}\n");
  await writeFile(join(dir, "cluster.yaml"), text);
  const file = join(dir, "cluster.yaml");
  const first = await loadClusterConfig(file, {});
  assert.is(await loadClusterConfig(file, {}, first), first);
  // Another secret in the environment, a new module, an edit: each is read afresh.
  assert.is.not(await loadClusterConfig(file, { FERRY_SECRET: "other" }, first), first);
  await writeFile(join(dir, "procs", "Other.ts"), "export default class Other {}\n");
  const withOther = await loadClusterConfig(file, {}, first);
  assert.is.not(withOther, first);
  assert.ok(withOther.modules.has("Other"));
  await writeFile(file, text.replace("demo", "renamed"));
  assert.is((await loadClusterConfig(file, {}, withOther)).config.cluster.name, "renamed");
});

test.run();
