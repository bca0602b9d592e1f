/**
 * The destination side of a hand-off (receiver-initiated pull). When cluster.yaml places a process
 * on this node and this node does not hold it, it asks its peers who does and pulls it:
 *
 * 1. `handoff.begin` — the holder suspends the process at a safe point and answers with its
 *    snapshot; the process runs nowhere from here on.
 * 2. prepare — this node stores the snapshot durably, loads the module and instantiates the
 *    process without running it, and journals `prepared`.
 * 3. `handoff.commit` — the holder journals `released` and drops its copy. Only then does this
 *    node run the process. If the commit's answer is lost, this node is in doubt and asks the
 *    holder (`handoff.status`) before doing anything else; it never runs an in-doubt copy.
 *
 * Any failure before the commit sends `handoff.abort` (or lets the holder's timeout fire), and the
 * holder resumes the process where it was. See docs/protocol.md.
 * @module
 */
import { randomUUID } from "node:crypto";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import type { ReconcileResult } from "../queue.ts";
import type { Local, NodeRuntime } from "../runtime.ts";
import { newGate, ownedBase } from "../runtime.ts";
import type { HandoffStatusResponse, LocateResponse } from "../../schemas/api.schema.ts";
import type { ProcessSpec } from "../../schemas/cluster.schema.ts";
import type { Peer } from "../peers.ts";
import { faults } from "../faults.ts";
import { INLINE_MAX_BYTES } from "../store/mod.ts";
import { homeOf } from "../balancer/balancer.ts";

/** Header carrying what travels with a snapshot besides the fields. */
export const META_HEADER = "ferry-handoff";

export interface HandoffMeta {
  module: string;
  args: string[];
  migrations: number;
  memoryMb?: number;
  /** ms the holder spent before it began suspending (not downtime). */
  preludeMs: number;
  /** run() had returned: the process moves, but does not run again. */
  completed: boolean;
}

function isNetworkError(error: unknown): boolean {
  return isFerryError(error) && (error.code === "unreachable" || error.code === "timeout");
}

/**
 * Asks every peer about `name`. Questions asked in the same turn travel together (one
 * `locate.batch` per peer), so a thousand processes appearing in one edit cost a few requests.
 */
function askPeers(runtime: NodeRuntime, name: string): Promise<Array<{ peer: Peer; answer: LocateResponse } | { peer: Peer; error: unknown }>> {
  let batch = batches.get(runtime);
  if (!batch) {
    const names = new Set<string>();
    const answers = new Promise<Map<Peer, Record<string, LocateResponse> | { error: unknown }>>((resolve) => {
      queueMicrotask(async () => {
        batches.delete(runtime);
        const byPeer = new Map<Peer, Record<string, LocateResponse> | { error: unknown }>();
        await Promise.all([...runtime.peers.values()].map(async (peer) => {
          try {
            byPeer.set(peer, await peer.post<Record<string, LocateResponse>>("locate.batch", { names: [...names] }, 3000));
          } catch (error) {
            byPeer.set(peer, { error });
          }
        }));
        resolve(byPeer);
      });
    });
    batch = { names, answers };
    batches.set(runtime, batch);
  }
  batch.names.add(name);
  return batch.answers.then((byPeer) =>
    [...byPeer].map(([peer, result]) =>
      "error" in result && !(name in result) ? { peer, error: result.error } : { peer, answer: (result as Record<string, LocateResponse>)[name] ?? { holds: false } }
    )
  );
}
const batches = new WeakMap<NodeRuntime, { names: Set<string>; answers: Promise<Map<Peer, Record<string, LocateResponse> | { error: unknown }>> }>();

/** Finds which peer holds `name`; unreachable peers are listed because they might. */
async function locate(runtime: NodeRuntime, name: string): Promise<{ holder?: { peer: Peer; generation: number }; unreachable: string[]; inDoubt: boolean; creatingPeers: string[] }> {
  const answers = await askPeers(runtime, name);
  const unreachable: string[] = [];
  const creatingPeers: string[] = [];
  let inDoubt = false;
  for (const a of answers) {
    if ("error" in a) {
      unreachable.push(a.peer.name);
      continue;
    }
    if (a.answer.holds) return { holder: { peer: a.peer, generation: a.answer.generation ?? 0 }, unreachable, inDoubt, creatingPeers };
    if (a.answer.inDoubt) inDoubt = true;
    if (a.answer.creating) creatingPeers.push(a.peer.name);
  }
  return { unreachable, inDoubt, creatingPeers };
}

