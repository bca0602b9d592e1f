/**
 * Node module hooks that let process modules be written in TypeScript without a build step, and
 * that make a process load the very module instances its daemon runs. Deno needs neither.
 *
 * - load: a `.ts`/`.mts` file is stripped of its types by sucrase, which keeps every line where it
 *   was, so stack traces and error positions point into the file the user wrote. A syntax error is
 *   reported as `file:line:col: ERROR: text`, as validate and the executor read it.
 * - resolve: `ferry/sdk` (and any other `ferry/…` entry) and imports into this install's own
 *   `daemon/`, `schemas/` or `cli/` sources resolve to the code this daemon runs — the built
 *   `dist/` files when it runs built — so the file streams a process creates register with the
 *   same snapshot codec that captures them. Like TypeScript itself, `./a.js` also finds `a.ts`,
 *   and `./a` finds `a.ts` or `a/index.ts`.
 *
 * Registered by `registerProcessLoader()` (process-loader.ts) in each executor worker and in the
 * CLI before it checks modules. Plain JavaScript, because it must load before any TypeScript can.
 *
 * @example
 * ```js
 * import { register } from "node:module";
 * register(new URL("./ts-hooks.mjs", import.meta.url));
 * await import("file:///srv/app/processes/Counter.ts");
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "sucrase";

const here = new URL(".", import.meta.url); // <codeRoot>/daemon/modules/
const codeRoot = new URL("../../", here);
const built = /\/dist\/$/.test(codeRoot.pathname);
const installRoot = built ? new URL("../", codeRoot) : codeRoot;
const codeExt = built ? ".js" : ".ts";
/** Public entries of the package, as in package.json's `exports`, without extension. */
const entries = { "ferry/sdk": "daemon/sdk/mod" };
const ownFolders = /^(daemon|schemas|cli)\//;
const typescript = /\.(?:ts|mts)$/;

/** Node's resolve hook. */
export async function resolve(specifier, context, nextResolve) {
  if (Object.hasOwn(entries, specifier)) {
    return { url: new URL(entries[specifier] + codeExt, codeRoot).href, shortCircuit: true };
  }
  let resolved;
  try {
    resolved = await nextResolve(specifier, context);
  } catch (error) {
    const alternative = await alternatives(specifier, context, nextResolve);
    if (!alternative) throw error;
    resolved = alternative;
  }
  return { ...resolved, url: ownCode(resolved.url) };
}

/** Node's load hook. */
export async function load(url, context, nextLoad) {
  const path = url.startsWith("file:") ? fileURLToPath(url.split("?")[0]) : "";
  if (!typescript.test(path)) return nextLoad(url, context);
  const text = await readFile(path, "utf8");
  let code;
  try {
    code = transform(text, { transforms: ["typescript"], disableESTransforms: true, filePath: path }).code;
  } catch (error) {
    throw positioned(error, path);
  }
  return { format: "module", source: `${code}\n//# sourceURL=${url}`, shortCircuit: true };
}

/** What TypeScript would also accept for a relative specifier that does not resolve as written. */
async function alternatives(specifier, context, nextResolve) {
  if (!/^\.\.?\//.test(specifier) || !context.parentURL?.startsWith("file:")) return undefined;
  const candidates = [];
  const swapped = specifier.replace(/\.js$/, ".ts").replace(/\.mjs$/, ".mts");
  if (swapped !== specifier) candidates.push(swapped);
  if (!/\.[a-z]+$/i.test(specifier)) candidates.push(`${specifier}.ts`, `${specifier}/index.ts`);
  for (const candidate of candidates) {
    try {
      return await nextResolve(candidate, context);
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** A file of this install's own sources, as the code this daemon runs (built or not). */
function ownCode(url) {
  if (!built || !url.startsWith(installRoot.href)) return url;
  const inside = url.slice(installRoot.href.length);
  if (!ownFolders.test(inside)) return url;
  return new URL(inside.replace(/\.ts$/, ".js"), codeRoot).href;
}

/**
 * sucrase says `Error transforming <path>: Unexpected token (2:9)`, counting columns from 1;
 * reported as esbuild would, which counts them from 0.
 */
function positioned(error, path) {
  const message = error instanceof Error ? error.message : String(error);
  const at = /\((\d+):(\d+)\)\s*$/.exec(message);
  if (!at) return error;
  const text = message.slice(0, at.index).replace(/^Error transforming [^:]*: /, "").trim();
  const wrapped = new SyntaxError(`${path}:${at[1]}:${Number(at[2]) - 1}: ERROR: ${text}`);
  wrapped.cause = error;
  return wrapped;
}

