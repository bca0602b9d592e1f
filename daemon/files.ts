/**
 * The file reads a command makes on its way to the cluster (cluster.yaml, the processes folder,
 * the cluster CA, package.json), through each runtime's own API. On Deno, `node:fs` takes every
 * command some 10 ms to load and its own file API nothing; on Node, `node:fs` is built in and is
 * taken as it is. Errors carry the same `code` on both (`ENOENT`, `ENOTDIR`, ...).
 *
 * @example
 * ```ts
 * const text = await readTextFile("/srv/ferry/cluster.yaml");
 * for (const entry of await readDirEntries("/srv/ferry/processes")) if (entry.isFile) console.log(entry.name);
 * ```
 * @module
 */
import process from "node:process";

/** What this module uses of Deno's API. */
interface DenoFiles {
  readTextFile(path: string): Promise<string>;
  readTextFileSync(path: string): string;
  readDir(path: string): AsyncIterable<{ name: string; isFile: boolean; isSymlink: boolean }>;
  stat(path: string): Promise<{ isFile: boolean }>;
}

const deno = (globalThis as { Deno?: DenoFiles }).Deno;

/** One entry of a folder; a symbolic link is neither a file nor anything else here. */
export interface DirEntry {
  name: string;
  isFile: boolean;
  isSymlink: boolean;
}

/**
 * A file's text (UTF-8).
 *
 * @example
 * ```ts
 * const pem = await readTextFile(caFile);
 * ```
 */
export function readTextFile(path: string): Promise<string> {
  return deno ? deno.readTextFile(path) : process.getBuiltinModule("node:fs/promises").readFile(path, "utf8");
}

/**
 * A file's text (UTF-8), read synchronously.
 *
 * @example
 * ```ts
 * const pkg = JSON.parse(readTextFileSync(join(installRoot, "package.json")));
 * ```
 */
export function readTextFileSync(path: string): string {
  return deno ? deno.readTextFileSync(path) : process.getBuiltinModule("node:fs").readFileSync(path, "utf8");
}

/**
 * The entries of a folder, in the order the system lists them.
 *
 * @example
 * ```ts
 * const names = (await readDirEntries("processes")).map((e) => e.name);
 * ```
 */
export async function readDirEntries(path: string): Promise<DirEntry[]> {
  if (deno) {
    const entries: DirEntry[] = [];
    for await (const { name, isFile, isSymlink } of deno.readDir(path)) entries.push({ name, isFile, isSymlink });
    return entries;
  }
  const entries = await process.getBuiltinModule("node:fs/promises").readdir(path, { withFileTypes: true });
  return entries.map((e) => ({ name: e.name, isFile: e.isFile(), isSymlink: e.isSymbolicLink() }));
}

/**
 * Whether `path` is a file, following symbolic links; false when it cannot be read.
 *
 * @example
 * ```ts
 * if (await isFile(linked)) modules.push(linked);
 * ```
 */
export async function isFile(path: string): Promise<boolean> {
  try {
    return deno ? (await deno.stat(path)).isFile : (await process.getBuiltinModule("node:fs/promises").stat(path)).isFile();
  } catch {
    return false;
  }
}
