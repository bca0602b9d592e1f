/**
 * Upkeep of `ferry validate`'s cache of compiled modules (see check.ts): one folder per module
 * version, install and compiler, which would otherwise only grow — every edit of a module, every
 * checkout of a project in another place and every upgrade of Ferry adds folders. A folder's
 * modification time says when a run last used it; pruning keeps the most recently used ones and
 * drops those unused for long, after a run added a folder.
 *
 * @example
 * ```ts
 * await markUsed("/home/me/.cache/ferry/compiled/3f2a…");
 * await pruneCompiledCache("/home/me/.cache/ferry/compiled"); // [] when nothing was old
 * ```
 * @module
 */
import { readdir, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";

/** How much of the cache is kept. */
export interface PruneOptions {
  /** The most recently used folders kept. @default 256 */
  maxEntries?: number;
  /** A folder unused for longer goes. @default 30 days */
  maxAgeMs?: number;
  /** The clock, for tests. @default Date.now() */
  now?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A folder used this recently is kept whatever the limits say: a run may be importing it. */
const IN_USE_MS = 60 * 1000;
/** A half-written folder (`.tmp-…`) this old belongs to a run that died. */
const ABANDONED_MS = 60 * 60 * 1000;

/**
 * Records that `folder` was used now (its modification time), so that pruning keeps it.
 *
 * @example
 * ```ts
 * await markUsed(join(cacheDir, key));
 * ```
 */
export async function markUsed(folder: string): Promise<void> {
  const now = new Date();
  await utimes(folder, now, now);
}

/**
 * Removes the cache's folders beyond the `maxEntries` most recently used, those unused for more
 * than `maxAgeMs`, and half-written ones left by a run that died. Returns the names removed. A
 * folder that cannot be read or removed is left; a cache folder that does not exist is empty.
 *
 * @example
 * ```ts
 * const removed = await pruneCompiledCache(cacheDir, { maxEntries: 256 });
 * ```
 */
export async function pruneCompiledCache(cacheDir: string, options: PruneOptions = {}): Promise<string[]> {
  const maxEntries = options.maxEntries ?? 256;
  const maxAgeMs = options.maxAgeMs ?? 30 * DAY_MS;
  const now = options.now ?? Date.now();
  let names: string[];
  try {
    names = await readdir(cacheDir);
  } catch {
    return [];
  }
  const entries: { name: string; usedAt: number }[] = [];
  const removed: string[] = [];
  for (const name of names) {
    const usedAt = await stat(join(cacheDir, name)).then((s) => s.mtimeMs, () => undefined);
    if (usedAt === undefined) continue;
    if (name.startsWith(".tmp-")) {
      if (now - usedAt > ABANDONED_MS && (await remove(cacheDir, name))) removed.push(name);
      continue;
    }
    entries.push({ name, usedAt });
  }
  entries.sort((a, b) => b.usedAt - a.usedAt);
  for (const [rank, { name, usedAt }] of entries.entries()) {
    const unwanted = rank >= maxEntries || now - usedAt > maxAgeMs;
    if (unwanted && now - usedAt > IN_USE_MS && (await remove(cacheDir, name))) removed.push(name);
  }
  return removed;
}

async function remove(cacheDir: string, name: string): Promise<boolean> {
  return await rm(join(cacheDir, name), { recursive: true, force: true }).then(() => true, () => false);
}
