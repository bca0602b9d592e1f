/**
 * Taking over from a node that is gone. For each unpinned process the gone node owned whose home
 * (among the nodes alive) is this one, the adopter first stores the gone node's latest state here
 * (journalled as an incoming copy that does not run), then fences the process in the cluster
 * store — from then on the gone node must not run it; of several adopters exactly one wins — and,
 * after waiting out any lease the gone node may still hold (`store.fenceWaitMs`, once for the
 * whole batch, in the background), runs it. A gone node that was only frozen or slow sees the
 * fence at its next lease renewal, or blocks its processes when its lease runs out, before the
 * adopter starts. An adopter that restarts mid-way finds its stored copies and finishes.
 *
 * @example
 * ```ts
 * adoption.from("gamma", ["alpha", "beta"]);
 * ```
 * @module
 */
import { randomUUID } from "../builtins/crypto.ts";
import { describeError } from "../errors.ts";
import type { NodeState } from "../node/mod.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
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
    this.#track(gone, () => this.#adopt(gone, alive));
  }

  /** Finishes adoptions this node began before it restarted. */
  resumeUnfinished(): void {
    const byNode = new Map<string, Array<{ name: string; generation: number }>>();
    for (const a of this.#node.adoptionsInProgress()) byNode.set(a.from, [...(byNode.get(a.from) ?? []), a]);
    for (const [gone, list] of byNode) {
      this.#track(gone, async () => {
        for (const { name, generation } of list) {
          // Writes the fence if the crash came before it (our claim is ours to finish).
          const owned = (await this.#store.ownedBy(gone)).find((p) => p.owned.name === name && p.owned.generation === generation - 1);
          if (owned) await this.#store.fence(gone, owned.owned, this.#node.node);
        }
        await delay(this.#store.fenceWaitMs);
        for (const { name } of list) await this.#node.completeAdoption(name);
        this.#decide(`${list.map((a) => a.name).join(", ")}: adoption from ${gone} finished after a restart`);
      });
    }
  }

  /** Resolves once no adoption is running. */
  async settled(): Promise<void> {
    await Promise.all([...this.#running.values()]);
  }

  #track(gone: string, work: () => Promise<void>): void {
    if (this.#running.has(gone)) return;
    const run = work().catch((error: unknown) => this.#report(`adoption from ${gone}`, error)).finally(() => this.#running.delete(gone));
    this.#running.set(gone, run);
  }

  async #adopt(gone: string, alive: string[]): Promise<void> {
    const node = this.#node;
    const claimed: string[] = [];
    for (const { owned, fencedBy } of await this.#store.ownedBy(gone)) {
      const spec = node.desired(owned.name);
      if (!spec || owned.status === "prepared" || fencedBy !== undefined) continue;
      // Unpinned: its home among the nodes alive takes it; pinned: only the node it is pinned to
      // (an edit moved it here from a machine that is gone).
      if (spec.node === undefined ? homeOf(owned.name, alive) !== node.node : spec.node !== node.node) continue;
      if (node.get(owned.name) || node.owned(owned.name) || node.closing) continue;
      if (await this.#claim(gone, owned)) claimed.push(owned.name);
    }
    if (!claimed.length) return;
    this.#decide(`${claimed.join(", ")}: fenced on ${gone}, which is gone; adopting after ${this.#store.fenceWaitMs} ms`);
    await delay(this.#store.fenceWaitMs);
    for (const name of claimed) {
      if (node.closing) return;
      await node.completeAdoption(name);
      this.#decide(`${name}: adopted from ${gone}, which is gone`);
    }
  }

  /** Stores the gone node's state here, then fences it; true when this node won the claim. */
  async #claim(gone: string, owned: OwnedProcess): Promise<boolean> {
    const node = this.#node;
    let snapshot: Uint8Array | undefined;
    try {
      snapshot = await this.#store.adoptableCheckpoint(gone, owned.name, owned.generation);
    } catch (error) {
      // No state to protect: win the claim, then adopt it as failed, naming the checkpoint.
      if (!(await this.#store.fence(gone, owned, node.node))) return false;
      this.#decide(`${owned.name}: cannot read its checkpoint on ${gone}: ${describeError(error)}`);
      await node.adopt(owned, undefined, gone, error);
      return false;
    }
    if (owned.status === "completed") {
      if (!(await this.#store.fence(gone, owned, node.node))) return false;
      await node.adopt(owned, snapshot, gone);
      return false;
    }
    const handoffId = `adopt-${randomUUID()}`;
    await node.prepareAdoption(owned, snapshot, gone, handoffId);
    if (await this.#store.fence(gone, owned, node.node)) return true;
    await node.dropAdoption(owned.name, handoffId);
    return false;
  }
}
