/**
 * Finds and loads the process classes in the processes folder. A module is a file directly in
 * that folder whose default export is a class; its name is the file name without extension.
 * Loading takes a version so that an edited file is imported as a new module instance instead of
 * the cached one (the query string makes a distinct module specifier on Node/tsx and Deno).
 *
 * @example
 * ```ts
 * const modules = await listModules("/srv/ferry/processes");
 * const Counter = await loadProcessClass(modules.get("Counter")!, 1);
 * const process = new Counter(["10"]);
 * ```
 * @module
 */
import { basename, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FerryError } from "../errors.ts";
import { isFile, readDirEntries } from "../files.ts";
import { registerProcessLoader } from "./process-loader.ts";

/** A process class as the contract defines it: constructed with the process's args. */
export type ProcessClass = new (args: string[]) => object;

// Earlier entries win when one name has several files: TypeScript is the source of a built .js.
const extensions = [".ts", ".js", ".mjs"] as const;
const ignoredSuffixes = [".d.ts", ".d.mts", ".test.ts", ".test.js", ".test.mjs"];
/** The process contract's hooks: driven by the daemon, never by `ferry call`. */
const reserved = new Set(["constructor", "run", "suspend", "resume", "upgrade", "toString"]);

/**
 * Lists the modules directly in `dir`: name → absolute file path. A missing folder has none.
 *
 * @example
 * ```ts
 * const modules = await listModules("processes");
 * modules.get("Counter"); // "/abs/processes/Counter.ts"
 * ```
 */
export async function listModules(dir: string): Promise<Map<string, string>> {
  const root = resolve(dir);
  let entries;
  try {
    entries = await readDirEntries(root);
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || errnoCode(error) === "ENOTDIR") return new Map();
    throw error;
  }
  const found = new Map<string, { path: string; rank: number }>();
  for (const entry of entries) {
    const file = entry.name;
    if (file.startsWith(".") || ignoredSuffixes.some((s) => file.endsWith(s))) continue;
    const ext = extname(file);
    const rank = (extensions as readonly string[]).indexOf(ext);
    if (rank < 0) continue;
    const path = join(root, file);
    if (!entry.isFile && !(entry.isSymlink && (await isFile(path)))) continue;
    const name = basename(file, ext);
    const previous = found.get(name);
    if (!previous || rank < previous.rank) found.set(name, { path, rank });
  }
  const sorted = [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map(sorted.map(([name, { path }]) => [name, path]));
}

/**
 * Imports a module file and returns its default-exported class. Each distinct `version` loads
 * the file afresh (an edited file becomes a new class); the same version reuses the cached one.
 * Every version stays in the runtime's module cache, so bump it only when the file changed.
 *
 * Throws `FerryError("module_invalid")` for a syntax or import error (with file:line:col when
 * the runtime reports one), a missing default export or a default export that is not a class,
 * and `FerryError("module_not_found")` when the file is gone.
 *
 * @example
 * ```ts
 * const Counter = await loadProcessClass("/abs/processes/Counter.ts", Date.now());
 * ```
 */
export async function loadProcessClass(path: string, version?: string | number): Promise<ProcessClass> {
  const result = await importProcessClass(path, version);
  if (result.ok) return result.cls;
  throw result.error;
}

/**
 * The names `ferry call` may invoke on instances of `cls`: public methods along the prototype
 * chain, without the contract's hooks and `_`-prefixed helpers, sorted.
 *
 * @example
 * ```ts
 * class Counter { count() { return 1 } run() {} _tick() {} }
 * callableMethods(Counter); // ["count"]
 * ```
 */
export function callableMethods(cls: ProcessClass): string[] {
  const names = new Set<string>();
  for (let proto: object | null = cls.prototype as object; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (reserved.has(name) || name.startsWith("_")) continue;
      // Accessors are state, not commands; reading them here would also run user code.
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (descriptor && typeof descriptor.value === "function") names.add(name);
    }
  }
  return [...names].sort();
}


/** What importing a module file gave: its class, or why not with a position. */
export type ImportResult =
  | { ok: true; cls: ProcessClass }
  | { ok: false; error: FerryError; line: number; col: number; reason: string; hint?: string };

/**
 * Imports a module file and checks its default export, without throwing: `ok` with the class, or
 * the error with a position and a one-line reason (for `ferry validate`'s issues).
 *
 * @example
 * ```ts
 * const result = await importProcessClass("/abs/processes/Counter.ts", "check-1");
 * if (!result.ok) console.error(`${result.line}:${result.col}: ${result.reason}`);
 * ```
 */
