/**
 * This node's lease, renewed in a loop: read the fences against this node and stop what they
 * name, then publish the new deadline to the executors. Past the deadline no process of this
 * node runs a step (the executors block), so a node that was frozen, cut off or too slow to
 * renew never runs a process another node may have adopted meanwhile (self-fencing).
 *
 * When the cluster store cannot be reached, the lease may still be carried on, one lease at a
 * time from the moment every peer confirmed that it cannot reach the store either. No node can
 * adopt anything without the store; a peer that reaches it again says so at the next question,
 * and even one that found this node silent long ago must still wait out the fence delay (longer
 * than a lease) after the store answers it, by which time this node's carried lease has ended.
 * So running processes keep running through an outage of the store, and a node cut off alone
 * (a peer does not answer, or still reaches the store) carries nothing on and blocks its
 * processes when its lease ends.
 *
 * @example
 * ```ts
 * manager.add(leaseRenewal(node, store, { intervalMs: () => 1000, storeDownEverywhere, report }));
 * ```
 * @module
 */
import { isFerryError } from "../errors.ts";
import type { FailureReporter, Runnable } from "../manager.ts";
import { delay } from "../manager.ts";
import type { ClusterStore, Fence } from "../store/cluster-store.ts";

/** What the renewal needs of the node state. */
export interface Leaseholder {
  applyFences(fences: readonly Fence[]): Promise<void>;
  setLease(validUntil: number): void;
  /** Tells operators (event and log) that the lease is carried on without the store, or no longer. */
  noteStoreOutage(outage: boolean, reason: string): void;
}

export interface LeaseOptions {
  intervalMs: () => number;
  /** How long one carried-on step lasts: shorter than the store's lease. */
  carryMs: () => number;
  /** Whether every peer answered that it cannot reach the store either. */
  storeDownEverywhere: () => Promise<boolean>;
  report: FailureReporter;
}

/**
 * The lease loop as a runnable. A failed renewal is reported and retried; meanwhile the old
 * deadline stands, so the node stops running processes when it passes (unless the store is down
 * for every node, see the module comment).
 *
 * @example
 * ```ts
 * manager.add(leaseRenewal(node, store, options));
 * ```
 */
export function leaseRenewal(node: Leaseholder, store: ClusterStore, options: LeaseOptions): Runnable {
  return {
    name: "lease renewal",
    async start(signal) {
      let outage = false;
      while (!signal.aborted) {
        try {
          await renewOnce(node, store);
          if (outage) node.noteStoreOutage(false, "the cluster store answers again");
          outage = false;
        } catch (error) {
          const unreachable = isFerryError(error) && error.code === "unavailable";
          if (unreachable && store.kind !== "local" && (await options.storeDownEverywhere())) {
            node.setLease(Date.now() + options.carryMs());
            if (!outage) node.noteStoreOutage(true, "the cluster store is unreachable from every node: processes keep running, no hand-off or adoption starts");
            outage = true;
          } else {
            options.report("lease renewal", error);
          }
        }
        await delay(options.intervalMs(), signal);
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
export async function renewOnce(node: Pick<Leaseholder, "applyFences" | "setLease">, store: ClusterStore): Promise<void> {
  const { validUntil, fences } = await store.renew();
  if (fences.length) await node.applyFences(fences);
  node.setLease(validUntil);
}
