/**
 * Which peers may be gone. A peer is gone only when both say so: its API has not answered for
 * the lease time (as seen from here), and the cluster store says its lease lapsed. A gone peer
 * that owned processes has them adopted (balancer); one that never owned a process cannot block
 * that process's fresh start.
 *
 * @example
 * ```ts
 * const liveness = new PeerLiveness(store, () => settings.balancer.goneAfterMs);
 * liveness.seen("beta");
 * await liveness.isGone("gamma");
 * ```
 * @module
 */
import type { ClusterStore } from "../store/cluster-store.ts";

export class PeerLiveness {
  readonly #store: ClusterStore;
  readonly #goneAfterMs: () => number;
  readonly #lastSeen = new Map<string, number>();
  readonly #startedAt = Date.now();

  constructor(store: ClusterStore, goneAfterMs: () => number) {
    this.#store = store;
    this.#goneAfterMs = goneAfterMs;
  }

  /** `node`'s API answered just now. */
  seen(node: string): void {
    this.#lastSeen.set(node, Date.now());
  }

  /** Gone: silent here for the lease time, and its lease lapsed in the store. */
  async isGone(node: string): Promise<boolean> {
    const seen = this.#lastSeen.get(node) ?? this.#startedAt;
    if (Date.now() - seen < this.#goneAfterMs()) return false;
    return this.#store.isGone(node);
  }

  /**
   * Whether `node`, unreachable, can be ignored when deciding who creates `name`: it is gone and
   * owned no such process (if it did, adoption takes it over instead).
   */
  async ignorable(node: string, name: string): Promise<boolean> {
    if (!(await this.isGone(node))) return false;
    return !(await this.#store.ownedBy(node)).some((p) => p.owned.name === name && p.fencedBy === undefined);
  }
}
