/**
 * Rewrites a local cluster.yaml to hold another revision's values while keeping what only this
 * file has: its comments, its key order, its flow or block style. Only the values that differ are
 * set, and keys the new revision dropped are deleted, through the yaml Document API.
 *
 * @example
 * ```ts
 * mergeConfigText("# mine\nprocesses:\n  c: { module: C, node: a }\n", "processes:\n  c: { module: C, node: b }\n");
 * // "# mine\nprocesses:\n  c: { module: C, node: b }\n"
 * ```
 * @module
 */
import { isMap, parse, parseDocument } from "./yaml.ts";
import type { Document } from "./yaml.ts";

/**
 * `local` with the data of `incoming`; `incoming` as it is when `local` cannot be parsed.
 *
 * @example
 * ```ts
 * const text = mergeConfigText(readFileSync(file, "utf8"), revision.text);
 * ```
 */
export function mergeConfigText(local: string, incoming: string): string {
  const doc = parseDocument(local);
  const next = parseDocument(incoming);
  if (doc.errors.length || next.errors.length || !isMap(doc.contents)) return incoming;
  apply(doc, [], next.toJS() as unknown);
  return doc.toString({ flowCollectionPadding: false });
}

function apply(doc: Document, path: readonly (string | number)[], value: unknown): void {
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  if (isPlainObject(value) && isMap(node)) {
    const existing = new Set(node.items.map((pair) => String((pair.key as { value?: unknown })?.value ?? pair.key)));
    for (const [key, child] of Object.entries(value)) apply(doc, [...path, key], child);
    for (const key of existing) if (!Object.hasOwn(value, key)) doc.deleteIn([...path, key]);
    return;
  }
  const current = doc.getIn(path) as unknown;
  const currentJs = current && typeof current === "object" && "toJSON" in current ? (current as { toJSON(): unknown }).toJSON() : current;
  if (JSON.stringify(currentJs) !== JSON.stringify(value)) doc.setIn(path, value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether two config texts hold the same values (comments and layout aside).
 *
 * @example
 * ```ts
 * sameConfigData("a: 1 # one\n", "a: 1\n"); // true
 * ```
 */
export function sameConfigData(a: string, b: string): boolean {
  try {
    return canonical(parse(a)) === canonical(parse(b));
  } catch {
    return false;
  }
}

/** JSON with object keys sorted: equal values, equal text, whatever order the file wrote them in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
