#!/usr/bin/env node
// Node entry for `ferry`. Runs the built JavaScript in dist/ (made at install by
// scripts/build.mjs), so no TypeScript loader runs on the command's hot path; `--version` does not
// even load the CLI. An unbuilt checkout still works, slower: the same type-stripping hooks that
// load process modules run the sources. Deno runs cli/main.ts itself and needs no such shim.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else {
  try {
    await import("../dist/cli/main.js");
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/cli/main.js")) throw error;
    const { register } = await import("node:module");
    register(new URL("../daemon/modules/ts-hooks.mjs", import.meta.url));
    globalThis[Symbol.for("ferry.processLoader")] = true;
    await import("./main.ts");
  }
}
