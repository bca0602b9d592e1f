/**
 * Where this Ferry is installed, and whether it runs built. On Node the CLI and daemons run the
 * JavaScript that scripts/build.mjs wrote to `<install>/dist/`; Deno, tests and an unbuilt
 * checkout run the TypeScript sources beside it. Paths that name the install (the entry a
 * supervisor starts, the files a process module's imports resolve into) must be the same either
 * way.
 *
 * @example
 * ```ts
 * join(installRoot, "cli", "bin.mjs"); // "/opt/ferry/cli/bin.mjs", built or not
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";

const codeUrl = new URL("../", import.meta.url);

/** True when this code is the built JavaScript in `dist/`. */
export const runsBuilt: boolean = /\/dist\/$/.test(codeUrl.pathname);

/** The package's root folder (holding package.json, `cli/`, `daemon/` and `dist/`), without a trailing separator. */
export const installRoot: string = fileURLToPath(runsBuilt ? new URL("../", codeUrl) : codeUrl).replace(/[\\/]$/, "");

/**
 * Imports a module of this package on demand, by its path relative to `base` (the importing
 * module's `import.meta.url`) written without extension: the importer's own is added, `.ts` from
 * the sources, `.js` once built. The specifier is computed on purpose: Deno loads every module that
 * a literal `import("./x.ts")` names, and all it imports, before the program starts — for
 * `ferry ps`, the code of every command and of the whole daemon.
 *
 * @example
 * ```ts
 * const { psCommand } = await importBeside<typeof import("./ps.ts")>(import.meta.url, "./ps");
 * ```
 */
export function importBeside<M>(base: string, path: string): Promise<M> {
  return import(new URL(`${path}${base.slice(base.lastIndexOf("."))}`, base).href) as Promise<M>;
}
