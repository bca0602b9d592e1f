/**
 * Turning a process's return value into JSON and into the line `ferry call` prints.
 * @module
 */
import { inspect } from "node:util";

/**
 * A JSON-safe copy: BigInt becomes a decimal string, Map an object (string keys) or an array of
 * entries, Set an array, Date an ISO string, typed arrays arrays of numbers, undefined null.
 *
 * @example
 * ```ts
 * toJsonSafe(new Map([["a", 1n]])); // { a: "1" }
 * ```
 */
export function toJsonSafe(value: unknown, seen = new Set<object>()): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return null;
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  try {
    // Like JSON.stringify: an invalid Date is null, not a RangeError.
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (value instanceof Map) {
      const entries = [...value.entries()];
      return entries.every(([k]) => typeof k === "string")
        ? Object.fromEntries(entries.map(([k, v]) => [k, toJsonSafe(v, seen)]))
        : entries.map(([k, v]) => [toJsonSafe(k, seen), toJsonSafe(v, seen)]);
    }
    if (value instanceof Set) return [...value].map((v) => toJsonSafe(v, seen));
    if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => toJsonSafe(v, seen));
    if (Array.isArray(value)) return value.map((v) => toJsonSafe(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** How `ferry call` prints a value: strings bare, everything else as the runtime inspects it. */
export function displayValue(value: unknown): string {
  if (typeof value === "string") return value;
  return inspect(value, { depth: 6, breakLength: 100 });
}
