/**
 * The node state's part in sending a process away: the effects the holder's hand-off runner
 * asks for (suspend, checkpoint at suspend, release, resume after a rollback), each a complete
 * change of the process's lifecycle. Decisions live in `handoff/source.ts`; this file only does.
 *
 * @example
 * ```ts
 * const snapshot = await node.outgoing.suspend("counter", request);
 * await node.outgoing.saveAtSuspend("counter", snapshot);
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import { describeError, FerryError } from "../errors.ts";
import { faults } from "../faults.ts";
import { delay } from "../manager.ts";
import type { HandoffMeta, HandoffStatusResponse } from "../../schemas/api.schema.ts";
import type { BeginFacts, BeginRequest } from "../handoff/source.ts";
import type { Grants } from "./grants.ts";
import type { ManagedProcess } from "./process.ts";
import type { NodeParts } from "./parts.ts";
import { saveStreamed, type Snapshot, STREAM_ABOVE_BYTES, streamedSnapshot } from "./snapshot-stream.ts";
import { onThisThread } from "../executor/clock.ts";

export class Outgoing {
  readonly #parts: NodeParts;
  readonly #grants: Grants;

  constructor(parts: NodeParts, grants: Grants) {
    this.#parts = parts;
    this.#grants = grants;
  }

  #held(name: string, handoffId: string): ManagedProcess {
    const p = this.#parts.table.get(name);
    if (!p || p.outgoing?.handoffId !== handoffId) {
      throw new FerryError("conflict", `Hand-off ${handoffId} of "${name}" is not pending here (rolled back or stale)`);
    }
    return p;
  }

  /** What `begin` is checked against. */
  facts(name: string, to: string, reloaded: boolean): BeginFacts {
    const p = this.#parts.table.get(name);
    const spec = this.#parts.desired(name);
    const placed = spec !== undefined && (spec.node !== undefined ? spec.node === to : this.#grants.allows(name, to));
    return {
      node: this.#parts.node,
      name,
      closing: this.#parts.closing(),
      state: p?.state,
      generation: p?.generation,
      hosted: p?.hosted ?? false,
      busy: p !== undefined && (p.outgoing !== undefined || p.incoming !== undefined || p.gate !== undefined),
      lastError: p?.error ?? null,
      placed,
      reloaded,
    };
  }

  /**
   * Suspends the process at a safe point for a hand-off to `req.to` and captures it. Calls wait
   * from here on; one already executing finishes first so its effect is in the snapshot. On
   * failure the process keeps running here and the reason shows in `ps`. A large state is not
   * copied out: it streams from the executor as it is sent (see snapshot-stream.ts).
   */
  async suspend(name: string, req: BeginRequest): Promise<Snapshot> {
    const p = this.#parts.table.get(name);
    if (!p) throw new FerryError("process_not_found", `Process "${name}" is not held by node "${this.#parts.node}"`);
    this.#grants.used(name);
    const wasCompleted = p.state === "completed";
    p.closeGate();
    p.moveTo("suspending");
    p.outgoing = { handoffId: req.handoffId, to: req.to, suspendedAt: performance.now(), wasCompleted, saving: Promise.resolve(), ...(req.precopy ? { precopied: true } : {}) };
    try {
      await Promise.allSettled([...p.inflight]);
      this.#parts.trace.mark("executor", "suspend", name);
      const outgoing = p.outgoing;
      const sentAt = performance.now();
      const stopped = (at: number | undefined) => (outgoing.stoppedAt = onThisThread(at, sentAt, performance.now()));
      if (req.precopy) {
        // After a pre-copy only the last delta moves: small by design, never streamed.
        const { snapshot, stoppedAt } = await this.#parts.pool.request({ type: "suspend", name, deadlineMs: this.#parts.settings().suspendDeadlineMs, delta: { session: req.handoffId, after: req.precopy.after } });
        stopped(stoppedAt);
        return snapshot;
      }
      const { snapshot, streamed, stoppedAt } = await this.#parts.pool.request({ type: "suspend", name, deadlineMs: this.#parts.settings().suspendDeadlineMs, streamAbove: STREAM_ABOVE_BYTES });
      stopped(stoppedAt);
      return streamed === undefined ? snapshot : streamedSnapshot(this.#parts.pool, name, streamed);
    } catch (error) {
      p.outgoing = undefined;
      if (p.state === "suspending") p.moveTo(wasCompleted ? "completed" : p.hosted ? "running" : "failed");
      p.error = `Hand-off to "${req.to}" failed: ${describeError(error)}`;
      p.openGate();
      this.#parts.events.emit({ type: "rolled-back", process: name, to: req.to, reason: describeError(error) });
      throw error;
    }
  }

  /**
   * The checkpoint at suspend: if this node crashes before the outcome is known, it resumes from
   * exactly this state. A whole one is written while the snapshot travels (from the turn after the
   * answer left), off the hand-off's critical path, and the release waits for it; a streamed one
   * once it was sent (not competing with the transfer), cut off when the process runs again or is
   * released. A crash before it lands falls back to the previous checkpoint, as any crash does,
   * and the destination, never committed, drops its copy.
   */
  async saveAtSuspend(name: string, handoffId: string, snapshot: Snapshot): Promise<void> {
    const p = this.#held(name, handoffId);
    const outgoing = p.outgoing!;
    this.#parts.trace.mark("store", "checkpoint at suspend", name);
    const whole = snapshot instanceof Uint8Array;
    const warn = (error: unknown) => {
      // Its failure is news only while the process is still suspended for this hand-off.
      if (p.outgoing === outgoing) this.#parts.log("warn", `[${name}] checkpoint at suspend failed: ${describeError(error)}`);
    };
    if (outgoing.precopied) {
      // The snapshot is the last delta, not a state: see captureIfUndecided.
      void captureIfUndecided(this.#parts, name, handoffId).catch(warn);
      outgoing.saving = Promise.resolve();
    } else {
      // A whole one starts once the answer carrying it has gone: the journal write it makes is
      // not on the critical path, and the commit, which waits for it, takes longer to arrive.
      const saving = (whole ? afterThisTurn().then(heldByFault).then(() => this.#parts.checkpoints.save(name, p.generation, snapshot)) : saveStreamed(this.#parts.checkpoints, name, p.generation, snapshot)).catch(warn);
      outgoing.saving = whole ? saving : Promise.resolve();
    }
    p.moveTo("migrating");
    this.#parts.events.emit({
      type: "suspended",
      process: name,
      generation: p.generation,
      to: outgoing.to,
      bytes: snapshot.byteLength,
      ms: round(performance.now() - outgoing.suspendedAt),
    });
  }

  /**
   * What travels with the snapshot besides the fields. `receivedAt`: when `begin` arrived here;
   * until the executor told run() to stop, the process still ran (not downtime).
   */
  meta(name: string, handoffId: string, timing: { receivedAt: number; serveMs: number }): HandoffMeta {
    const p = this.#held(name, handoffId);
    const stoppedAt = p.outgoing!.stoppedAt ?? p.outgoing!.suspendedAt;
    return {
      module: p.module,
      args: [...p.args],
      migrations: p.migrations,
      ...(p.memoryMb ? { memoryMb: p.memoryMb } : {}),
      preludeMs: Math.max(0, stoppedAt - timing.receivedAt),
      serveMs: timing.serveMs,
      completed: p.outgoing!.wasCompleted,
    };
  }

  /** Whether `handoffId` of `name` is suspended here, waiting for its outcome. */
  awaiting(name: string, handoffId: string): boolean {
    return this.#parts.table.get(name)?.outgoing?.handoffId === handoffId;
  }

  /**
   * The commit: ownership moves durably to the destination, then this copy is dropped. Waiting
   * calls follow the process there. Cleanup runs after the answer, off the critical path.
   */
  async release(name: string, handoffId: string): Promise<void> {
    const p = this.#held(name, handoffId);
    const { to, saving, suspendedAt } = p.outgoing!;
    // Almost always landed already: it was written while the destination stored its copy.
    await saving;
    this.#parts.trace.mark("store", "released", name);
    await this.#parts.store.transfer({ ...p.identity(), generation: p.generation + 1, migrations: p.migrations + 1 }, to, handoffId);
    await this.#parts.journal.append({ op: "released", name, generation: p.generation, to, handoffId });
    p.outgoing = undefined;
    this.#parts.table.forget(p, "released");
    p.openGate({ movedTo: to });
    this.#parts.tasks.spawn(`discard ${name}`, async () => {
      // Once the commit's answer has gone: its message to the executor is not on that path.
      await afterThisTurn();
      await this.#parts.pool.discard(name, `process "${name}" was handed over to node "${to}"`);
      if (!this.#parts.journal.state.owned.has(name)) this.#parts.checkpoints.remove(name);
    });
    this.#parts.events.emit({ type: "transferred", process: name, generation: p.generation + 1, from: this.#parts.node, to, ms: round(performance.now() - suspendedAt) });
  }

  /** Records that `handoffId` did not happen, so a destination asking after a crash learns it. */
  async journalAborted(name: string, handoffId: string): Promise<void> {
    const p = this.#held(name, handoffId);
    await this.#parts.journal.append({ op: "aborted", name, generation: p.generation, handoffId });
  }

  /** Rollback: the process resumes here exactly where it stopped; the reason shows in `ps`. */
  async resume(name: string, handoffId: string, reason: string): Promise<void> {
    const p = this.#held(name, handoffId);
    const { to, wasCompleted } = p.outgoing!;
    p.outgoing = undefined;
    try {
      if (!p.hosted) throw new FerryError("executor_failed", "its instance was lost while it was suspended");
      await this.#parts.pool.request({ type: "activate", name, generation: p.generation, run: !wasCompleted });
      p.moveTo(wasCompleted ? "completed" : "running");
      p.error = `Hand-off to "${to}" rolled back: ${reason}`;
    } catch (error) {
      p.moveTo("failed");
      p.error = `Hand-off to "${to}" rolled back (${reason}), then resume() failed: ${describeError(error)}`;
      throw error;
    } finally {
      p.openGate();
      this.#parts.events.emit({ type: "rolled-back", process: name, generation: p.generation, to, reason });
      this.#parts.log("warn", `[${name}] hand-off to ${to} rolled back: ${reason}`);
    }
    this.#parts.enqueue(name);
  }

  /** What became of a hand-off this node sent, answered only from durable state. */
  async status(name: string, handoffId: string): Promise<HandoffStatusResponse> {
    await this.#parts.journal.durable();
    const released = this.#parts.journal.state.released.get(name);
    if (released?.handoffId === handoffId) return { outcome: "committed", generation: released.generation };
    if (this.#parts.journal.state.aborted.has(handoffId)) return { outcome: "aborted" };
    if (this.#parts.table.get(name)?.outgoing?.handoffId === handoffId) return { outcome: "pending" };
    return { outcome: "unknown" };
  }

  /** Whether `handoffId` of `name` is already durably released (a repeated commit). */
  released(name: string, handoffId: string): boolean {
    return this.#parts.journal.state.released.get(name)?.handoffId === handoffId;
  }
}

/** How long a pre-copied hand-off may await its outcome before the whole suspended state is checkpointed. */
export const CAPTURE_GRACE_MS = 3000;

/**
 * After a pre-copy only the last delta was captured at suspend. Capturing the whole state (the
 * instance stays suspended, so it is the same state) is as costly as the large hand-off pre-copy
 * avoids, and would compete with the destination for the CPU during the downtime: it is done only
 * when the outcome has not arrived within {@link CAPTURE_GRACE_MS}. A crash before that resumes from
 * the previous periodic checkpoint, as when a large checkpoint at suspend has not landed yet.
 */
async function captureIfUndecided(parts: NodeParts, name: string, handoffId: string): Promise<void> {
  const pending = () => parts.table.get(name)?.outgoing?.handoffId === handoffId;
  await delay(CAPTURE_GRACE_MS);
  const p = parts.table.get(name);
  if (!p || !pending()) return;
  const { snapshot, takenAt } = await parts.pool.request({ type: "capture", name });
  if (pending()) await parts.checkpoints.save(name, p.generation, snapshot, { at: takenAt });
}

/** The crash tests' pause before a checkpoint at suspend is written (see faults.ts). */
function heldByFault(): Promise<void> | void {
  if (faults.delayCheckpointAtSuspendMs) return delay(faults.delayCheckpointAtSuspendMs);
}

/** Resolves after this turn's I/O is written (an answer ends with the turn that made it). */
function afterThisTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