/** Gets `name` onto this node: pulled from its holder, or started fresh if nobody holds it. */
export async function acquire(runtime: NodeRuntime, name: string, spec: ProcessSpec): Promise<ReconcileResult> {
  let pending = runtime.pending.get(name);
  if (!pending) runtime.pending.set(name, (pending = { since: new Date().toISOString(), reason: null }));
  // Announced before asking, so of two nodes racing to create it (each read a different edit of
  // cluster.yaml) at least one sees the other; the lower node name goes ahead.
  pending.creating = true;
  try {
    return await acquireAnnounced(runtime, name, spec);
  } finally {
    pending.creating = false;
  }
}

async function acquireAnnounced(runtime: NodeRuntime, name: string, spec: ProcessSpec): Promise<ReconcileResult> {
  const found = await locate(runtime, name);
  const placed = runtime.desired(name)?.node;
  if (runtime.table.has(name) || (placed !== undefined && placed !== runtime.node)) return { done: true };
  if (found.holder) return placed === undefined ? { requeueAfterMs: 5000 } : pull(runtime, name, found.holder.peer, found.holder.generation);
  // A node that is gone (silent for goneAfterMs) and whose journal never owned it cannot hold it.
  const waiting = found.unreachable.filter((node) => !runtime.balancer.ignorable(node, name));
  if (waiting.length) {
    // Not an error to back off from: ask again soon, so the process starts once the node is up.
    const pending = runtime.pending.get(name);
    if (pending) pending.reason = `Waiting for node ${waiting.map((n) => `"${n}"`).join(", ")}, which may hold "${name}" (it starts here once every node answers, or after ${runtime.settings.balancer.goneAfterMs} ms of silence)`;
    return { requeueAfterMs: 500 };
  }
  if (found.inDoubt) return { requeueAfterMs: 100 };
  if (found.creatingPeers.some((peer) => peer < runtime.node)) return { requeueAfterMs: 50 + Math.random() * 100 };
  const owned = {
    name,
    module: spec.module,
    args: spec.args,
    generation: 0,
    migrations: 0,
    lastDowntimeMs: null,
    ...(spec.limits?.memoryMb ? { memoryMb: spec.limits.memoryMb } : {}),
  };
  await runtime.journal.append({ op: "own", ...owned });
  const local = await runtime.startOwned({ ...owned, status: "owned" }, "created");
  if (local.state === "failed") console.error(`[${name}] cannot start: ${local.error}`);
  return { done: true };
}

/**
 * A process declared without `node:`: pulled when a peer granted it to this node (a balancer
 * move); otherwise started fresh only by its home node (rendezvous hash over the nodes that
 * answer), and only if nobody holds it.
 */
export async function acquireUnpinned(runtime: NodeRuntime, name: string, spec: ProcessSpec): Promise<ReconcileResult> {
  const wanted = runtime.wanted.get(name);
  if (wanted) {
    runtime.wanted.delete(name);
    const peer = runtime.peers.get(wanted.from);
    if (peer && Date.now() < wanted.expires) return pull(runtime, name, peer, wanted.generation);
  }
  const found = await locate(runtime, name);
  if (runtime.table.has(name)) return { done: true };
  if (found.holder) {
    runtime.pending.delete(name);
    return { requeueAfterMs: 5000 };
  }
  // An unreachable node blocks the decision unless it is gone and never held this process.
  const waiting = found.unreachable.filter((node) => !runtime.balancer.ignorable(node, name));
  if (waiting.length || found.inDoubt) return { requeueAfterMs: 1000 };
  const answered = [runtime.node, ...[...runtime.peers.keys()].filter((n) => !found.unreachable.includes(n))];
  if (homeOf(name, answered) !== runtime.node) return { requeueAfterMs: 2000 };
  return acquire(runtime, name, spec);
}

