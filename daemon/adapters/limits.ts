/**
 * The connection limits of {@link ServeOptions}, defaults filled in and values checked in one step
 * before a server starts, so a bad value fails at start-up rather than as a silent "no limit".
 * @module
 */
import { FerryError } from "../errors.ts";
import type { ServeOptions } from "./platform.ts";

/** {@link ServeOptions} with every limit present. */
export type ServeLimits = Required<Omit<ServeOptions, "tls">>;

/** The defaults of a daemon API on a LAN, as documented on {@link ServeOptions}. */
export const DEFAULT_LIMITS = {
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  maxConnections: 1024,
} as const;

/**
 * Fills in the default limits and checks that each is a positive integer.
 *
 * @example
 * ```ts
 * resolveServeOptions({ hostname: "127.0.0.1", port: 0 }).headersTimeoutMs; // 10000
 * ```
 */
export function resolveServeOptions(options: ServeOptions): ServeLimits {
  const resolved: ServeLimits = {
    hostname: options.hostname,
    port: options.port,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_LIMITS.headersTimeoutMs,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_LIMITS.bodyTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_LIMITS.idleTimeoutMs,
    maxConnections: options.maxConnections ?? DEFAULT_LIMITS.maxConnections,
  };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof typeof DEFAULT_LIMITS)[]) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new FerryError("bad_request", `Cannot serve with ${key} "${value}"`, { hint: "use a positive whole number" });
    }
  }
  return resolved;
}
