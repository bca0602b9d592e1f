/**
 * Turns a verified bundle into sources that load on this node. Imports inside the bundle stay as
 * they are (the files keep their layout). Imports that left the sender's processes folder point
 * into this node's own install instead — read as if the bundle were this install's `processes/`,
 * so `../daemon/io/mod.ts` becomes `<install>/daemon/io/mod.ts` — and packages resolve as this
 * install resolves them. The result uses absolute `file:` URLs, as the cache lives elsewhere.
 * Everything is checked before anything is written: a missing target is a clear error.
 *
 * @example
 * ```ts
 * const sources = await materialize(bundle, "/opt/ferry", "alpha");
 * sources["Sorter.ts"]; // 'import { TransactionalFileReader } from "file:///opt/ferry/daemon/io/mod.ts";'
 * ```
 * @module
 */
import { stat } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ModuleBundle } from "../../schemas/api.schema.ts";
import { FerryError } from "../errors.ts";
import { shortHash } from "./hash.ts";
import { scanImports } from "./scan.ts";
import { findFile, isRelativeSpecifier, leavesRoot, resolveRelative } from "./specifiers.ts";

/** Specifiers the runtime resolves by itself, wherever the importer lives. */
const selfResolving = /^(?:node|npm|jsr|data|https?|file):|^\//;

/**
 * The bundle's files with their outward imports rewritten for this install. Throws
 * `module_invalid` when a file imports something neither the bundle nor this install has.
 *
 * @example
 * ```ts
 * const sources = await materialize(bundle, installRoot, "beta");
 * ```
 */
export async function materialize(bundle: ModuleBundle, installRoot: string, source: string): Promise<Record<string, string>> {
  const root = resolve(installRoot);
  const processes = join(root, "processes");
  const out: Record<string, string> = {};
  const cannot = (what: string, hint: string, cause?: unknown) =>
    new FerryError("module_invalid", `Cannot load module "${bundle.module}" version "${shortHash(bundle.hash)}" from node "${source}": ${what}`, { hint, cause });
  for (const [path, text] of Object.entries(bundle.files)) {
    const edits: Array<{ start: number; end: number; url: string }> = [];
    for (const ref of scanImports(text)) {
      const specifier = ref.specifier;
      if (isRelativeSpecifier(specifier)) {
        const target = resolveRelative(path, specifier);
        if (!leavesRoot(target)) {
          if ((await findFile(target, (p) => Object.hasOwn(bundle.files, p))) === undefined) {
            throw cannot(`"${path}" imports "${specifier}", which the bundle lacks`, "that node's processes/ folder is missing the file");
          }
          continue;
        }
        const file = resolve(processes, target);
        if (relative(root, file).startsWith("..")) {
          throw cannot(`"${path}" imports "${specifier}", outside this node's install "${root}"`, "import Ferry's files through ../daemon/ or its package");
        }
        const found = await findFile(file, isFile);
        if (found === undefined) {
          throw cannot(`"${path}" imports "${specifier}", which this node's install "${root}" lacks`, "run the same Ferry version on every node");
        }
        edits.push({ start: ref.start, end: ref.end, url: pathToFileURL(found).href });
      } else if (!("Deno" in globalThis) && /^ferry(?:\/|$)/.test(specifier)) {
        // Left bare: Node's module hooks (ts-hooks.mjs) point it at the code this daemon runs.
        continue;
      } else if (!selfResolving.test(specifier) && !isBuiltin(specifier)) {
        let url: string;
        try {
          // Resolved from this file, that is from this node's install: its packages, its SDK.
          url = import.meta.resolve(specifier);
        } catch (cause) {
          throw cannot(`"${path}" imports the package "${specifier}", which this node cannot resolve`, "install the package on this node too", cause);
        }
        if (url.startsWith("file:")) edits.push({ start: ref.start, end: ref.end, url });
      }
    }
    out[path] = rewrite(text, edits);
  }
  return out;
}

function rewrite(text: string, edits: Array<{ start: number; end: number; url: string }>): string {
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    result = result.slice(0, edit.start) + JSON.stringify(edit.url) + result.slice(edit.end);
  }
  return result;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