async function pull(runtime: NodeRuntime, name: string, peer: Peer, generation: number): Promise<ReconcileResult> {
  const handoffId = randomUUID();
  const settings = runtime.settings;
  const t0 = performance.now();
  let bytes: Uint8Array;
  let meta: HandoffMeta;
  try {
    let pending = runtime.pending.get(name);
    if (!pending) runtime.pending.set(name, (pending = { since: new Date().toISOString(), reason: null }));
    const shown = pending;
    const answer = await peer.postForBytes("handoff.begin", { name, generation, to: runtime.node, handoffId }, settings.handoffTimeoutMs, settings.maxTransferMb * 1024 * 1024, (received, total) => {
      shown.transfer = { received, total };
    });
    shown.transfer = undefined;
    bytes = answer.bytes;
    meta = JSON.parse(answer.headers.get(META_HEADER) ?? "null") as HandoffMeta;
    if (!meta) throw new FerryError("bad_request", "Hand-off answer lacks its metadata");
  } catch (error) {
    const pending = runtime.pending.get(name);
    if (pending) pending.transfer = undefined;
    // Nothing was prepared here; the holder rolls back on its own (abort below is a courtesy).
    void peer.post("handoff.abort", { name, generation, handoffId, reason: describeError(error) }).catch(() => {});
    throw new FerryError(isFerryError(error) ? error.code : "internal", `Hand-off from "${peer.name}" failed: ${describeError(error)}`);
  }
  const received = performance.now();
  const owned = { ...ownedBase({ name, module: meta.module, args: meta.args, generation: generation + 1, migrations: meta.migrations + 1, lastDowntimeMs: null, ...(meta.memoryMb ? { memoryMb: meta.memoryMb } : {}) }) };
  const size = bytes.byteLength;
  // A large snapshot goes to its file now, before its buffer moves to the executor; a small one
  // is journalled below together with `prepared`, sharing one fsync.
  const small = size <= INLINE_MAX_BYTES;
  let saving = small ? undefined : runtime.checkpoints.save(name, owned.generation, bytes, { force: true });
  if (saving) await saving;
  const gate = newGate();
  const local = await runtime.host(owned, small ? bytes.slice() : bytes, true);
  local.gate = gate;
  local.lastTransferBytes = size;
  if (local.state === "failed") {
    const reason = local.error ?? "cannot load it";
    await saving;
    runtime.table.delete(name);
    runtime.checkpoints.remove(name);
    gate.open();
    await peer.post("handoff.abort", { name, generation, handoffId, reason: `Node "${runtime.node}" refused it: ${reason}` }).catch(() => {});
    throw new FerryError("module_invalid", `Hand-off from "${peer.name}" rolled back: node "${runtime.node}" cannot load it: ${reason}`);
  }
  // Durable before the commit: once the holder releases it, this copy is the only one.
  saving ??= runtime.checkpoints.save(name, owned.generation, bytes, { force: true });
  await Promise.all([saving, runtime.journal.append({ op: "prepared", ...owned, from: peer.name, handoffId })]);
  if (faults.delayBeforeCommitMs) await new Promise((r) => setTimeout(r, faults.delayBeforeCommitMs));
  try {
    await peer.post("handoff.commit", { name, generation, handoffId }, settings.handoffTimeoutMs);
  } catch (error) {
    if (isNetworkError(error)) {
      local.error = `In doubt: the commit to "${peer.name}" got no answer (${describeError(error)}); asking it`;
      return { requeueAfterMs: 100 };
    }
    await dropPrepared(runtime, local, handoffId);
    throw new FerryError(isFerryError(error) ? error.code : "internal", `Hand-off from "${peer.name}" was refused at commit: ${describeError(error)}`);
  }
  local.completedBeforeHandoff = meta.completed;
  await activate(runtime, local, owned.generation, { from: peer.name, bytes: size, transferMs: received - t0, downtimeMs: performance.now() - t0 - meta.preludeMs });
  return { done: true };
}

