/**
 * A module as it travels between machines: its entry file plus every file under the processes
 * folder it imports (statically, by `export … from` or by a literal dynamic `import()`), followed
 * transitively, with a content hash that is the module version's id. Imports that leave the
 * processes folder (`../daemon/io/mod.ts`) and package imports (`ferry/sdk`) are not bundled: the
 * receiving node provides them from its own install, so they are only listed in `external`.
 *
 * @example
 * ```ts
 * const bundle = await bundleModule("processes", "AlphabetSorter");
 * bundle.entry; // "AlphabetSorter.ts"
 * bundle.external; // ["../daemon/io/mod.ts"]
 * ```
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ModuleBundle } from "../../schemas/api.schema.ts";
import { FerryError } from "../errors.ts";
import { hashBundle } from "./hash.ts";
import { listModules } from "./inspect.ts";
import { scanImports } from "./scan.ts";
import { findFile, isBundlePath, isRelativeSpecifier, leavesRoot, resolveRelative } from "./specifiers.ts";

export type { ModuleBundle };

/** More files than a process module plausibly needs: a wrong import, not a module. */
export const MAX_BUNDLE_FILES = 1000;
/** Total text of a bundle; it travels as one JSON answer. */
export const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;

/** A bundle read from disk, with what each file's `stat` said when it was read. */
export interface ReadBundle {
  bundle: ModuleBundle;
  /** Absolute path → `mtime:size:inode`: any change means the bundle must be read again. */
  stamps: Map<string, string>;
}

/**
 * The bundle of `module` in `processesDir`. Throws `module_not_found` when there is no such
 * module and `module_invalid` when a file it imports is missing or is not UTF-8 text.
 *
 * @example
 * ```ts
 * const { hash, files } = await bundleModule("/srv/ferry/processes", "Counter");
 * ```
 */
export async function bundleModule(processesDir: string, module: string): Promise<ModuleBundle> {
  const entry = (await listModules(processesDir)).get(module);
  if (!entry) {
    throw new FerryError("module_not_found", `Module "${module}" is not in "${resolve(processesDir)}"`, { hint: `add ${module}.ts there` });
  }
  return (await readBundle(processesDir, module, entry)).bundle;
}

/**
 * Reads the bundle of `module` whose entry file is `entryFile` (an absolute path directly in
 * `processesDir`, as `listModules` gives it), with the stamps of its files.
 *
 * @example
 * ```ts
 * const { bundle, stamps } = await readBundle(dir, "Counter", join(dir, "Counter.ts"));
 * ```
 */
export async function readBundle(processesDir: string, module: string, entryFile: string): Promise<ReadBundle> {
  const root = resolve(processesDir);
  const entry = entryFile.slice(root.length + 1);
  if (!isBundlePath(entry) || entry.includes("/")) {
    throw new FerryError("module_invalid", `Cannot bundle module "${module}": its file "${entryFile}" is not directly in "${root}" or its name cannot travel`, {
      hint: "name module files with letters, digits, dashes and underscores",
    });
  }
  const files: Record<string, string> = {};
  const stamps = new Map<string, string>();
  const external = new Set<string>();
  const queue = [entry];
  const seen = new Set(queue);
  let bytes = 0;
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    const file = join(root, path);
    const { text, stamp } = await readSource(module, path, file);
    stamps.set(file, stamp);
    files[path] = text;
    bytes += text.length;
    if (bytes > MAX_BUNDLE_BYTES || seen.size > MAX_BUNDLE_FILES) {
      throw new FerryError("module_invalid", `Cannot bundle module "${module}": its files under "${root}" exceed ${MAX_BUNDLE_FILES} files or ${MAX_BUNDLE_BYTES} bytes`, {
        hint: "import large data at run time instead of bundling it",
      });
    }
    for (const { specifier } of scanImports(text)) {
      if (!isRelativeSpecifier(specifier)) {
        if (!specifier.startsWith("node:")) external.add(specifier);
        continue;
      }
      const target = resolveRelative(path, specifier);
      if (leavesRoot(target)) {
        external.add(target);
        continue;
      }
      const found = await findFile(target, (p) => isFile(join(root, p)));
      if (found === undefined) {
        throw new FerryError("module_invalid", `Cannot bundle module "${module}": "${path}" imports "${specifier}", which is not a file in "${root}"`, {
          hint: "create that file or fix the import",
        });
      }
      if (!isBundlePath(found)) {
        throw new FerryError("module_invalid", `Cannot bundle module "${module}": "${path}" imports "${specifier}", whose file name "${found}" cannot travel`, {
          hint: "rename the file without backslashes or colons",
        });
      }
      if (!seen.has(found)) {
        seen.add(found);
        queue.push(found);
      }
    }
  }
  const bundle: ModuleBundle = { module, entry, files, hash: hashBundle(entry, files), external: [...external].sort() };
  return { bundle, stamps };
}

/** `mtime:size:inode`, taken before the read: a file changed meanwhile is read again next time. */
export function stampOf(stats: { mtimeMs: number; size: number; ino: number }): string {
  return `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
}

async function readSource(module: string, path: string, file: string): Promise<{ text: string; stamp: string }> {
  let stamp: string;
  let bytes: Uint8Array;
  try {
    stamp = stampOf(await stat(file));
    bytes = await readFile(file);
  } catch (cause) {
    throw new FerryError("module_not_found", `Cannot bundle module "${module}": cannot read "${file}"`, { hint: "was it removed meanwhile?", cause });
  }
  try {
    // The BOM is kept: the hash covers the text exactly as another node will receive it.
    return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes), stamp };
  } catch (cause) {
    throw new FerryError("module_invalid", `Cannot bundle module "${module}": "${path}" is not UTF-8 text`, { hint: "save it as UTF-8", cause });
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
