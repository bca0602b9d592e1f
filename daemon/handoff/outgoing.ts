/**
 * The holder's side of a hand-off. `begin` suspends the process at a safe point and answers with
 * its snapshot; the process then waits, suspended, for `commit` (journal `released`, drop the
 * copy) or for `abort` / the hand-off timeout (resume it here, exactly where it stopped).
 * Every message names the process's generation and the hand-off's id; anything stale is refused.
 * @module
 */
import { describeError, FerryError } from "../errors.ts";
import type { Local, NodeRuntime } from "../runtime.ts";
import { newGate } from "../runtime.ts";
import type { HandoffStatusResponse, RequestOf } from "../../schemas/api.schema.ts";
import type { HandoffMeta } from "./incoming.ts";
import { INLINE_MAX_BYTES } from "../store/mod.ts";

function held(runtime: NodeRuntime, name: string): Local {
  const local = runtime.table.get(name);
  if (!local || local.state === "starting") {
    throw new FerryError("process_not_found", `Process "${name}" is not held by node "${runtime.node}"`);
  }
  return local;
}

/** A pinned process moves where cluster.yaml says; an unpinned one where this node granted it. */
function placesOn(runtime: NodeRuntime, name: string, to: string): boolean {
  const spec = runtime.desired(name);
  if (!spec) return false;
  if (spec.node !== undefined) return spec.node === to;
  const grant = runtime.grants.get(name);
  return grant !== undefined && grant.to === to && grant.expires > Date.now();
}

/** Suspends the process for a hand-off to `to` and returns its snapshot and metadata. */
export async function beginHandoff(runtime: NodeRuntime, req: RequestOf<"handoff.begin">): Promise<{ snapshot: Uint8Array; meta: HandoffMeta }> {
  const received = performance.now();
  if (runtime.closing) throw new FerryError("conflict", `Node "${runtime.node}" is stopping; it hands "${req.name}" over after its restart`);
  let local = held(runtime, req.name);
  if (!placesOn(runtime, req.name, req.to)) {
    // The destination may have read a newer cluster.yaml than this node.
    await runtime.reloadConfig();
    local = held(runtime, req.name);
    if (!placesOn(runtime, req.name, req.to)) {
      throw new FerryError("conflict", `cluster.yaml does not place "${req.name}" on node "${req.to}", and no balancer move grants it`);
    }
  }
  runtime.grants.delete(req.name);
  if (local.generation !== req.generation) {
    throw new FerryError("stale_generation", `Hand-off of "${req.name}" names generation ${req.generation}, but it is at ${local.generation}`);
  }
  if (local.outgoing || local.gate) throw new FerryError("conflict", `Process "${req.name}" is already in a hand-off`);
  if (!local.hosted) throw new FerryError("conflict", `Process "${req.name}" has failed and holds no state to move`, { hint: local.error ?? undefined });
  const wasState = local.state;
  local.completedBeforeHandoff = wasState === "completed";
  local.gate = newGate();
  local.state = "suspending";
  const suspendedAt = performance.now();
  try {
    // A call already executing finishes first, so its effect is in the snapshot.
    await Promise.allSettled([...local.inflight]);
    const { snapshot } = await runtime.pool.request({ type: "suspend", name: req.name, deadlineMs: runtime.settings.suspendDeadlineMs });
    // If this node crashes before the outcome is known, it resumes from exactly this state. A
    // large state is written while it streams out (a crash before that write lands falls back to
    // the previous checkpoint); a small one shares an fsync with the journal and is awaited.
    const saving = runtime.checkpoints.save(req.name, local.generation, snapshot);
    if (snapshot.byteLength <= INLINE_MAX_BYTES) await saving;
    else saving.catch((error: unknown) => console.error(`[${req.name}] checkpoint at suspend failed: ${describeError(error)}`));
    local.state = "migrating";
    local.outgoing = {
      handoffId: req.handoffId,
      to: req.to,
      suspendedAt,
      saving: saving.catch(() => {}),
      timer: setTimeout(() => void rollback(runtime, local, req.handoffId, `no commit from "${req.to}" within ${runtime.settings.handoffTimeoutMs} ms`), runtime.settings.handoffTimeoutMs),
    };
    runtime.events.emit({ type: "suspended", process: req.name, generation: local.generation, to: req.to, bytes: snapshot.byteLength, ms: round(performance.now() - suspendedAt) });
    const meta: HandoffMeta = {
      module: local.module,
      args: local.args,
      migrations: local.migrations,
      ...(local.memoryMb ? { memoryMb: local.memoryMb } : {}),
      preludeMs: suspendedAt - received,
      completed: wasState === "completed",
    };
    return { snapshot, meta };
  } catch (error) {
    local.state = wasState === "suspending" ? "running" : wasState;
    local.error = `Hand-off to "${req.to}" failed: ${describeError(error)}`;
    local.gate.open();
    local.gate = undefined;
    runtime.events.emit({ type: "rolled-back", process: req.name, to: req.to, reason: describeError(error) });
    throw error;
  }
}

