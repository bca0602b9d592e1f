/**
 * A module version's id: sha256 over a canonical encoding of its bundle (entry path, then each
 * file's relative path and text, sorted by path), so any machine and either runtime computes the
 * same id for the same sources, whatever order the files were read in, and any changed byte
 * changes it. Tables show the short form.
 *
 * Encoding (UTF-8): `ferry-module/1\n`, then each string as `<byte length>:<bytes>`: the entry,
 * the number of files, then path and text of each file in JavaScript's default string order.
 *
 * @example
 * ```ts
 * const id = hashBundle("Counter.ts", { "Counter.ts": "export default class Counter {}\n" });
 * shortHash(id); // "3f2a9c0d1e4b"
 * ```
 * @module
 */
import { createHash } from "../builtins/crypto.ts";
import { moduleHashPattern } from "../../schemas/api.schema.ts";

const hashPattern = new RegExp(moduleHashPattern);

/**
 * The content hash of a bundle.
 *
 * @example
 * ```ts
 * hashBundle("A.ts", { "A.ts": "…", "lib/b.ts": "…" }) === hashBundle("A.ts", { "lib/b.ts": "…", "A.ts": "…" }); // true
 * ```
 */
export function hashBundle(entry: string, files: Readonly<Record<string, string>>): string {
  const hash = createHash("sha256");
  const encoder = new TextEncoder();
  const part = (text: string) => {
    const bytes = encoder.encode(text);
    hash.update(`${bytes.byteLength}:`);
    hash.update(bytes);
  };
  hash.update("ferry-module/1\n");
  part(entry);
  const paths = Object.keys(files).sort();
  part(String(paths.length));
  for (const path of paths) {
    part(path);
    part(files[path]!);
  }
  return hash.digest("hex");
}

/**
 * The first 12 hex digits, for tables and messages.
 *
 * @example
 * ```ts
 * shortHash("3f2a9c0d1e4b5a6978…"); // "3f2a9c0d1e4b"
 * ```
 */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/**
 * True for a full module version id.
 *
 * @example
 * ```ts
 * isModuleHash("abc"); // false
 * ```
 */
export function isModuleHash(value: string): boolean {
  return hashPattern.test(value);
}
