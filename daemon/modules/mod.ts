/**
 * Process modules: the class files in the processes folder, listed, loaded (fresh per version)
 * and checked against the process contract.
 *
 * @example
 * ```ts
 * import { listModules, loadProcessClass } from "./daemon/modules/mod.ts";
 * const Counter = await loadProcessClass((await listModules("processes")).get("Counter")!, 1);
 * ```
 * @module
 */
export { callableMethods, checkModules, listModules, loadProcessClass, type ProcessClass } from "./inspect.ts";
