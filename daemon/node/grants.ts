/**
 * Balancer moves of processes declared without `node:`. A source grants one of its movable
 * processes to a receiver (receiver-initiated: the receiver asked; sender-initiated: the source
 * offered), which then pulls it through the ordinary hand-off. A grant is what lets `handoff.begin`
 * move a process that cluster.yaml does not place anywhere; it expires after the hand-off timeout.
 *
 * @example
 * ```ts
 * node.grants.grant(undefined, "beta"); // { name: "b3", generation: 1 } or { name: null }
 * ```
 * @module
 */
import type { BalanceGrant, NodeLoad } from "../../schemas/api.schema.ts";
import type { NodeParts } from "./parts.ts";
import { placedBy } from "./views.ts";

export class Grants {
  readonly #parts: NodeParts;
  /** Processes this node granted to a peer, valid until `expires`. */
  readonly #granted = new Map<string, { to: string; expires: number }>();
  /** Processes a peer granted to this node; the reconciler pulls them. */
  readonly #wanted = new Map<string, { from: string; generation: number; expires: number }>();

  constructor(parts: NodeParts) {
    this.#parts = parts;
  }

  /** Whether some process is declared without `node:` (otherwise the balancer has nothing to do). */
  hasUnpinned(processes: Record<string, { node?: string }>): boolean {
    return Object.values(processes).some((p) => p.node === undefined);
  }

  /** Unpinned processes that may move now, longest-staying first. */
  movable(): Array<{ name: string; stayedMs: number }> {
    const now = Date.now();
    const minStay = this.#parts.settings().balancer.minStayMs;
    const out: Array<{ name: string; stayedMs: number }> = [];
    for (const p of this.#parts.table.values()) {
      if (p.state !== "running" || p.gate || p.outgoing || this.#granted.has(p.name)) continue;
      if (placedBy(this.#parts.desired(p.name)) !== "balancer" || now - p.arrivedAt < minStay) continue;
      out.push({ name: p.name, stayedMs: now - p.arrivedAt });
    }
    return out.sort((a, b) => b.stayedMs - a.stayedMs);
  }

  /**
   * This node's load as policies see it: the processes that run here or are about to (starting,
   * or arriving in a hand-off, or granted to this node and not yet pulled) plus the executors'
   * utilization. A process granted away is as good as gone. Counting only those running at the
   * instant asked let two receivers take the same spare load, or a receiver whose pull was still
   * on its way ask again, and leave the giver the least loaded of all.
   */
  load(): NodeLoad {
    const now = Date.now();
    let processes = 0;
    for (const p of this.#parts.table.values()) {
      if (p.state === "starting" || p.state === "held") processes++;
      else if (p.state === "running" && !((this.#granted.get(p.name)?.expires ?? 0) > now)) processes++;
    }
    for (const [name, wanted] of this.#wanted) if (wanted.expires > now && !this.#parts.table.has(name)) processes++;
    const utilization = this.#parts.pool.utilization();
    return { node: this.#parts.node, processes, utilization, load: processes + utilization, movable: this.movable().length };
  }

  /** Grants one movable process (`name`, or the longest-staying one) to `to`, which then pulls it. */
  grant(name: string | undefined, to: string): BalanceGrant {
    if (this.#parts.closing()) return { name: null };
    const candidates = this.movable();
    const chosen = name ? candidates.find((c) => c.name === name) : candidates[0];
    const held = chosen && this.#parts.table.get(chosen.name);
    if (!chosen || !held) return { name: null };
    this.#granted.set(chosen.name, { to, expires: Date.now() + this.#parts.settings().handoffTimeoutMs });
    return { name: chosen.name, generation: held.generation };
  }

  /** Whether a live grant lets `to` pull `name`. */
  allows(name: string, to: string): boolean {
    const grant = this.#granted.get(name);
    return grant !== undefined && grant.to === to && grant.expires > Date.now();
  }

  /** The hand-off the grant was for has begun. */
  used(name: string): void {
    this.#granted.delete(name);
  }

  /** A peer granted `name` to this node: pull it at the next reconcile. */
  want(name: string, from: string, generation: number): void {
    this.#wanted.set(name, { from, generation, expires: Date.now() + this.#parts.settings().handoffTimeoutMs });
    this.#parts.enqueue(name);
  }

  /** The live grant a peer made to this node for `name`, consumed by the reconciler. */
  takeWanted(name: string): { from: string; generation: number } | undefined {
    const wanted = this.#wanted.get(name);
    this.#wanted.delete(name);
    return wanted && wanted.expires > Date.now() ? wanted : undefined;
  }
}
