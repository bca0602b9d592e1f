import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { markUsed, pruneCompiledCache } from "../../../daemon/modules/compiled-cache.ts";

const DAY = 24 * 60 * 60 * 1000;
let cache = "";

test.before.each(async () => {
  cache = await mkdtemp(join(tmpdir(), "ferry-compiled-"));
});
test.after.each(async () => {
  await rm(cache, { recursive: true, force: true });
});

/** A cache folder with one file, last used `ageMs` ago. */
async function folder(name: string, ageMs: number): Promise<void> {
  await mkdir(join(cache, name));
  await writeFile(join(cache, name, "Mod.js"), "export default class Mod {}\n");
  const at = new Date(Date.now() - ageMs);
  await utimes(join(cache, name), at, at);
}

const kept = async () => (await readdir(cache)).sort();

test("pruning keeps the most recently used folders up to the limit", async () => {
  for (const [i, name] of ["a", "b", "c", "d", "e"].entries()) await folder(name, (i + 1) * 60 * 60 * 1000);
  assert.equal((await pruneCompiledCache(cache, { maxEntries: 3 })).sort(), ["d", "e"]);
  assert.equal(await kept(), ["a", "b", "c"]);
});

test("pruning drops folders unused for longer than the age limit, and half-written ones of a run that died", async () => {
  await folder("fresh", DAY);
  await folder("stale", 31 * DAY);
  await folder(".tmp-died", 2 * 60 * 60 * 1000);
  await folder(".tmp-writing", 1000);
  assert.equal((await pruneCompiledCache(cache)).sort(), [".tmp-died", "stale"]);
  assert.equal(await kept(), [".tmp-writing", "fresh"]);
});

test("a folder used within the last minute is kept whatever the limits, since a run may be importing it", async () => {
  await folder("old", 40 * DAY);
  await folder("busy", 40 * DAY);
  await markUsed(join(cache, "busy"));
  assert.ok(Date.now() - (await stat(join(cache, "busy"))).mtimeMs < 5000, "markUsed sets the time of use");
  assert.equal(await pruneCompiledCache(cache, { maxEntries: 0 }), ["old"]);
  assert.equal(await kept(), ["busy"]);
});

test("a cache folder that does not exist has nothing to prune", async () => {
  assert.equal(await pruneCompiledCache(join(cache, "missing")), []);
});

test.run();
