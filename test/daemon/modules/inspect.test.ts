import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callableMethods, listModules, loadProcessClass, type ProcessClass } from "../../../daemon/modules/inspect.ts";
import { checkModules } from "../../../daemon/modules/check.ts";
import { isFerryError } from "../../../daemon/errors.ts";

let dir = "";

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-inspect-"));
  // Without it the files would load as CommonJS, which caches by path and ignores `?v=`.
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
});

test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The FerryError a promise rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
    assert.not.ok(error.message.includes("\n"), `message is not one line: ${error.message}`);
    return error;
  }
  assert.unreachable("promise resolved");
  throw new Error("unreachable");
}

test("listModules() lists module files by name, preferring .ts and skipping the rest", async () => {
  await put("Counter.ts", "export default class Counter {}\n");
  await put("Counter.js", "export default class Counter {}\n");
  await put("Sorter.js", "export default class Sorter {}\n");
  await put("Legacy.mjs", "export default class Legacy {}\n");
  await put("types.d.ts", "export type X = 1;\n");
  await put("Counter.test.ts", "\n");
  await put(".Hidden.ts", "\n");
  await put("notes.txt", "\n");
  await mkdir(join(dir, "Nested.ts"));
  const modules = await listModules(dir);
  assert.equal([...modules.keys()], ["Counter", "Legacy", "Sorter"]);
  assert.is(modules.get("Counter"), join(dir, "Counter.ts"));
  assert.is(modules.get("Sorter"), join(dir, "Sorter.js"));
});

test("listModules() finds nothing in a missing folder", async () => {
  assert.is((await listModules(join(dir, "nope"))).size, 0);
});

test("loadProcessClass() returns the default-exported class", async () => {
  const path = await put("Counter.ts", "export default class Counter {\n  constructor(public args: string[]) {}\n}\n");
  const Counter = await loadProcessClass(path, 1);
  assert.equal({ ...new Counter(["a"]) }, { args: ["a"] });
});

test("loadProcessClass() accepts a plain constructor function", async () => {
  const path = await put("Old.js", "export default function Old(args) { this.args = args; }\n");
  const Old = await loadProcessClass(path, 1);
  assert.equal({ ...new Old(["x"]) }, { args: ["x"] });
});

test("loadProcessClass() reports a syntax error with file, line and column", async () => {
  const path = await put("Broken.ts", "export default class Broken {\n  count = ;\n}\n");
  const error = await rejection(loadProcessClass(path, 1));
  assert.is(error.code, "module_invalid");
  assert.ok(error.message.includes(`Cannot load module "Broken" at ${path}:2:11`), error.message);
});

test("loadProcessClass() reports an error thrown while the module loads, with its position", async () => {
  const path = await put("Throws.ts", "const a = 1;\nmissing(a);\nexport default class Throws {}\n");
  const error = await rejection(loadProcessClass(path, 1));
  assert.is(error.code, "module_invalid");
  assert.ok(error.message.includes(`${path}:2:`), error.message);
  assert.ok(error.message.includes("ReferenceError: missing is not defined"), error.message);
});

test("loadProcessClass() rejects a module without a default export", async () => {
  const path = await put("Named.ts", "export class Named {}\n");
  const error = await rejection(loadProcessClass(path, 1));
  assert.is(error.code, "module_invalid");
  assert.ok(error.message.startsWith('Module "Named"'), error.message);
  assert.ok(error.message.includes("has no default export"), error.message);
});

test("loadProcessClass() rejects a default export that is not a class", async () => {
  const arrow = await put("Arrow.ts", "export default (args: string[]) => args;\n");
  const object = await put("Plain.ts", "export default { run() {} };\n");
  const arrowError = await rejection(loadProcessClass(arrow, 1));
  assert.is(arrowError.code, "module_invalid");
  assert.ok(arrowError.message.includes('Default export of module "Arrow" is not a class, got a function that is not a class'), arrowError.message);
  const objectError = await rejection(loadProcessClass(object, 1));
  assert.ok(objectError.message.includes('Default export of module "Plain" is not a class, got an object'), objectError.message);
});

test("loadProcessClass() reports a missing file as module_not_found", async () => {
  const error = await rejection(loadProcessClass(join(dir, "Gone.ts"), 1));
  assert.is(error.code, "module_not_found");
});

test("loadProcessClass() loads an edited file as a new version", async () => {
  const path = await put("Counter.ts", "export default class Counter { step = 1; }\n");
  const v1 = await loadProcessClass(path, 1);
  await put("Counter.ts", "export default class Counter { step = 2; }\n");
  const sameVersion = await loadProcessClass(path, 1);
  const v2 = await loadProcessClass(path, 2);
  assert.is(sameVersion, v1);
  assert.is.not(v2, v1);
  assert.equal({ ...new v1([]) }, { step: 1 });
  assert.equal({ ...new v2([]) }, { step: 2 });
});

