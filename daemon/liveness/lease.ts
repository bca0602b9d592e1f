/**
 * This node's lease, renewed in a loop: read the fences against this node and stop what they
 * name, then publish the new deadline to the executors. Past the deadline no process of this
 * node runs a step (the executors block), so a node that was frozen, cut off or too slow to
 * renew never runs a process another node may have adopted meanwhile (self-fencing).
 *
 * @example
 * ```ts
 * manager.add(leaseRenewal(node, store, () => 1000));
 * ```
 * @module
 */
import type { Runnable } from "../manager.ts";
import { delay } from "../manager.ts";
import type { ClusterStore, Fence } from "../store/cluster-store.ts";

/** What the renewal needs of the node state. */
export interface Leaseholder {
  applyFences(fences: readonly Fence[]): Promise<void>;
  setLease(validUntil: number): void;
}

/**
 * The lease loop as a runnable. A failed renewal is reported and retried; meanwhile the old
 * deadline stands, so the node stops running processes when it passes.
 *
 * @example
 * ```ts
 * manager.add(leaseRenewal(node, store, () => Math.min(1000, leaseMs / 4), report));
 * ```
 */
export function leaseRenewal(node: Leaseholder, store: ClusterStore, intervalMs: () => number, report: (source: string, error: unknown) => void): Runnable {
  return {
    name: "lease renewal",
    async start(signal) {
      while (!signal.aborted) {
        try {
          await renewOnce(node, store);
        } catch (error) {
          report("lease renewal", error);
        }
        await delay(intervalMs(), signal);
      }
    },
  };
}

/**
 * One renewal: fences first, then the new deadline.
 *
 * @example
 * ```ts
 * await renewOnce(node, store);
 * ```
 */
export async function renewOnce(node: Leaseholder, store: ClusterStore): Promise<void> {
  const { validUntil, fences } = await store.renew();
  if (fences.length) await node.applyFences(fences);
  node.setLease(validUntil);
}
