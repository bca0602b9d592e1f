/**
 * The shared trick of the lazily made web objects (`adapters/incoming-request.ts`,
 * `buffered-response.ts`): a class that holds plain values for the members a hot path reads, and
 * makes the real web object only when anything else is asked of it.
 *
 * @example
 * ```ts
 * class LazyThing { web(): Response { ... } }
 * forwardToWeb(LazyThing.prototype, Response.prototype);
 * new LazyThing() instanceof Response; // true
 * ```
 * @module
 */

/**
 * Gives `lazy` (a prototype whose instances have a `web()` method) every member of `web` that it
 * lacks, each reading the object `web()` makes: getters as getters, methods as methods. Then
 * makes `web` its prototype, so its instances are `instanceof` the web class. `fields` are set on
 * each instance: no getter may be defined for them.
 *
 * @example
 * ```ts
 * forwardToWeb(IncomingRequest.prototype, Request.prototype, ["url", "method", "headers"]);
 * ```
 */
export function forwardToWeb(lazy: { web(): object }, web: object, fields: readonly PropertyKey[] = []): void {
  for (const key of Reflect.ownKeys(web)) {
    if (key === "constructor" || fields.includes(key) || Object.prototype.hasOwnProperty.call(lazy, key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(web, key)!;
    if (descriptor.get) {
      Object.defineProperty(lazy, key, {
        get(this: { web(): object }) {
          return Reflect.get(this.web(), key);
        },
      });
    } else if (typeof descriptor.value === "function") {
      Object.defineProperty(lazy, key, {
        value(this: { web(): object }, ...args: unknown[]) {
          const target = this.web();
          return (Reflect.get(target, key) as (...a: unknown[]) => unknown).apply(target, args);
        },
      });
    }
  }
  Object.setPrototypeOf(lazy, web);
}
