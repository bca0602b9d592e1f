/**
 * Picks the cluster store cluster.yaml asks for: etcd when `cluster.store` names endpoints,
 * otherwise the embedded local store over the shared data directory.
 *
 * @example
 * ```ts
 * const store = await openStore("alpha", loaded, { replicas });
 * ```
 * @module
 */
import type { LoadedConfig } from "../config/mod.ts";
import type { ClusterStore } from "./cluster-store.ts";
import type { Replicas } from "./etcd/etcd-store.ts";
import { LocalStore } from "./local-store.ts";

/**
 * The store of `node`. The etcd client is loaded only when a store is declared: a single machine
 * does not pay for it in memory or start-up time.
 *
 * @example
 * ```ts
 * const store = await openStore("alpha", loaded, {});
 * ```
 */
export async function openStore(node: string, loaded: LoadedConfig, options: { replicas?: Replicas }): Promise<ClusterStore> {
  const cluster = loaded.config.cluster;
  const leaseMs = cluster.balancer.goneAfterMs;
  if (cluster.store) {
    const { EtcdStore } = await import("./etcd/etcd-store.ts");
    return new EtcdStore({ settings: cluster.store, dir: loaded.dir, cluster: cluster.name, node, leaseMs, ...(options.replicas ? { replicas: options.replicas } : {}) });
  }
  return new LocalStore({ dataDir: loaded.dataDir, node, leaseMs });
}
