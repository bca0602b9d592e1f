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
