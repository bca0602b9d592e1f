/**
 * The node's reconciler: for one process name, compare what cluster.yaml wants with what this
 * node holds, and take one step — start it fresh, pull it from its holder, settle a hand-off left
 * in doubt, stop it, restart it after its module was fixed, upgrade it in place onto its module's
 * new version — or nothing. The holder of a process never pushes it: the node cluster.yaml names
 * pulls (receiver-initiated).
 *
 * @example
 * ```ts
 * const queue = new WorkQueue(new NodeReconciler(node, liveness));
 * ```
 * @module
 */
import { FerryError } from "../errors.ts";
import type { NodeState } from "../node/mod.ts";
import type { PeerLiveness } from "../liveness/peers.ts";
import { pull, type PullOutcome, resolveInDoubt } from "../handoff/mod.ts";
import { homeOf } from "../balancer/home.ts";
import type { ProcessSpec } from "../../schemas/cluster.schema.ts";
import { Locator } from "./locate.ts";
import { done, type Reconciler, type ReconcileResult, requeueAfter } from "./reconciler.ts";

/** How long a balancer move waits to learn the size of the state it takes (then it goes ahead without). */
const LOCATE_TIMEOUT_MS = 3000;

export class NodeReconciler implements Reconciler {
  readonly #node: NodeState;
  readonly #liveness: PeerLiveness;
  readonly #locator: Locator;

  constructor(node: NodeState, liveness: PeerLiveness) {
    this.#node = node;
    this.#liveness = liveness;
    this.#locator = new Locator(() => node.peers());
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const node = this.#node;
    if (node.closing) return done();
    const doubt = node.incoming.inDoubt(name);
    if (doubt?.handoffId.startsWith("adopt-")) return requeueAfter(1000); // the balancer's adoption finishes it
    if (doubt) {
      node.trace.mark("reconcile", "resolve in doubt", name);
      return outcomeOf(await resolveInDoubt(node, name));
    }
    const desired = node.desired(name);
    const held = node.get(name);
    if (held && (held.waiting || held.outgoing || held.incoming)) return requeueAfter(50);
    if (!desired) {
      node.stopAcquiring(name);
      if (held || node.owned(name)) await node.remove(name, "removed from cluster.yaml");
      return done();
    }
    if (held) {
      if (held.state === "failed") await node.retryFailed(name);
      else if (node.upgradeDue(name)) await node.upgrade(name);
      return done();
    }
    if (desired.node === undefined) return this.#acquireUnpinned(name, desired);
    if (desired.node !== node.node) {
      // The destination pulls; this node only serves the hand-off when asked.
      node.stopAcquiring(name);
      return done();
    }
    return this.#acquire(name, desired);
  }

  /** Gets `name` onto this node: pulled from its holder, or started fresh if nobody holds it. */
  async #acquire(name: string, spec: ProcessSpec): Promise<ReconcileResult> {
    const node = this.#node;
    // Announced before asking, so of two nodes racing to create it (each read a different edit
    // of cluster.yaml) at least one sees the other; the lower node name goes ahead.
    node.setCreating(name, true);
    try {
      node.trace.mark("reconcile", "locate", name);
      const found = await this.#locator.find(name);
      const placed = node.desired(name)?.node;
      if (node.get(name) || (placed !== undefined && placed !== node.node)) return done();
      if (!node.storeReachable) {
        // Ownership changes go through the store: no hand-off or fresh start while it is away.
        node.noteAcquiring(name, `Waiting for the cluster store (${node.storeKind}), which does not answer; "${name}" stays where it is`);
        return requeueAfter(1000);
      }
      if (!node.storageWritable()) {
        // Taking it on needs a durable `prepared` or `own`: wait until the disk takes writes again.
        node.noteAcquiring(name, `Node "${node.node}" cannot write its data directory (${node.storageProblems.join("; ")}); "${name}" waits where it is`);
        return requeueAfter(1000);
      }
      if (found.holder) {
        if (placed === undefined) return requeueAfter(5000);
        node.setCreating(name, false);
        node.trace.mark("reconcile", "pull", name);
        return outcomeOf(await pull(node, { name, from: found.holder.node, generation: found.holder.generation, ...(found.holder.stateBytes !== undefined ? { stateBytes: found.holder.stateBytes } : {}) }));
      }
      const waiting = await this.#blocking(found.unreachable, name);
      if (waiting.length) {
        // Not an error to back off from: ask again soon, so the process starts once the node is up.
        node.noteAcquiring(name, `Waiting for node ${waiting.map((n) => `"${n}"`).join(", ")}, which may hold "${name}" (it starts here once every node answers, or after ${node.settings.balancer.goneAfterMs} ms of silence)`);
        return requeueAfter(500);
      }
      if (found.inDoubt) return requeueAfter(100);
      if (found.creating.some((peer) => peer < node.node)) return requeueAfter(50 + Math.random() * 100);
      node.trace.mark("reconcile", "start fresh", name);
      await node.startFresh(name, spec);
      return done();
    } finally {
      node.setCreating(name, false);
    }
  }

  /**
   * A process declared without `node:`: pulled when a peer granted it to this node (a balancer
   * move); otherwise started fresh only by its home node among those that answer, and only if
   * nobody holds it.
   */
  async #acquireUnpinned(name: string, spec: ProcessSpec): Promise<ReconcileResult> {
    const node = this.#node;
    const wanted = node.grants.takeWanted(name);
    const granter = wanted && node.peer(wanted.from);
    if (wanted && granter) {
      // How large its state is, as for a move by an edit: a large one is pre-copied while it runs.
      const held = await granter.post("locate", { name }, { timeoutMs: LOCATE_TIMEOUT_MS }).catch(() => undefined);
      const stateBytes = held?.holds && held.generation === wanted.generation ? held.stateBytes : undefined;
      return outcomeOf(await pull(node, { name, from: wanted.from, generation: wanted.generation, ...(stateBytes !== undefined ? { stateBytes } : {}) }));
    }
    const found = await this.#locator.find(name);
    if (node.get(name)) return done();
    if (found.holder) {
      node.stopAcquiring(name);
      return requeueAfter(5000);
    }
    const waiting = await this.#blocking(found.unreachable, name);
    if (waiting.length || found.inDoubt) return requeueAfter(1000);
    const answered = [node.node, ...node.peers().map((p) => p.name).filter((n) => !found.unreachable.includes(n))];
    if (homeOf(name, answered) !== node.node) return requeueAfter(2000);
    return this.#acquire(name, spec);
  }

  /** Unreachable peers that block a fresh start: all but those gone that never owned `name`. */
  async #blocking(unreachable: string[], name: string): Promise<string[]> {
    const out: string[] = [];
    for (const peer of unreachable) if (!(await this.#liveness.ignorable(peer, name))) out.push(peer);
    return out;
  }
}

/** What a pull's end means for the queue. */
function outcomeOf(outcome: PullOutcome): ReconcileResult {
  switch (outcome.phase) {
    case "running":
    case "completed":
    case "failed":
      return done();
    case "waiting":
      return requeueAfter(outcome.afterMs);
    case "rolled-back":
      throw new FerryError(outcome.retryable ? "unavailable" : "conflict", outcome.reason, { retryable: outcome.retryable });
  }
}
