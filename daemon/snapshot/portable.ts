/**
 * Which values may travel in a snapshot. Walks a process's fields before encoding so that a field
 * that cannot migrate (a function, a socket, an instance of an unregistered class) fails the
 * suspend with its path in the message, instead of arriving silently changed on the other side.
 * @module
 */
import { FerryError } from "../errors.ts";

const portableClasses = new Set<Function>();

/** Allows instances of `cls` in snapshots; the encoder must know how to pack it (see codec.ts). */
export function allowPortableClass(cls: Function): void {
  portableClasses.add(cls);
}

const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "object" && value !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `a ${name} instance` : "an object with a foreign prototype";
  }
  return typeof value;
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (parent ? `${parent}.${key}` : key) : `${parent}[${JSON.stringify(key)}]`;
}

/**
 * Throws a `not_serializable` FerryError naming the first field that cannot be migrated.
 *
 * @example
 * ```ts
 * assertPortable({ seen: new Set([1]), at: new Date() }, "Counter"); // ok
 * assertPortable({ cb: () => 1 }, "Counter"); // throws: Field "cb" of Counter holds a function
 * ```
 */
export function assertPortable(fields: Record<string, unknown>, owner: string): void {
  const seen = new Set<object>();
  const stack: Array<[unknown, string]> = Object.keys(fields).map((k) => [fields[k], pathOf("", k)]);
  while (stack.length) {
    const [value, path] = stack.pop()!;
    const problem = check(value, path, seen, stack);
    if (problem) {
      throw new FerryError(
        "not_serializable",
        `Field "${path}" of ${owner} holds ${problem}, which cannot be migrated`,
        { hint: "keep plain data in fields: objects, arrays, Map, Set, Date, BigInt, typed arrays" },
      );
    }
  }
}

function check(value: unknown, path: string, seen: Set<object>, stack: Array<[unknown, string]>): string | undefined {
  switch (typeof value) {
    case "function":
    case "symbol":
      return describe(value);
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null || seen.has(value)) return undefined;
  seen.add(value);
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) stack.push([record[key], pathOf(path, key)]);
    return undefined;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => stack.push([item, pathOf(path, i)]));
    return undefined;
  }
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      stack.push([k, `${path}.<key ${i}>`]);
      stack.push([v, `${path}.get(${typeof k === "string" ? JSON.stringify(k) : String(k)})`]);
      i++;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const v of value) stack.push([v, `${path}.<item ${i++}>`]);
    return undefined;
  }
  if (
    value instanceof Date || value instanceof RegExp || value instanceof ArrayBuffer ||
    Object.getPrototypeOf(proto) === typedArrayProto || value instanceof DataView
  ) {
    return undefined;
  }
  if (value instanceof Error) return undefined;
  for (const cls of portableClasses) if (value instanceof cls) return undefined;
  return describe(value);
}
