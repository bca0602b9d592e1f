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
import { posix } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ModuleBundle } from "../../schemas/api.schema.ts";
import { FerryError } from "../errors.ts";
import { runsBuilt } from "../install.ts";
import { TransientPackage } from "../transient.ts";
import { isTypeScript } from "./process-loader.ts";
import { shortHash } from "./hash.ts";
import { scanImports } from "./scan.ts";
import { findFile, isRelativeSpecifier, leavesRoot, resolveRelative } from "./specifiers.ts";

/** Specifiers the runtime resolves by itself, wherever the importer lives. */
const selfResolving = /^(?:node|npm|jsr|data|https?|file):|^\//;

/** What the files are for: the runtime's own TypeScript loading (Deno) or plain JavaScript (Node). */
export type MaterializeTarget = "source" | "node";

/** Public entries of the package (package.json `exports`), as files under the install. */
const packageEntries: Record<string, string> = { "ferry/sdk": "daemon/sdk/mod.ts" };

/**
 * The name a bundle file has in the compiled (`node`) layout: `.ts` → `.js`, `.mts` → `.mjs`.
 *
 * @example
 * ```ts
 * compiledName("lib/greeting.ts"); // "lib/greeting.js"
 * ```
 */
export function compiledName(path: string): string {
  return path.replace(/\.mts$/, ".mjs").replace(/\.ts$/, ".js");
}

/**
 * The bundle's files with their outward imports rewritten for this install, and for `target:
 * "node"` compiled to JavaScript under their {@link compiledName}. Throws `module_invalid` when a
 * file imports something neither the bundle nor this install has, or does not parse. `source`
 * names the node the bundle came from ("" for this node's own processes folder).
 *
 * @example
 * ```ts
 * const sources = await materialize(bundle, installRoot, "beta");
 * const compiled = await materialize(bundle, installRoot, "beta", "node");
 * ```
 */
export async function materialize(bundle: ModuleBundle, installRoot: string, source: string, target: MaterializeTarget = "source"): Promise<Record<string, string>> {
  const root = resolve(installRoot);
  const processes = join(root, "processes");
  const compile = target === "node";
  const out: Record<string, string> = {};
  const describe = (what: string) => `Cannot load module "${bundle.module}" version "${shortHash(bundle.hash)}"${source ? ` from node "${source}"` : ""}: ${what}`;
  const cannot = (what: string, hint: string, cause?: unknown) => new FerryError("module_invalid", describe(what), { hint, cause });
  for (const [path, text] of Object.entries(bundle.files)) {
    const edits: Array<{ start: number; end: number; url: string }> = [];
    for (const ref of scanImports(text)) {
      const specifier = ref.specifier;
      if (isRelativeSpecifier(specifier)) {
        const target = resolveRelative(path, specifier);
        if (!leavesRoot(target)) {
          const found = await findFile(target, (p) => Object.hasOwn(bundle.files, p));
          if (found === undefined) {
            throw cannot(`"${path}" imports "${specifier}", which the bundle lacks`, "that node's processes/ folder is missing the file");
          }
          if (compile) edits.push({ start: ref.start, end: ref.end, url: relativeSpecifier(path, compiledName(found)) });
          continue;
        }
        const file = resolve(processes, target);
        if (relative(root, file).startsWith("..")) {
          throw cannot(`"${path}" imports "${specifier}", outside this node's install "${root}"`, "import Ferry's files through ferry/sdk");
        }
        const found = await findFile(file, isFile);
        if (found === undefined) {
          throw cannot(`"${path}" imports "${specifier}", which this node's install "${root}" lacks`, "run the same Ferry version on every node");
        }
        edits.push({ start: ref.start, end: ref.end, url: ownCodeUrl(root, found) });
      } else if (specifier.startsWith("file:")) {
        // Ferry's own sources named by URL: the code this daemon runs, as for `../daemon/…`.
        const file = fileURLToPath(specifier);
        if (!relative(root, file).startsWith("..")) edits.push({ start: ref.start, end: ref.end, url: ownCodeUrl(root, file) });
      } else if (Object.hasOwn(packageEntries, specifier)) {
        edits.push({ start: ref.start, end: ref.end, url: ownCodeUrl(root, join(root, packageEntries[specifier]!)) });
      } else if (!selfResolving.test(specifier) && !isBuiltin(specifier)) {
        let url: string;
        try {
          // Resolved from this file, that is from this node's install: its packages.
          url = import.meta.resolve(specifier);
        } catch (cause) {
          throw cannot(`"${path}" imports the package "${specifier}", which this node cannot resolve`, "install the package on this node too", cause);
        }
        if (url.startsWith("file:")) edits.push({ start: ref.start, end: ref.end, url });
      }
    }
    const rewritten = rewrite(text, edits);
    if (!compile) out[path] = rewritten;
    else if (!isTypeScript(path)) out[path] = rewritten;
    else out[compiledName(path)] = await stripTypes(rewritten, path, describe);
  }
  return out;
}

/** A file of this install's sources as the code this daemon runs: its `dist/` twin when built. */
function ownCodeUrl(root: string, file: string): string {
  const inside = relative(root, file);
  if (runsBuilt && /^(?:daemon|schemas|cli)[\\/]/.test(inside) && isTypeScript(inside)) {
    return pathToFileURL(join(root, "dist", compiledName(inside))).href;
  }
  return pathToFileURL(file).href;
}

function relativeSpecifier(from: string, to: string): string {
  const path = posix.relative(posix.dirname(from), to);
  return path.startsWith(".") ? path : `./${path}`;
}

/**
 * sucrase, for as long as modules arrive: a node compiles its modules when it starts and when a
 * new version arrives, then runs them from its cache for hours. Loading it again costs some 50 ms.
 */
const sucrase = new TransientPackage<typeof import("sucrase")>("sucrase", 10_000);

/**
 * Types stripped, lines kept. Rewritten imports are JSON strings of the same line, so positions
 * in a syntax error still match the file the user wrote (columns after a rewritten import aside).
 */
async function stripTypes(text: string, path: string, describe: (what: string) => string): Promise<string> {
  const { transform } = sucrase.get();
  try {
    return transform(text, { transforms: ["typescript"], disableESTransforms: true, filePath: path }).code;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const loc = (error as { loc?: { line?: unknown; column?: unknown } }).loc;
    const reason = message.replace(/^Error transforming [^:]*: /, "").replace(/\s*\(\d+:\d+\)\s*$/, "");
    if (typeof loc?.line !== "number" || typeof loc.column !== "number") {
      throw new FerryError("module_invalid", describe(`"${path}" does not parse: ${reason}`), { hint: "fix the syntax error in that file", cause: error });
    }
    throw new ModuleParseError(describe(`"${path}:${loc.line}:${loc.column}" does not parse: ${reason}`), { file: path, line: loc.line, col: loc.column, reason }, error);
  }
}

/** Where a file of a module does not parse (its path inside the module's folder, 1-based line and column). */
export interface ParsePosition {
  file: string;
  line: number;
  col: number;
  reason: string;
}

/**
 * A module file that does not parse, with its position as data, so that `ferry validate` can
 * point at it without reading it back out of the message.
 *
 * @example
 * ```ts
 * if (error instanceof ModuleParseError) console.log(`${error.at.file}:${error.at.line}:${error.at.col}`);
 * ```
 */
export class ModuleParseError extends FerryError {
  readonly at: ParsePosition;

  constructor(message: string, at: ParsePosition, cause: unknown) {
    super("module_invalid", message, { hint: "fix the syntax error at that position", cause });
    this.at = at;
  }
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
