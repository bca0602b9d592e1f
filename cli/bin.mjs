#!/usr/bin/env node
// Node entry for `ferry`. Runs the built JavaScript in dist/ (made at install by
// scripts/build.mjs), so no TypeScript loader runs on the command's hot path; main.js answers
// `--version` before it loads anything else. An unbuilt checkout still works, slower: the same
// type-stripping hooks that load process modules run the sources. Deno runs cli/main.ts itself.
// Where Node.js keeps compiled code between runs (22.1 and later; in its temporary folder unless
// NODE_COMPILE_CACHE names one), a command no longer compiles its modules each time it starts.
import module from "node:module";
module.enableCompileCache?.();
try {
  await import("../dist/cli/main.js");
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/cli/main.js")) throw error;
  const { register } = await import("node:module");
  register(new URL("../daemon/modules/ts-hooks.mjs", import.meta.url));
  globalThis[Symbol.for("ferry.processLoader")] = true;
  await import("./main.ts");
}
