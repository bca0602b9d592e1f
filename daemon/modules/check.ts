/**
 * `ferry validate`'s look at the processes folder: every module loaded afresh, as the daemons
 * would load it, and each one that cannot serve as a process class reported with a position.
 * On Node a TypeScript module is first compiled the way a daemon compiles it for its executors
 * (materialize.ts, into a scratch folder removed afterwards), which checks what the daemons will
 * run and spares the command the type-stripping hooks and their thread. With a cache folder, what
 * was compiled is kept there by content (the module's hash, this install and its compiler), so a
 * module not edited since is not compiled again: loading the compiler is a third of the command.
 * The cache keeps what runs used lately (compiled-cache.ts).
 * Deno imports the files themselves.
 *
 * @example
 * ```ts
 * for (const issue of await checkModules("processes")) console.error(formatIssue(issue));
 * ```
 * @module
 */
import { createHash, randomUUID } from "../builtins/crypto.ts";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ConfigIssue, FerryError, isFerryError } from "../errors.ts";
import { installRoot } from "../install.ts";
import { bundleModule } from "./bundle.ts";
import { durableCacheFs } from "./cache.ts";
import { markUsed, pruneCompiledCache } from "./compiled-cache.ts";
import { importProcessClass, listModules } from "./inspect.ts";
import { compiledName, materialize, ModuleParseError } from "./materialize.ts";
import { isTypeScript } from "./process-loader.ts";

let checkCount = 0;

export interface CheckOptions {
  /**
   * Where compiled modules are kept from one run to the next (created if missing); without one,
   * or when it cannot be written, each run compiles into a scratch folder.
   */
  cacheDir?: string;
}

/**
 * Loads every module in `dir` and reports each unusable one; positions are 1:1 when the runtime
 * reports none.
 *
 * @example
 * ```ts
 * const issues = await checkModules("/srv/ferry/processes", { cacheDir: "/home/me/.cache/ferry/compiled" });
 * ```
 */
export async function checkModules(dir: string, options: CheckOptions = {}): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  const version = `check-${Date.now()}-${++checkCount}`;
  let scratch: string | undefined;
  try {
    for (const [name, path] of await listModules(dir)) {
      let loadable = path;
      let fromCache = false;
      if (!("Deno" in globalThis) && isTypeScript(path)) {
        scratch ??= await mkdtemp(join(tmpdir(), "ferry-validate-"));
        const compiled = await compile(dir, name, path, scratch, options.cacheDir);
        if ("message" in compiled) {
          issues.push(compiled);
          continue;
        }
        loadable = compiled.path;
        fromCache = compiled.fromCache;
      }
      let result = await importProcessClass(loadable, version);
      if (!result.ok && fromCache && !existsSync(loadable)) {
        // Pruned by another run at that very moment (it was unused for long): compile it here.
        const compiled = await compile(dir, name, path, scratch!, undefined);
        if ("message" in compiled) {
          issues.push(compiled);
          continue;
        }
        result = await importProcessClass(compiled.path, version);
      }
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

/**
 * The module compiled: its entry file in the cache (found there, or compiled and kept there) or in
 * `scratch`, or the issue that stopped it. A run that adds to the cache prunes it (compiled-cache.ts).
 */
async function compile(dir: string, name: string, path: string, scratch: string, cacheDir: string | undefined): Promise<{ path: string; fromCache: boolean } | ConfigIssue> {
  let files: Record<string, string>;
  let entry: string;
  let cached: string | undefined;
  try {
    const bundle = await bundleModule(dir, name);
    entry = compiledName(bundle.entry);
    if (cacheDir) {
      // Without a key (the compiler's own files unreadable) there is no cache, only the scratch folder.
      cached = await compiledKey(bundle.hash).then((key) => join(cacheDir, key), () => undefined);
      // A folder is renamed into place only once complete.
      if (cached && existsSync(cached)) {
        await markUsed(cached).catch(() => {});
        return { path: join(cached, entry), fromCache: true };
      }
    }
    files = await materialize(bundle, installRoot, "", "node");
  } catch (error) {
    if (!isFerryError(error)) throw error;
    return issueOf(error, dir, name, path);
  }
  if (cached && cacheDir) {
    const kept = await keep(cacheDir, cached, files).catch(() => undefined);
    if (kept) {
      await pruneCompiledCache(cacheDir).catch(() => []);
      return { path: join(kept, entry), fromCache: false };
    }
  }
  const folder = join(scratch, name);
  await writeFolder(folder, files);
  return { path: join(folder, entry), fromCache: false };
}

async function writeFolder(folder: string, files: Record<string, string>, write: (path: string, text: string) => Promise<void> = writeFile): Promise<void> {
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(folder, file)), { recursive: true });
    await write(join(folder, file), text);
  }
  await write(join(folder, "package.json"), '{ "type": "module" }\n');
}

/**
 * Writes `files` under a temporary name, each made durable, and renames it to `folder` (a crash
 * cannot leave a folder there whose files are cut short); another run's copy that got there first
 * is as good.
 */
async function keep(cacheDir: string, folder: string, files: Record<string, string>): Promise<string> {
  const tmp = join(cacheDir, `.tmp-${randomUUID()}`);
  await writeFolder(tmp, files, durableCacheFs.writeFile);
  try {
    await rename(tmp, folder);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(folder)) throw error;
  }
  return folder;
}

let compiler: Promise<string> | undefined;

/**
 * The cache's name for a module version compiled by this install: its content hash, where the
 * install is (compiled imports point into it) and the compiler itself (materialize.ts's text and
 * sucrase's version), so that another or an upgraded Ferry never takes a stale copy.
 */
async function compiledKey(bundleHash: string): Promise<string> {
  compiler ??= (async () => {
    const own = import.meta.url.slice(import.meta.url.lastIndexOf("."));
    const text = await readFile(new URL(`./materialize${own}`, import.meta.url), "utf8");
    const sucrase = (createRequire(import.meta.url)("sucrase/package.json") as { version: string }).version;
    return `${createHash("sha256").update(text).digest("hex")}:${sucrase}`;
  })();
  return createHash("sha256").update(`${bundleHash}\0${installRoot}\0${await compiler}`).digest("hex").slice(0, 40);
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
