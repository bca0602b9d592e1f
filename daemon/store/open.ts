/**
 * Picks the cluster store cluster.yaml asks for: etcd when `cluster.store` names endpoints,
 * otherwise the embedded local store over the shared data directory.
 *
 * @example
 * ```ts
 * const store = openStore("alpha", loaded, { replicas });
 * ```
 * @module
 */
import type { LoadedConfig } from "../config/mod.ts";
import type { ClusterStore } from "./cluster-store.ts";
import { EtcdStore, type Replicas } from "./etcd/etcd-store.ts";
import { LocalStore } from "./local-store.ts";

/**
 * The store of `node`.
 *
 * @example
 * ```ts
 * const store = openStore("alpha", loaded, {});
 * ```
 */
export function openStore(node: string, loaded: LoadedConfig, options: { replicas?: Replicas }): ClusterStore {
  const cluster = loaded.config.cluster;
  const leaseMs = cluster.balancer.goneAfterMs;
  if (cluster.store) {
    return new EtcdStore({ settings: cluster.store, dir: loaded.dir, cluster: cluster.name, node, leaseMs, ...(options.replicas ? { replicas: options.replicas } : {}) });
  }
  return new LocalStore({ dataDir: loaded.dataDir, node, leaseMs });
}
