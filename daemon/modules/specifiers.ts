/**
 * How a bundle's import specifiers map to files, shared by the sending side (which reads the
 * processes folder) and the receiving side (which only has the bundle's files): one resolution,
 * so that what the sender bundled is exactly what the receiver finds. Paths here are POSIX paths
 * relative to the processes folder; one that starts with `../` leaves it.
 *
 * @example
 * ```ts
 * resolveRelative("lib/a.ts", "../util.ts"); // "util.ts"
 * resolveRelative("Sorter.ts", "../daemon/io/mod.ts"); // "../daemon/io/mod.ts"
 * ```
 * @module
 */
import { posix } from "node:path";

/**
 * True for `./x`, `../x`, `.` and `..`: specifiers the runtime resolves against the importer.
 *
 * @example
 * ```ts
 * isRelativeSpecifier("./helper.ts"); // true
 * isRelativeSpecifier("ferry/sdk"); // false
 * ```
 */
export function isRelativeSpecifier(specifier: string): boolean {
  return specifier === "." || specifier === ".." || specifier.startsWith("./") || specifier.startsWith("../");
}

/**
 * The processes-relative path `specifier` names when imported from `importer`; a query or hash
 * is dropped (the file is the same).
 *
 * @example
 * ```ts
 * resolveRelative("lib/a.ts", "./b.ts?x=1"); // "lib/b.ts"
 * ```
 */
export function resolveRelative(importer: string, specifier: string): string {
  const bare = specifier.replace(/[?#].*$/, "");
  return posix.normalize(posix.join(posix.dirname(importer), bare)).replace(/\/$/, "");
}

/**
 * True when a processes-relative path lies outside the processes folder.
 *
 * @example
 * ```ts
 * leavesRoot("../daemon/io/mod.ts"); // true
 * ```
 */
export function leavesRoot(path: string): boolean {
  return path === ".." || path.startsWith("../") || posix.isAbsolute(path);
}

const scriptExtensions = [".ts", ".tsx", ".mts", ".js", ".mjs", ".jsx"];
const jsToTs: Record<string, string> = { ".js": ".ts", ".mjs": ".mts", ".jsx": ".tsx", ".cjs": ".cts" };

/**
 * The files an import of `path` may load, in the order the runtimes try them: the path itself,
 * then what tsx also accepts (`./a.js` for `a.ts`, `./a` for `a.ts`, `./dir` for `dir/index.ts`).
 *
 * @example
 * ```ts
 * candidates("lib/a.js"); // ["lib/a.js", "lib/a.ts", "lib/a.js.ts", ...]
 * ```
 */
export function candidates(path: string): string[] {
  const ext = posix.extname(path);
  const list = [path];
  if (jsToTs[ext]) list.push(path.slice(0, -ext.length) + jsToTs[ext]);
  for (const e of scriptExtensions) list.push(path + e);
  for (const e of scriptExtensions) list.push(`${path}/index${e}`);
  return list;
}

/**
 * The first of {@link candidates} for which `exists` says yes, or undefined.
 *
 * @example
 * ```ts
 * await findFile("lib/a", async (p) => p === "lib/a.ts"); // "lib/a.ts"
 * ```
 */
export async function findFile(path: string, exists: (path: string) => boolean | Promise<boolean>): Promise<string | undefined> {
  for (const candidate of candidates(path)) if (await exists(candidate)) return candidate;
  return undefined;
}

/**
 * Whether `path` may name a file of a bundle: relative, POSIX, inside the bundle, no empty, `.`
 * or `..` segment — so writing it under a directory never lands outside that directory.
 *
 * @example
 * ```ts
 * isBundlePath("lib/a.ts"); // true
 * isBundlePath("../etc/passwd"); // false
 * ```
 */
export function isBundlePath(path: string): boolean {
  if (path === "" || path.length > 1024 || /[\\\0:]/.test(path) || path.startsWith("/")) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}
