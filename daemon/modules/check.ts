/**
 * `ferry validate`'s look at the processes folder: every module loaded afresh, as the daemons
 * would load it, and each one that cannot serve as a process class reported with a position.
 * On Node a TypeScript module is first compiled the way a daemon compiles it for its executors
 * (materialize.ts, into a scratch folder removed afterwards), which checks what the daemons will
 * run and spares the command the type-stripping hooks and their thread. Deno imports the files
 * themselves.
 *
 * @example
 * ```ts
 * for (const issue of await checkModules("processes")) console.error(formatIssue(issue));
 * ```
 * @module
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ConfigIssue, FerryError, isFerryError } from "../errors.ts";
import { installRoot } from "../install.ts";
import { bundleModule } from "./bundle.ts";
import { importProcessClass, listModules } from "./inspect.ts";
import { compiledName, materialize, ModuleParseError } from "./materialize.ts";
import { isTypeScript } from "./process-loader.ts";

let checkCount = 0;

/**
 * Loads every module in `dir` and reports each unusable one; positions are 1:1 when the runtime
 * reports none.
 *
 * @example
 * ```ts
 * const issues = await checkModules("/srv/ferry/processes");
 * ```
 */
export async function checkModules(dir: string): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  const version = `check-${Date.now()}-${++checkCount}`;
  let scratch: string | undefined;
  try {
    for (const [name, path] of await listModules(dir)) {
      let loadable = path;
      if (!("Deno" in globalThis) && isTypeScript(path)) {
        scratch ??= await mkdtemp(join(tmpdir(), "ferry-validate-"));
        const compiled = await compile(dir, name, path, scratch);
        if (typeof compiled !== "string") {
          issues.push(compiled);
          continue;
        }
        loadable = compiled;
      }
      const result = await importProcessClass(loadable, version);
      if (!result.ok) {
        const { line, col, reason, hint } = result;
        issues.push(hint === undefined ? { file: path, line, col, message: reason } : { file: path, line, col, message: reason, hint });
      } else if (typeof (result.cls.prototype as { run?: unknown }).run !== "function") {
        issues.push({ file: path, line: 1, col: 1, message: `Class of module "${name}" has no run(ctx) method`, hint: "Add async run(ctx) { ... }" });
      }
    }
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  return issues;
}

/** The module compiled into `scratch`: its entry file, or the issue that stopped it. */
async function compile(dir: string, name: string, path: string, scratch: string): Promise<string | ConfigIssue> {
  let files: Record<string, string>;
  let entry: string;
  try {
    const bundle = await bundleModule(dir, name);
    files = await materialize(bundle, installRoot, "", "node");
    entry = compiledName(bundle.entry);
  } catch (error) {
    if (!isFerryError(error)) throw error;
    return issueOf(error, dir, name, path);
  }
  const folder = join(scratch, name);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(folder, file)), { recursive: true });
    await writeFile(join(folder, file), text);
  }
  await writeFile(join(folder, "package.json"), '{ "type": "module" }\n');
  return join(folder, entry);
}

/** A compile error as an issue: at the file and position it names, else at the module's file. */
function issueOf(error: FerryError, dir: string, name: string, path: string): ConfigIssue {
  if (error instanceof ModuleParseError) {
    const { file, line, col, reason } = error.at;
    return { file: join(dir, file), line, col, message: `Cannot load module "${name}": SyntaxError: ${reason}` };
  }
  const what = error.message.replace(/^Cannot (?:load|bundle) module "[^"]*"(?: version "[^"]*")?: /, "");
  return error.hint === undefined
    ? { file: path, line: 1, col: 1, message: `Cannot load module "${name}": ${what}` }
    : { file: path, line: 1, col: 1, message: `Cannot load module "${name}": ${what}`, hint: error.hint };
}
