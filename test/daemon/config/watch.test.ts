import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigWatcher } from "../../../daemon/config/watch.ts";
import type { LoadedConfig } from "../../../daemon/config/load.ts";
import { ConfigError, type FerryError } from "../../../daemon/errors.ts";

let dir = "";
let file = "";
let watcher: ConfigWatcher | undefined;
let changes: LoadedConfig[] = [];
let errors: (ConfigError | FerryError)[] = [];

function config(processes: string): string {
  return `cluster: { name: demo, secret: s }
nodes:
  alpha: { url: http://127.0.0.1:7101 }
  beta: { url: http://127.0.0.1:7102 }
processes:
${processes}`;
}

const initial = config("  counter: { module: Counter, node: alpha }\n");

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-watch-"));
  file = join(dir, "cluster.yaml");
  await mkdir(join(dir, "processes"));
  await writeFile(join(dir, "processes", "Counter.ts"), "export default class Counter {}\n");
  await writeFile(file, initial);
  changes = [];
  errors = [];
});

test.after.each(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function startWatcher(): Promise<ConfigWatcher> {
  watcher = new ConfigWatcher(file, {
    onChange: (loaded) => changes.push(loaded),
    onError: (err) => errors.push(err),
    env: {},
  });
  await watcher.start();
  return watcher;
}

/** Polls `condition` until it holds; a generous deadline keeps a loaded machine from flaking. */
async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("ConfigWatcher.start() returns the loaded config and current holds it", async () => {
  const w = await startWatcher();
  assert.equal(Object.keys(w.current.config.processes), ["counter"]);
  assert.is(w.current.file, file);
  assert.is(w.current.processesDir, join(dir, "processes"));
  assert.is(w.current.text, initial);
});

test("ConfigWatcher.start() throws when the initial config is invalid", async () => {
  await writeFile(file, config("  counter: { module: Counter, node: gamma }\n"));
  watcher = new ConfigWatcher(file, { onChange: () => {}, onError: () => {}, env: {} });
  try {
    await watcher.start();
    assert.unreachable("start() resolved");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.message.includes('Unknown node "gamma"'), error.message);
  }
});

test("ConfigWatcher calls onChange soon after an edit", async () => {
  const w = await startWatcher();
  const t0 = Date.now();
  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  await until(() => changes.length === 1, "onChange");
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  assert.is(changes[0]?.config.processes.counter?.node, "beta");
  assert.is(w.current, changes[0]);
  assert.equal(errors, []);
});

test("ConfigWatcher reports an invalid edit and keeps the last good config", async () => {
  const w = await startWatcher();
  const good = w.current;
  await writeFile(file, config("  counter: { module: Counter, node: gamma }\n"));
  await until(() => errors.length > 0, "onError");
  const error = errors[0];
  assert.ok(error instanceof ConfigError);
  assert.equal([error.issues[0]?.line, error.issues[0]?.col], [6, 37]);
  assert.is(w.current, good);
  assert.equal(changes, []);

  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  await until(() => changes.length === 1, "onChange after the fix");
  assert.is(w.current.config.processes.counter?.node, "beta");
});

test("ConfigWatcher does not call onChange when the text is rewritten unchanged", async () => {
  await startWatcher();
  await writeFile(file, initial);
  await sleep(150);
  assert.equal(changes, []);
  // A real edit afterwards proves the watcher was listening all along.
  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  await until(() => changes.length === 1, "onChange");
  await sleep(50);
  assert.is(changes.length, 1);
  assert.equal(errors, []);
});

test("ConfigWatcher follows editors that save by writing a new file and renaming it", async () => {
  await startWatcher();
  const temp = join(dir, ".cluster.yaml.swp");
  await writeFile(temp, config("  counter: { module: Counter, node: beta }\n"));
  await rename(temp, file);
  await until(() => changes.length === 1, "onChange");
  assert.is(changes[0]?.config.processes.counter?.node, "beta");
  assert.equal(errors, []);
});

test("ConfigWatcher re-validates when a module file is added to the processes folder", async () => {
  const w = await startWatcher();
  await writeFile(file, config("  counter: { module: Counter, node: alpha }\n  sorter: { module: Sorter, node: beta }\n"));
  await until(() => errors.length > 0, "onError for the unknown module");
  assert.ok(errors[0]?.message.includes('Unknown module "Sorter"'), errors[0]?.message);

  await writeFile(join(dir, "processes", "Sorter.ts"), "export default class Sorter {}\n");
  await until(() => changes.length === 1, "onChange once the module exists");
  assert.ok(w.current.modules.has("Sorter"));
});

test("ConfigWatcher reports a deleted file and recovers when it comes back", async () => {
  const w = await startWatcher();
  const good = w.current;
  await unlink(file);
  await until(() => errors.length > 0, "onError for the missing file", 4000);
  assert.is(errors[0]?.code, "config_not_found");
  assert.is(w.current, good);
  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  await until(() => changes.length === 1, "onChange after the file returns");
});

test("ConfigWatcher.reload() re-reads now and returns undefined for an invalid file", async () => {
  const w = await startWatcher();
  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  const loaded = await w.reload();
  assert.is(loaded?.config.processes.counter?.node, "beta");
  assert.is(w.current.text, loaded?.text);

  await writeFile(file, "cluster: [\n");
  assert.is(await w.reload(), undefined);
  assert.ok(errors.length > 0);
  assert.ok(errors[0] instanceof ConfigError);
  assert.is(w.current.config.processes.counter?.node, "beta");
});

test("ConfigWatcher ends on the last of several quick edits", async () => {
  const w = await startWatcher();
  const edit = (i: number, node: string) => config(`  counter: { module: Counter, node: ${node} } # edit ${i}\n`);
  const nodes = ["beta", "alpha", "beta", "alpha", "beta"];
  for (const [i, node] of nodes.entries()) await writeFile(file, edit(i, node));
  const last = edit(nodes.length - 1, "beta");
  await until(() => w.current.text === last, "the last edit");
  await sleep(120);
  assert.is(w.current.text, last);
  assert.is(changes.at(-1)?.text, last);
});

test("ConfigWatcher.close() is idempotent and stops reporting", async () => {
  const w = await startWatcher();
  const first = w.close();
  assert.is(w.close(), first);
  await first;
  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  assert.is(await w.reload(), undefined);
  await sleep(100);
  assert.equal(changes, []);
  assert.equal(errors, []);
});

test("ConfigWatcher closes when its signal aborts", async () => {
  const controller = new AbortController();
  watcher = new ConfigWatcher(file, { onChange: (l) => changes.push(l), onError: (e) => errors.push(e), env: {}, signal: controller.signal });
  await watcher.start();
  controller.abort();
  await watcher.close();
  await writeFile(file, config("  counter: { module: Counter, node: beta }\n"));
  await sleep(100);
  assert.equal(changes, []);
});

test.run();
