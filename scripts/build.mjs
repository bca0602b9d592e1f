#!/usr/bin/env node
/**
 * Builds what `ferry` runs on Node: every TypeScript file of cli/, daemon/ and schemas/ stripped of
 * its types into dist/ (same layout, `.ts` imports turned into `.js`), plus the plain JavaScript
 * and static files beside them. No TypeScript loader then runs on the command's hot path. sucrase
 * keeps every line in place, so a stack trace's line numbers match the sources.
 *
 * Runs at `npm install`/`npm ci` (the `prepare` script, also without dev dependencies: sucrase is
 * a run-time dependency, it strips the types of process modules too), before `npm pack`, and
 * before the tests. Writes a fresh tree, then swaps it in, so a failed build leaves the last one.
 *
 * @example
 * ```sh
 * node scripts/build.mjs
 * ```
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { transform } from "sucrase";

const root = fileURLToPath(new URL("..", import.meta.url));
const folders = ["cli", "daemon", "schemas"];
const out = join(root, "dist");
const temp = join(root, `.dist-${process.pid}`);
// Relative specifiers in import/export statements and dynamic imports: "./a.ts" → "./a.js".
const tsSpecifier = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"'\n]*?)\.ts\2/g;

const started = performance.now();
let files = 0;
try {
  for (const folder of folders) build(join(root, folder));
  // Two renames, then the removal: a daemon starting meanwhile finds one tree or the other.
  const old = join(root, `.dist-old-${process.pid}`);
  if (existsSync(out)) renameSync(out, old);
  renameSync(temp, out);
  rmSync(old, { recursive: true, force: true });
} catch (error) {
  rmSync(temp, { recursive: true, force: true });
  const where = error?.filePath ? ` in ${relative(root, error.filePath)}` : "";
  process.stderr.write(`ferry build: ${error instanceof Error ? error.message : String(error)}${where}\n`);
  process.exit(1);
}
if (!process.argv.includes("--quiet")) {
  process.stdout.write(`ferry build: ${files} files into ${relative(process.cwd(), out) || out} in ${Math.round(performance.now() - started)} ms\n`);
}

function build(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const source = join(dir, entry.name);
    const target = join(temp, relative(root, source));
    if (entry.isDirectory()) {
      build(source);
      continue;
    }
    // cli/bin.mjs is the entry that chooses between dist/ and the sources: it stays outside.
    if (!entry.isFile() || entry.name.endsWith(".d.ts") || source === join(root, "cli", "bin.mjs")) continue;
    mkdirSync(dirname(target), { recursive: true });
    if (entry.name.endsWith(".ts")) {
      const text = readFileSync(source, "utf8");
      let code;
      try {
        code = transform(text, { transforms: ["typescript"], disableESTransforms: true, filePath: source }).code;
      } catch (error) {
        error.filePath = source;
        throw error;
      }
      writeFileSync(target.replace(/\.ts$/, ".js"), code.replace(tsSpecifier, "$1$2$3.js$2"));
    } else if (entry.name.endsWith(".mjs")) {
      writeFileSync(target, readFileSync(source, "utf8").replace(tsSpecifier, "$1$2$3.js$2"));
    } else {
      cpSync(source, target);
    }
    files++;
  }
}