test("callableMethods() lists public methods along the prototype chain", () => {
  class Base {
    describe(): string {
      return "base";
    }
    run(): void {}
    suspend(): void {}
    resume(): void {}
    _internal(): void {}
  }
  class Counter extends Base {
    count = 0;
    constructor(_args: string[]) {
      super();
    }
    increment(): number {
      return ++this.count;
    }
    get doubled(): number {
      return this.count * 2;
    }
    override toString(): string {
      return "Counter";
    }
    _helper(): void {}
  }
  assert.equal(callableMethods(Counter), ["describe", "increment"]);
  assert.equal(callableMethods(class Empty {} as ProcessClass), []);
});

test("checkModules() reports every unusable module with a position", async () => {
  await put("Good.ts", "export default class Good {\n  async run() {}\n}\n");
  const broken = await put("Broken.ts", "export default class Broken {\n  run() {\n    return (;\n  }\n}\n");
  const named = await put("Named.ts", "export class Named {}\n");
  const idle = await put("Idle.ts", "export default class Idle {}\n");
  const issues = await checkModules(dir);
  assert.equal(
    issues.map((i) => [i.file, i.line, i.col]),
    [
      [broken, 3, 13],
      [idle, 1, 1],
      [named, 1, 1],
    ],
  );
  assert.ok(issues[0]?.message.startsWith('Cannot load module "Broken": '), issues[0]?.message);
  assert.ok(issues[1]?.message.includes("has no run(ctx) method"), issues[1]?.message);
  assert.ok(issues[2]?.message.includes("has no default export"), issues[2]?.message);
});

test("checkModules() sees the current content of an edited module", async () => {
  await put("Fixed.ts", "export class Fixed {}\n");
  assert.is((await checkModules(dir)).length, 1);
  await put("Fixed.ts", "export default class Fixed {\n  async run() {}\n}\n");
  assert.equal(await checkModules(dir), []);
});

test("checkModules() with a cache compiles a module once, and again once it is edited", async () => {
  const cacheDir = join(dir, "cache");
  await put("Kept.ts", "export default class Kept {\n  count: number = 0;\n  async run() {}\n}\n");
  assert.equal(await checkModules(dir, { cacheDir }), []);
  if ("Deno" in globalThis) {
    assert.not.ok(existsSync(cacheDir), "Deno imports the TypeScript itself: nothing is compiled, nothing is kept");
    return;
  }
  const compiled = (await readdir(cacheDir)).filter((f) => !f.startsWith("."));
  assert.is(compiled.length, 1, "one compiled version, no temporary folder left");
  // The next run takes the kept copy: spoil it, and the check sees the spoiled class.
  await writeFile(join(cacheDir, compiled[0]!, "Kept.js"), "export default class Kept {}\n");
  assert.ok((await checkModules(dir, { cacheDir }))[0]?.message.includes("has no run(ctx) method"));
  // An edit is another version: compiled afresh, beside the first.
  await put("Kept.ts", "export default class Kept {\n  count: number = 1;\n  async run() {}\n}\n");
  assert.equal(await checkModules(dir, { cacheDir }), []);
  assert.is((await readdir(cacheDir)).filter((f) => !f.startsWith(".")).length, 2);
});

test("checkModules() marks a cached module used, and a run that adds a version drops folders unused for 30 days", async () => {
  const cacheDir = join(dir, "cache");
  await put("Used.ts", "export default class Used {\n  async run() {}\n}\n");
  assert.equal(await checkModules(dir, { cacheDir }), []);
  if ("Deno" in globalThis) return assert.not.ok(existsSync(cacheDir), "nothing is compiled on Deno");
  const [used] = await readdir(cacheDir);
  const longAgo = new Date(Date.now() - 40 * 24 * 60 * 60 * 1000);
  await utimes(join(cacheDir, used!), longAgo, longAgo);
  await mkdir(join(cacheDir, "f".repeat(40)));
  await utimes(join(cacheDir, "f".repeat(40)), longAgo, longAgo);
  // A second module: compiled and kept, then the cache pruned. The first, found again, was marked used.
  await put("Added.ts", "export default class Added {\n  async run() {}\n}\n");
  assert.equal(await checkModules(dir, { cacheDir }), []);
  const left = await readdir(cacheDir);
  assert.is(left.length, 2, `kept: ${left.join(", ")}`);
  assert.ok(left.includes(used!), "the module used in this run was pruned");
  assert.not.ok(left.includes("f".repeat(40)), "the folder unused for 40 days was kept");
});

test("checkModules() whose cache cannot be written compiles into a scratch folder", async () => {
  const blocked = join(dir, "not-a-folder");
  await writeFile(blocked, "a file where the cache would go\n");
  await put("Plain.ts", "export default class Plain {\n  async run() {}\n}\n");
  assert.equal(await checkModules(dir, { cacheDir: join(blocked, "cache") }), []);
});

test.run();
