/**
 * Picks the platform adapter for the runtime this process runs on.
 *
 * @example
 * ```ts
 * const platform = await currentPlatform();
 * const server = await platform.serve(handler, { hostname: "127.0.0.1", port: 7101 });
 * ```
 * @module
 */
import type { Platform } from "./platform.ts";
export type { Platform, Server, ServeOptions, ServeTls } from "./platform.ts";
export { DEFAULT_LIMITS } from "./limits.ts";

/** The adapter of the runtime this process runs on (Deno when `Deno` is global, else Node). */
export async function currentPlatform(): Promise<Platform> {
  if ("Deno" in globalThis) return (await import("./deno.ts")).denoPlatform;
  return (await import("./node.ts")).nodePlatform;
}
