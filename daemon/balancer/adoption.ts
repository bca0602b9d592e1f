/**
 * Taking over from a node that is gone. For each unpinned process the gone node owned whose home
 * (among the nodes alive) is this one, the adopter fences it in the cluster store — from then on
 * the gone node must not run it — and, after waiting out any lease the gone node may still hold
 * (`store.fenceWaitMs`, once for the whole batch, in the background), runs it from the gone
 * node's latest checkpoint. A gone node that was only frozen or slow sees the fence at its next
 * lease renewal, or blocks its processes when its lease runs out, before the adopter starts.
 *
 * @example
 * ```ts
 * adoption.from("gamma", ["alpha", "beta"]);
 * ```
 * @module
 */
import { describeError } from "../errors.ts";
import type { NodeState } from "../node/mod.ts";
import type { ClusterStore, Fence } from "../store/cluster-store.ts";
import type { OwnedProcess } from "../store/mod.ts";
import type { FailureReporter } from "../manager.ts";
import { delay } from "../manager.ts";
import { homeOf } from "./home.ts";

export class Adoption {
  readonly #node: NodeState;
  readonly #store: ClusterStore;
  readonly #decide: (text: string) => void;
  readonly #report: FailureReporter;
  /** Adoptions whose fence wait is running, by gone node. */
  readonly #running = new Map<string, Promise<void>>();

  constructor(node: NodeState, store: ClusterStore, decide: (text: string) => void, report: FailureReporter) {
    this.#node = node;
    this.#store = store;
    this.#decide = decide;
    this.#report = report;
  }

  /** Starts adopting what `gone` owned and this node should take (no-op while one is running). */
  from(gone: string, alive: string[]): void {
    if (this.#running.has(gone)) return;
    const run = this.#adopt(gone, alive).catch((error: unknown) => this.#report(`adoption from ${gone}`, error)).finally(() => this.#running.delete(gone));
    this.#running.set(gone, run);
  }

  /** Resolves once no adoption is running. */
  async settled(): Promise<void> {
    await Promise.all([...this.#running.values()]);
  }

  async #adopt(gone: string, alive: string[]): Promise<void> {
    const node = this.#node;
    const claimed: Array<{ owned: OwnedProcess; fence: Fence }> = [];
    for (const { owned, fencedBy } of await this.#store.ownedBy(gone)) {
      const spec = node.desired(owned.name);
      if (!spec || spec.node !== undefined || owned.status === "prepared") continue;
      if (fencedBy !== undefined && fencedBy !== node.node) continue;
      if (fencedBy === undefined && homeOf(owned.name, alive) !== node.node) continue;
      if (node.get(owned.name) || node.owned(owned.name)) continue;
      const fence = await this.#store.fence(gone, owned, node.node);
      if (fence) claimed.push({ owned, fence });
    }
    if (!claimed.length) return;
    this.#decide(`${claimed.map((c) => c.owned.name).join(", ")}: fenced on ${gone}, which is gone; adopting after ${this.#store.fenceWaitMs} ms`);
    await delay(this.#store.fenceWaitMs);
    for (const { owned } of claimed) {
      if (node.closing) return;
      let snapshot: Uint8Array | undefined;
      try {
        snapshot = await this.#store.adoptableCheckpoint(gone, owned.name, owned.generation);
      } catch (error) {
        // Fenced already: adopted as failed, naming the checkpoint, rather than silently reset.
        this.#decide(`${owned.name}: cannot read its checkpoint on ${gone}: ${describeError(error)}`);
        await node.adopt(owned, undefined, gone, error);
        continue;
      }
      await node.adopt(owned, snapshot, gone);
      this.#decide(`${owned.name}: adopted from ${gone}, which is gone (${snapshot ? "from its latest checkpoint" : "no checkpoint: restarted from its args"})`);
    }
  }
}