/** The hand-off committed: this node owns the process; run it and tell waiting callers. */
async function activate(
  runtime: NodeRuntime,
  local: Local,
  generation: number,
  stats: { from: string; bytes: number | null; transferMs: number | null; downtimeMs: number | null },
): Promise<void> {
  const owned = runtime.journal.state.owned.get(local.name)!;
  void runtime.journal.append({ op: "own", ...ownedBase({ ...owned, lastDowntimeMs: stats.downtimeMs }) });
  try {
    const run = !local.completedBeforeHandoff;
    await runtime.pool.request({ type: "activate", name: local.name, generation, run });
    local.state = run ? "running" : "completed";
    local.error = null;
  } catch (error) {
    local.state = "failed";
    local.error = `resume() failed: ${describeError(error)}`;
  }
  if (stats.downtimeMs !== null) local.lastDowntimeMs = Math.round(stats.downtimeMs * 1000) / 1000;
  local.startedAt = new Date().toISOString();
  local.arrivedAt = Date.now();
  local.gate?.open();
  local.gate = undefined;
  runtime.events.emit({
    type: "transferred",
    process: local.name,
    generation,
    from: stats.from,
    to: runtime.node,
    ...(stats.bytes !== null ? { bytes: stats.bytes } : {}),
    ...(stats.transferMs !== null ? { ms: Math.round(stats.transferMs * 1000) / 1000 } : {}),
  });
  runtime.events.emit({
    type: "resumed",
    process: local.name,
    generation,
    from: stats.from,
    ...(local.lastDowntimeMs !== null ? { ms: local.lastDowntimeMs } : {}),
  });
}

async function dropPrepared(runtime: NodeRuntime, local: Local | undefined, handoffId: string): Promise<void> {
  const owned = runtime.journal.state.owned.get(local?.name ?? "");
  const name = local?.name ?? owned?.name;
  if (!name) return;
  await runtime.journal.append({ op: "aborted", name, generation: owned?.generation ?? 0, handoffId });
  if (local?.hosted) await runtime.pool.request({ type: "discard", name }).catch(() => {});
  if (runtime.table.get(name) === local) runtime.table.delete(name);
  runtime.checkpoints.remove(name);
  local?.gate?.open();
}

/**
 * This node journalled `prepared` but does not know whether the holder committed. Ask the holder;
 * until it answers, the copy here never runs.
 */
export async function resolveInDoubt(runtime: NodeRuntime, name: string): Promise<ReconcileResult> {
  const owned = runtime.journal.state.owned.get(name)!;
  const handoffId = owned.handoffId!;
  const peer = runtime.peers.get(owned.from!);
  let local = runtime.table.get(name);
  if (!peer) {
    if (local) local.error = `In doubt: node "${owned.from}" is no longer in cluster.yaml`;
    return { requeueAfterMs: 1000 };
  }
  let status: HandoffStatusResponse;
  try {
    status = await peer.post<HandoffStatusResponse>("handoff.status", { name, handoffId }, 2000);
    if (status.outcome === "pending") {
      await peer.post("handoff.commit", { name, generation: owned.generation - 1, handoffId }, runtime.settings.handoffTimeoutMs);
      status = { outcome: "committed" };
    }
  } catch (error) {
    if (isNetworkError(error)) {
      if (local) local.error = `In doubt: waiting for node "${peer.name}" to say whether it committed (${describeError(error)})`;
      else runtime.pending.set(name, { since: new Date().toISOString(), reason: `In doubt: waiting for node "${peer.name}"` });
      return { requeueAfterMs: 250 };
    }
    status = { outcome: "aborted" };
  }
  if (status.outcome !== "committed") {
    await dropPrepared(runtime, local, handoffId);
    if (!local) {
      await runtime.journal.append({ op: "aborted", name, generation: owned.generation, handoffId });
      runtime.checkpoints.remove(name);
    }
    return { requeueAfterMs: 0 };
  }
  if (!local) {
    // Restarted after a crash: the prepared snapshot is on disk.
    local = await runtime.startOwned({ ...owned, status: "owned" }, "hand-off committed while this node was down", true);
    local.gate = newGate();
  }
  if (local.state === "failed") return { done: true };
  await activate(runtime, local, owned.generation, { from: peer.name, bytes: local.lastTransferBytes, transferMs: null, downtimeMs: null });
  return { done: true };
}
