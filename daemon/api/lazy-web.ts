/**
 * The shared trick of the lazily made web objects (`adapters/incoming-request.ts`,
 * `lazy-response.ts`, `plain-headers.ts`): a class that holds plain values for the members a
 * hot path reads, and makes the real web object only when anything else is asked of it.
 *
 * On Node, `Request`, `Response` and `Headers` are its fetch implementation (undici), loaded the
 * first time one of these globals is read: some 3–5 MiB of an idle daemon, which answers its
 * requests without them. So the lazy classes do not read the web class when they are defined:
 * their forwarding members are known by name, and they become subclasses of the web class (for
 * `instanceof`) the moment the program first reads that global. From Node 22 on, a lazy global
 * loads its module as soon as it is looked at at all (even its property descriptor), so it
 * cannot be watched: there a lazy class is linked when one of its objects first makes its web
 * object. On Deno, where the web classes are built in, they are linked at once.
 *
 * @example
 * ```ts
 * class LazyThing { web(): Response { ... } }
 * forwardToWeb(LazyThing.prototype, "Response");
 * new LazyThing() instanceof Response; // true (reading `Response` linked it)
 * ```
 * @module
 */

import process from "node:process";

/** The web classes a lazy class can stand for. */
export type WebClassName = "Request" | "Response" | "Headers";

const BODY_METHODS = ["arrayBuffer", "blob", "bytes", "formData", "json", "text"];

/**
 * The members each web class has, by kind, as the standard defines them; whatever a runtime adds
 * is forwarded too once the class is linked.
 */
const MEMBERS: Record<WebClassName, { getters: readonly string[]; methods: readonly (string | symbol)[] }> = {
  Request: {
    getters: ["method", "url", "headers", "destination", "referrer", "referrerPolicy", "mode", "credentials", "cache", "redirect", "integrity", "keepalive", "isReloadNavigation", "isHistoryNavigation", "signal", "duplex", "body", "bodyUsed"],
    methods: ["clone", ...BODY_METHODS],
  },
  Response: {
    getters: ["type", "url", "redirected", "status", "ok", "statusText", "headers", "body", "bodyUsed"],
    methods: ["clone", ...BODY_METHODS],
  },
  Headers: {
    getters: [],
    methods: ["append", "delete", "get", "getSetCookie", "has", "set", "forEach", "keys", "values", "entries", Symbol.iterator],
  },
};

/**
 * Gives `lazy` (a prototype whose instances have a `web()` method) every member of the web class
 * `name` that it lacks, each reading the object `web()` makes: getters as getters, methods as
 * methods. Once the web class is loaded, it also becomes `lazy`'s prototype, so its instances are
 * `instanceof` it. `fields` are set on each instance: no getter may be defined for them.
 *
 * @example
 * ```ts
 * forwardToWeb(IncomingRequest.prototype, "Request", ["url", "method", "headers"]);
 * ```
 */
export function forwardToWeb(lazy: { web(): object }, name: WebClassName, fields: readonly PropertyKey[] = []): void {
  const forward = (key: PropertyKey, getter: boolean) => {
    if (fields.includes(key) || Object.prototype.hasOwnProperty.call(lazy, key)) return;
    Object.defineProperty(lazy, key, getter ? { get: forwardedGetter(key) } : { value: forwardedMethod(key) });
  };
  for (const key of MEMBERS[name].getters) forward(key, true);
  for (const key of MEMBERS[name].methods) forward(key, false);
  const link = (web: WebClass) => {
    for (const key of Reflect.ownKeys(web.prototype)) {
      if (key === "constructor") continue;
      const descriptor = Object.getOwnPropertyDescriptor(web.prototype, key)!;
      if (descriptor.get) forward(key, true);
      else if (typeof descriptor.value === "function") forward(key, false);
    }
    Object.setPrototypeOf(lazy, web.prototype);
  };
  if (globalsUnwatchable) linkOnFirstWeb(lazy, link);
  else whenLoaded(name, link);
}

/**
 * Whether Node's lazy globals load their module when merely looked at: from Node 22 on they are
 * V8 lazy data properties, which reading the property descriptor already loads.
 */
const globalsUnwatchable = !("Deno" in globalThis) && Number(process.versions.node.split(".")[0]) >= 22;

/** Links `lazy` to the class of the first web object one of its objects makes. */
function linkOnFirstWeb(lazy: { web(): object }, link: (web: WebClass) => void): void {
  const make = lazy.web;
  let linked = false;
  Object.defineProperty(lazy, "web", {
    configurable: true,
    writable: true,
    value: function (this: { web(): object }) {
      const web = make.call(this);
      if (!linked) {
        linked = true;
        link(web.constructor as WebClass);
      }
      return web;
    },
  });
}

/**
 * Whether the web class `name` is still to be loaded: reading it would load the runtime's fetch
 * implementation (Node), rather than hand over a class already there (Deno, or Node once it was read).
 */
function webClassPending(name: WebClassName): boolean {
  // Deno defines its globals as getters too, but they hand over classes it has built in.
  return !onDeno && typeof Object.getOwnPropertyDescriptor(globalThis, name)?.get === "function";
}

/** Deno, whose web classes are built in (and whose `Request` and `Response` read a `Headers`' hidden list). */
export const onDeno = "Deno" in globalThis;

function forwardedGetter(key: PropertyKey) {
  return function (this: { web(): object }) {
    return Reflect.get(this.web(), key);
  };
}

function forwardedMethod(key: PropertyKey) {
  return function (this: { web(): object }, ...args: unknown[]) {
    const target = this.web();
    return (Reflect.get(target, key) as (...a: unknown[]) => unknown).apply(target, args);
  };
}

type WebClass = { prototype: object };

/**
 * Calls `link` with the web class `name` as soon as it exists: now, if reading it costs nothing,
 * else when the program first reads the global (Node defines it as a getter that loads undici).
 * The global stays what it was: the same class, readable and replaceable.
 */
function whenLoaded(name: WebClassName, link: (web: WebClass) => void): void {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
  if (!webClassPending(name) || !descriptor?.configurable) return link((globalThis as unknown as Record<string, WebClass>)[name]!);
  const settle = (value: unknown) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: descriptor.enumerable });
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: descriptor.enumerable,
    get() {
      const web = descriptor.get!.call(globalThis) as WebClass;
      settle(web);
      link(web);
      return web;
    },
    set: settle,
  });
}