/** The destination stored the snapshot: release the process for good. Idempotent per hand-off. */
export async function commitHandoff(runtime: NodeRuntime, req: RequestOf<"handoff.commit">): Promise<{ ok: true }> {
  const released = runtime.journal.state.released.get(req.name);
  if (released?.handoffId === req.handoffId) return { ok: true };
  const local = runtime.table.get(req.name);
  const outgoing = local?.outgoing;
  if (!local || !outgoing || outgoing.handoffId !== req.handoffId || local.generation !== req.generation) {
    throw new FerryError("conflict", `Hand-off ${req.handoffId} of "${req.name}" is not pending here (rolled back or stale)`);
  }
  clearTimeout(outgoing.timer);
  // Cleared before the first await, so a rollback (timeout, disconnect) cannot race the commit.
  local.outgoing = undefined;
  await runtime.journal.append({ op: "released", name: req.name, generation: local.generation, to: outgoing.to, handoffId: req.handoffId });
  runtime.table.delete(req.name);
  local.gate?.open({ movedTo: outgoing.to });
  // The answer is what the destination waits for; cleaning up here need not delay it.
  setTimeout(() => void runtime.pool.request({ type: "discard", name: req.name }).catch(() => {}), 0);
  void outgoing.saving.then(() => {
    if (!runtime.journal.state.owned.has(req.name)) runtime.checkpoints.remove(req.name);
  });
  runtime.events.emit({ type: "transferred", process: req.name, generation: local.generation + 1, from: runtime.node, to: outgoing.to, ms: round(performance.now() - outgoing.suspendedAt) });
  return { ok: true };
}

/** The destination gave up: resume here. */
export async function abortHandoff(runtime: NodeRuntime, req: RequestOf<"handoff.abort">): Promise<{ ok: true }> {
  const local = runtime.table.get(req.name);
  if (local?.outgoing?.handoffId === req.handoffId) await rollback(runtime, local, req.handoffId, req.reason);
  return { ok: true };
}

/** What became of a hand-off this node sent; answered only from durable state. */
export async function handoffStatus(runtime: NodeRuntime, req: RequestOf<"handoff.status">): Promise<HandoffStatusResponse> {
  await runtime.journal.durable();
  const released = runtime.journal.state.released.get(req.name);
  if (released?.handoffId === req.handoffId) return { outcome: "committed", generation: released.generation };
  if (runtime.journal.state.aborted.has(req.handoffId)) return { outcome: "aborted" };
  if (runtime.table.get(req.name)?.outgoing?.handoffId === req.handoffId) return { outcome: "pending" };
  return { outcome: "unknown" };
}

/** Resumes a suspended process on this node; the reason shows in `ps` and `events`. */
export async function rollback(runtime: NodeRuntime, local: Local, handoffId: string, reason: string): Promise<void> {
  const outgoing = local.outgoing;
  if (!outgoing || outgoing.handoffId !== handoffId || runtime.table.get(local.name) !== local) return;
  clearTimeout(outgoing.timer);
  local.outgoing = undefined;
  await runtime.journal.append({ op: "aborted", name: local.name, generation: local.generation, handoffId });
  try {
    const completed = local.completedBeforeHandoff === true;
    await runtime.pool.request({ type: "activate", name: local.name, generation: local.generation, run: !completed });
    local.state = completed ? "completed" : "running";
  } catch (error) {
    local.state = "failed";
    local.error = `Resume after rollback failed: ${describeError(error)}`;
  }
  local.error = `Hand-off to "${outgoing.to}" rolled back: ${reason}`;
  local.gate?.open();
  local.gate = undefined;
  runtime.events.emit({ type: "rolled-back", process: local.name, generation: local.generation, to: outgoing.to, reason });
  console.error(`[${local.name}] hand-off to ${outgoing.to} rolled back: ${reason}`);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
