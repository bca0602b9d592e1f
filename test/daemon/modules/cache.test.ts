import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ferryInstallRoot, ModuleCache } from "../../../daemon/modules/cache.ts";
import { hashBundle, shortHash } from "../../../daemon/modules/hash.ts";
import { ModuleRegistry } from "../../../daemon/modules/registry.ts";
import { loadProcessClass } from "../../../daemon/modules/inspect.ts";
import type { ModuleBundle } from "../../../daemon/modules/bundle.ts";
import { rejection } from "../../helpers/assert.ts";

let dir = "";
let cacheDir = "";

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-cache-"));
  cacheDir = join(dir, "data", "modules");
});

test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

function bundleOf(module: string, files: Record<string, string>): ModuleBundle {
  const entry = `${module}.ts`;
  return { module, entry, files, hash: hashBundle(entry, files), external: [] };
}

const greeter = bundleOf("Greeter", {
  "Greeter.ts": `import { greet } from "./lib/greet.ts";\nimport { word } from "./lib/word.ts";\nexport default class Greeter { hello() { return greet(word); } }\n`,
  "lib/greet.ts": "export const greet = (w: string) => `hello ${w}`;\n",
  "lib/word.ts": `export const word = "world";\n`,
});

/** Everything under the cache folder, or [] when it was never created. */
const cacheContents = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);

test("put() stores a verified bundle that loads, and get() finds it again", async () => {
  const cache = new ModuleCache(cacheDir, ferryInstallRoot());
  const stored = await cache.put(structuredClone(greeter), greeter.hash, "alpha");
  assert.equal(stored, greeter);
  assert.equal(cacheContents(), [greeter.hash]);
  const Greeter = await loadProcessClass(cache.entryFile(stored), stored.hash);
  assert.is((new Greeter([]) as { hello(): string }).hello(), "hello world");
  assert.equal(await new ModuleCache(cacheDir, ferryInstallRoot()).get(greeter.hash), greeter);
});

test("a tampered bundle is refused, naming the peer and both hashes, and nothing is written", async () => {
  const cache = new ModuleCache(cacheDir, ferryInstallRoot());
  const tampered = { ...greeter, files: { ...greeter.files, "lib/word.ts": `export const word = "mallory";\n` } };
  const error = await rejection(cache.put(tampered, greeter.hash, "alpha"));
  assert.is(error.code, "module_invalid");
  assert.match(error.message, `node "alpha"`);
  assert.match(error.message, shortHash(greeter.hash));
  assert.match(error.message, shortHash(hashBundle(tampered.entry, tampered.files)));
  assert.equal(cacheContents(), []);
  assert.is(await cache.get(greeter.hash), undefined);
});

test("a bundle with a file outside its folder is refused and nothing is written anywhere", async () => {
  const cache = new ModuleCache(cacheDir, ferryInstallRoot());
  const files = { "Evil.ts": "export default class Evil {}\n", "../../escaped.ts": "boom\n" };
  const error = await rejection(cache.put(bundleOf("Evil", files), hashBundle("Evil.ts", files), "alpha"));
  assert.is(error.code, "module_invalid");
  assert.match(error.message, `"../../escaped.ts"`);
  assert.equal(cacheContents(), []);
  assert.not.ok(existsSync(join(dir, "escaped.ts")));
});

test("a bundle importing what this install lacks is refused before anything is written", async () => {
  const cache = new ModuleCache(cacheDir, ferryInstallRoot());
  const lacking = bundleOf("Lacking", { "Lacking.ts": `import "../daemon/no-such-room/mod.ts";\nexport default class Lacking {}\n` });
  const error = await rejection(cache.put(lacking, lacking.hash, "alpha"));
  assert.is(error.code, "module_invalid");
  assert.match(error.message, `imports "../daemon/no-such-room/mod.ts", which this node's install`);
  const incomplete = bundleOf("Incomplete", { "Incomplete.ts": `import "./lib/missing.ts";\nexport default class Incomplete {}\n` });
  assert.match((await rejection(cache.put(incomplete, incomplete.hash, "alpha"))).message, `imports "./lib/missing.ts", which the bundle lacks`);
  assert.equal(cacheContents(), []);
});

test("concurrent puts of one version write it once", async () => {
  const cache = new ModuleCache(cacheDir, ferryInstallRoot());
  const results = await Promise.all([1, 2, 3].map(() => cache.put(structuredClone(greeter), greeter.hash, "alpha")));
  assert.ok(results.every((r) => r.hash === greeter.hash));
  assert.equal(cacheContents(), [greeter.hash]);
});

test("a crash in the middle of writing a version leaves no usable half of it; the next write cleans up", async () => {
  const bundleFile = join(dir, "bundle.json");
  writeFileSync(bundleFile, JSON.stringify(greeter));
  // Dies after the entry and one helper are on disk, before the rest.
  const exit = await runChild([cacheDir, bundleFile, greeter.hash, "2"]);
  assert.equal(exit.signal ?? exit.code, "SIGKILL", `the writer was not killed mid-write: ${JSON.stringify(exit)}`);
  const left = cacheContents();
  assert.is(left.length, 1);
  assert.match(left[0]!, /^\.tmp-/, `a crash left ${left[0]} behind`);
  // Deno keeps the sources, Node their compiled JavaScript.
  const entry = "Deno" in globalThis ? join("files", "Greeter.ts") : join("node", "Greeter.js");
  assert.ok(existsSync(join(cacheDir, left[0]!, entry)), "the crash came before any write");

  const fetches: string[] = [];
  const registry = new ModuleRegistry({
    processesDir: join(dir, "processes"),
    cacheDir,
    installRoot: ferryInstallRoot(),
    fetchBundle: async (hash) => {
      fetches.push(hash);
      return { peer: "alpha", bundle: structuredClone(greeter) };
    },
  });
  assert.is(await registry.bundleByHash(greeter.hash), undefined, "the half-written version is served");
  const { path, version } = await registry.resolve("Greeter", greeter.hash);
  assert.equal(fetches, [greeter.hash], "the half-written version was taken for a cached one");
  const Greeter = await loadProcessClass(path, version);
  assert.is((new Greeter([]) as { hello(): string }).hello(), "hello world");
  assert.equal(cacheContents(), [greeter.hash]);
});

test("a damaged cached version is dropped and fetched again", async () => {
  const cache = new ModuleCache(cacheDir, ferryInstallRoot());
  await cache.put(structuredClone(greeter), greeter.hash, "alpha");
  writeFileSync(join(cacheDir, greeter.hash, "bundle.json"), "{ not json");
  const reopened = new ModuleCache(cacheDir, ferryInstallRoot());
  assert.is(await reopened.get(greeter.hash), undefined);
  assert.equal(await reopened.put(structuredClone(greeter), greeter.hash, "alpha"), greeter);
  assert.equal(await new ModuleCache(cacheDir, ferryInstallRoot()).get(greeter.hash), greeter);
});

/** Runs crash-writer.ts on this test's runtime; resolves with how it ended. */
function runChild(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const script = fileURLToPath(new URL("./crash-writer.ts", import.meta.url));
  const isDeno = "Deno" in globalThis;
  const argv = isDeno ? ["run", "-A", script, ...args] : ["--import", "tsx", script, ...args];
  mkdirSync(cacheDir, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ferryInstallRoot(), stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

test.run();
