/**
 * Makes this thread able to import process modules written in TypeScript, with `ferry/sdk` and
 * Ferry's own files resolving to the code this daemon runs (see ts-hooks.mjs). Node only: Deno
 * runs TypeScript itself and resolves `ferry/sdk` through package.json's `exports`.
 *
 * @example
 * ```ts
 * registerProcessLoader();
 * const Counter = await loadProcessClass("/srv/app/processes/Counter.ts", 1);
 * ```
 * @module
 */
// `node:module` is taken when it is used (Node only): on Deno, importing it loads its worker and
// console modules too, into every command that reads cluster.yaml.
import process from "node:process";

/** Set on the thread's global once registered, also by the executor's bootstrap (worker-entry.mjs). */
const registered = Symbol.for("ferry.processLoader");

/**
 * Whether a module file is TypeScript (`.ts`, `.mts`): what the hooks and the daemon's compiler
 * strip types from.
 *
 * @example
 * ```ts
 * isTypeScript("processes/Counter.ts"); // true
 * ```
 */
export function isTypeScript(path: string): boolean {
  return /\.m?ts$/.test(path.replace(/[?#].*$/, ""));
}

/**
 * Registers the hooks once per thread, when `path` (if given) is TypeScript; later calls do
 * nothing.
 *
 * @example
 * ```ts
 * registerProcessLoader();
 * ```
 */
export function registerProcessLoader(path?: string): void {
  if (path !== undefined && !isTypeScript(path)) return;
  const flags = globalThis as { [registered]?: boolean };
  if (flags[registered] || "Deno" in globalThis) return;
  flags[registered] = true;
  process.getBuiltinModule("node:module").register(new URL("./ts-hooks.mjs", import.meta.url));
}
