/**
 * cluster.yaml: parsing and validation with positioned errors, loading from disk with paths
 * resolved, and watching for edits while keeping the last good config.
 *
 * @example
 * ```ts
 * import { ConfigWatcher, loadClusterConfig } from "./daemon/config/mod.ts";
 * const loaded = await loadClusterConfig("cluster.yaml");
 * ```
 * @module
 */
export { type ParseOptions, parseClusterConfig } from "./parse.ts";
export { type ClusterTarget, type LoadedConfig, type TargetFields, loadClusterConfig, loadClusterTarget, loadClusterText } from "./load.ts";
export { ConfigWatcher, type ConfigWatcherOptions } from "./watch.ts";
