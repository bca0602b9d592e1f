/**
 * Where processes declared without `node:` may go: which ones are movable now, this node's load,
 * and the grants that let a peer pull one (receiver-initiated) or that offer one (sender-initiated).
 * A source grants only what has stayed `minStayMs` and is not already moving.
 *
 * @example
 * ```ts
 * const grant = grantProcess(runtime, undefined, "beta"); // { name: "b3", generation: 1 } or { name: null }
 * ```
 * @module
 */
import type { BalanceGrant, NodeLoad } from "../../schemas/api.schema.ts";
import type { NodeRuntime } from "../runtime.ts";

/** `config` for a process pinned by `node:`, `balancer` for one the balancer places. */
export function placedBy(runtime: NodeRuntime, name: string): "config" | "balancer" {
  const spec = runtime.desired(name);
  return spec && spec.node === undefined ? "balancer" : "config";
}

export function hasUnpinned(runtime: NodeRuntime): boolean {
  return Object.values(runtime.loaded.config.processes).some((p) => p.node === undefined);
}

/** Unpinned processes that may move now, longest-staying first. */
export function movable(runtime: NodeRuntime): Array<{ name: string; stayedMs: number }> {
  const now = Date.now();
  const minStay = runtime.settings.balancer.minStayMs;
  const out: Array<{ name: string; stayedMs: number }> = [];
  for (const local of runtime.table.values()) {
    if (local.state !== "running" || local.gate || local.outgoing || runtime.grants.has(local.name)) continue;
    if (placedBy(runtime, local.name) !== "balancer" || now - local.arrivedAt < minStay) continue;
    out.push({ name: local.name, stayedMs: now - local.arrivedAt });
  }
  return out.sort((a, b) => b.stayedMs - a.stayedMs);
}

/** This node's load as policies see it: running processes plus the executors' utilization. */
export function nodeLoad(runtime: NodeRuntime): NodeLoad {
  let processes = 0;
  for (const local of runtime.table.values()) if (local.state === "running") processes++;
  const utilization = runtime.pool.utilization();
  return { node: runtime.node, processes, utilization, load: processes + utilization, movable: movable(runtime).length };
}

/**
 * Grants one movable process (`name`, or the longest-staying one) to `to`, which then pulls it.
 * The grant is what lets `handoff.begin` move a process cluster.yaml does not place on `to`.
 */
export function grantProcess(runtime: NodeRuntime, name: string | undefined, to: string): BalanceGrant {
  if (runtime.closing) return { name: null };
  const candidates = movable(runtime);
  const chosen = name ? candidates.find((c) => c.name === name) : candidates[0];
  if (!chosen) return { name: null };
  runtime.grants.set(chosen.name, { to, expires: Date.now() + runtime.settings.handoffTimeoutMs });
  return { name: chosen.name, generation: runtime.table.get(chosen.name)!.generation };
}

/** A peer granted `name` to this node: pull it at the next reconcile. */
export function wantProcess(runtime: NodeRuntime, name: string, from: string, generation: number): void {
  runtime.wanted.set(name, { from, generation, expires: Date.now() + runtime.settings.handoffTimeoutMs });
  runtime.queue.add(name);
}
