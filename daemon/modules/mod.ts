/**
 * Process modules: the class files in the processes folder, listed, loaded (fresh per version)
 * and checked against the process contract; and module versions as content hashes, bundled with
 * the files they import so they travel between nodes, verified, cached and resolved.
 *
 * @example
 * ```ts
 * import { listModules, loadProcessClass } from "./daemon/modules/mod.ts";
 * const Counter = await loadProcessClass((await listModules("processes")).get("Counter")!, 1);
 * ```
 * @module
 */
export { callableMethods, listModules, loadProcessClass, type ProcessClass } from "./inspect.ts";
export { checkModules } from "./check.ts";
export { bundleModule, type ModuleBundle } from "./bundle.ts";
export { hashBundle, isModuleHash, shortHash } from "./hash.ts";
export { type CacheFs, durableCacheFs, ferryInstallRoot, ModuleCache } from "./cache.ts";
export { ModuleRegistry, type ModuleRegistryOptions, type PeerBundle, type ResolvedModule } from "./registry.ts";
export { verifyBundle } from "./verify.ts";
