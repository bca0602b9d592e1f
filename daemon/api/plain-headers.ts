/**
 * A `Headers` that needs no fetch implementation: the standard's behaviour (case-insensitive
 * names, combined values, sorted iteration, `getSetCookie()`, the same `TypeError`s) over a plain
 * map. The Node adapter gives each request's headers as one, and a buffered answer's headers are
 * one until its web object is made, so an idle daemon answering JSON requests never loads undici
 * (see `lazy-web.ts`). On Node it is `instanceof Headers` once the program reads that global.
 *
 * @example
 * ```ts
 * const headers = newHeaders({ "Content-Type": "application/json" });
 * headers.get("content-type"); // "application/json"
 * ```
 * @module
 */
import { forwardToWeb, onDeno } from "./lazy-web.ts";

/** What `new Headers()` takes: pairs or a record. */
type HeadersInit = ConstructorParameters<typeof Headers>[0];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function checkedName(name: string): string {
  const text = String(name);
  if (!TOKEN.test(text)) throw new TypeError(`Headers: "${text}" is an invalid header name.`);
  return text.toLowerCase();
}

function checkedValue(name: string, value: string): string {
  const text = String(value).replace(EDGE_WHITESPACE, "");
  if (FORBIDDEN_IN_VALUE.test(text)) throw new TypeError(`Headers: the value of "${name}" is invalid.`);
  return text;
}

export class PlainHeaders {
  readonly #values = new Map<string, string>();
  /** Set-Cookie values stay apart: they cannot be combined into one. */
  readonly #cookies: string[] = [];

  constructor(init?: HeadersInit) {
    if (init === undefined || init === null) return;
    if (Symbol.iterator in Object(init)) {
      for (const pair of init as Iterable<readonly string[]>) {
        if (pair.length !== 2) throw new TypeError("Headers: a header pair must have exactly a name and a value.");
        this.append(pair[0]!, pair[1]!);
      }
    } else {
      for (const [name, value] of Object.entries(init as Record<string, string>)) this.append(name, value);
    }
  }

  append(name: string, value: string): void {
    const key = checkedName(name);
    const text = checkedValue(key, value);
    if (key === "set-cookie") this.#cookies.push(text);
    const old = this.#values.get(key);
    this.#values.set(key, old === undefined ? text : `${old}, ${text}`);
  }

  set(name: string, value: string): void {
    const key = checkedName(name);
    const text = checkedValue(key, value);
    if (key === "set-cookie") this.#cookies.splice(0, this.#cookies.length, text);
    this.#values.set(key, text);
  }

  delete(name: string): void {
    const key = checkedName(name);
    if (key === "set-cookie") this.#cookies.length = 0;
    this.#values.delete(key);
  }

  get(name: string): string | null {
    return this.#values.get(checkedName(name)) ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(checkedName(name));
  }

  getSetCookie(): string[] {
    return [...this.#cookies];
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this as unknown as Headers);
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of [...this.#values.keys()].sort()) {
      if (name === "set-cookie") for (const cookie of this.#cookies) yield [name, cookie];
      else yield [name, this.#values.get(name)!];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** A web `Headers` with the same entries, for a member only the web class has. */
  web(): Headers {
    return new Headers([...this.entries()]);
  }
}

// Deno's Request and Response read an object that is a Headers by its prototype as one of their
// own (its hidden list): there it stays a plain iterable, and newHeaders() gives Deno's Headers.
if (!onDeno) forwardToWeb(PlainHeaders.prototype, "Headers");

/**
 * Headers to hand to a handler or keep on a lazily made answer: a {@link PlainHeaders} on Node,
 * where the web class would first have to be loaded and, once it is, costs more to fill than a
 * map (every request's headers are one), and the web `Headers` on Deno, where it is built in.
 *
 * @example
 * ```ts
 * const headers = newHeaders();
 * headers.append("Accept", "application/json");
 * ```
 */
export function newHeaders(init?: HeadersInit): Headers {
  return onDeno ? new Headers(init) : (new PlainHeaders(init) as unknown as Headers);
}