export async function importProcessClass(path: string, version: string | number | undefined): Promise<ImportResult> {
  const file = resolve(path);
  const name = basename(file, extname(file));
  const url = pathToFileURL(file).href + (version === undefined ? "" : `?v=${encodeURIComponent(String(version))}`);
  // TypeScript on Node needs the type-stripping hooks (the CLI's validate, an unbuilt checkout);
  // compiled JavaScript, what a built daemon's executors import, does not.
  registerProcessLoader(file);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    // Asked of the file system: Deno reports syntax errors as ERR_MODULE_NOT_FOUND too.
    if (!(await isFile(file))) {
      const reason = `Module file "${file}" not found`;
      return failure(new FerryError("module_not_found", reason, { cause: error }), 1, 1, reason);
    }
    const { line, col, text } = describeImportError(error, file);
    const where = line === undefined ? file : `${file}:${line}:${col}`;
    const message = `Cannot load module "${name}" at ${where}: ${text}`;
    return failure(new FerryError("module_invalid", message, { cause: error }), line ?? 1, col ?? 1, `Cannot load module "${name}": ${text}`);
  }
  if (!("default" in namespace) || namespace.default === undefined) {
    const hint = `Add "export default class ${safeIdentifier(name)} { ... }"`;
    return failure(new FerryError("module_invalid", `Module "${name}" (${file}) has no default export`, { hint }), 1, 1, `Module "${name}" has no default export`, hint);
  }
  const value = namespace.default;
  if (!isConstructor(value)) {
    const hint = "The default export must be a class whose constructor takes (args: string[])";
    const got = typeof value === "function" ? "a function that is not a class" : describeValue(value);
    const reason = `Default export of module "${name}" is not a class, got ${got}`;
    return failure(new FerryError("module_invalid", `${reason} (${file})`, { hint }), 1, 1, reason, hint);
  }
  return { ok: true, cls: value };
}

function failure(error: FerryError, line: number, col: number, reason: string, hint?: string): ImportResult {
  return hint === undefined ? { ok: false, error, line, col, reason } : { ok: false, error, line, col, reason, hint };
}

/**
 * One line and a position out of whatever the runtime threw. esbuild (tsx) reports
 * `/abs/file.ts:2:9: ERROR: text` (0-based column); stacks of Deno and of errors thrown while the module runs
 * carry `file:///abs/file.ts?v=1:2:10` or `/abs/file.ts:2:10`. Node's own SyntaxError for a
 * .js file carries no position at all.
 */
function describeImportError(error: unknown, file: string): { line?: number; col?: number; text: string } {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  const esbuild = /^(.*?):(\d+):(\d+): ERROR: (.*)$/m.exec(message);
  // esbuild counts columns from 0; editors and the other runtimes count from 1.
  if (esbuild) return { line: Number(esbuild[2]), col: Number(esbuild[3]) + 1, text: esbuild[4] ?? message };

  const firstLine = (message.split("\n").find((l) => l.trim() !== "") ?? message).trim();
  // Deno wraps a SyntaxError in a TypeError whose message already names the real kind.
  const named = /^[A-Z]\w*Error: /.test(firstLine);
  const name = error instanceof Error && error.name !== "Error" && !named ? `${error.name}: ` : "";
  const text = `${name}${stripLocation(firstLine, file)}`;
  const href = pathToFileURL(file).href;
  for (const prefix of [href, file]) {
    const pattern = new RegExp(`${escapeRegExp(prefix)}(?:\\?[^:\\s)]*)?:(\\d+)(?::(\\d+))?`);
    const match = pattern.exec(message) ?? pattern.exec(stack);
    if (match) return { line: Number(match[1]), col: Number(match[2] ?? 1), text };
  }
  return { text };
}

/** Deno puts ` at file:///abs/file.ts:2:10` in the message; the position is reported apart. */
function stripLocation(text: string, file: string): string {
  const href = pathToFileURL(file).href;
  return text.replace(new RegExp(`\\s+at (?:${escapeRegExp(href)}|${escapeRegExp(file)})\\S*$`), "");
}

/** True for classes and constructor functions, without calling them. */
function isConstructor(value: unknown): value is ProcessClass {
  if (typeof value !== "function") return false;
  try {
    // `Reflect.construct` checks `newTarget` before anything runs, so `value` is never called.
    Reflect.construct(String, [], value);
    return true;
  } catch {
    return false;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}


function errnoCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

function safeIdentifier(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_$]/g, "_");
  return /^[A-Za-z_$]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
