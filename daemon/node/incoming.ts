/**
 * The node state's part in receiving a process: the effects the destination's hand-off runner
 * asks for (hold a received snapshot without running it, journal `prepared`, activate after the
 * commit, drop a copy that will not be committed). Decisions live in `handoff/destination.ts`.
 *
 * @example
 * ```ts
 * await node.incoming.hold(arrival, bytes);
 * await node.incoming.prepare("counter");
 * await node.incoming.activate("counter", stats);
 * ```
 * @module
 */
import { describeError, FerryError } from "../errors.ts";
import { INLINE_MAX_BYTES } from "../store/mod.ts";
import type { HandoffMeta } from "../../schemas/api.schema.ts";
import type { ProcessIdentity } from "./process.ts";
import type { NodeParts } from "./parts.ts";
import { identityOf } from "./identity.ts";
import { hostStreamed, type SnapshotInflow } from "./receive.ts";

/** A process arriving in a hand-off. */
export interface Arrival {
  name: string;
  from: string;
  handoffId: string;
  /** The generation it had at its source; it runs here at generation + 1. */
  generation: number;
  meta: HandoffMeta;
}

export interface ArrivalStats {
  bytes: number | null;
  transferMs: number | null;
  downtimeMs: number | null;
}

export class Incoming {
  readonly #parts: NodeParts;

  constructor(parts: NodeParts) {
    this.#parts = parts;
  }

  #identity(arrival: Arrival): ProcessIdentity {
    const { meta } = arrival;
    return {
      name: arrival.name,
      module: meta.module,
      args: meta.args,
      generation: arrival.generation + 1,
      migrations: meta.migrations + 1,
      lastDowntimeMs: null,
      ...(meta.memoryMb ? { memoryMb: meta.memoryMb } : {}),
    };
  }

  /**
   * Instantiates the received process without running it. Calls to it wait. Throws (leaving
   * nothing behind) when it cannot be loaded here.
   */
  async hold(arrival: Arrival, bytes: Uint8Array | SnapshotInflow): Promise<void> {
    if (!(bytes instanceof Uint8Array)) return this.#holdStreamed(arrival, bytes);
    const identity = this.#identity(arrival);
    const size = bytes.byteLength;
    // A large snapshot goes to its file now, before its buffer moves to the executor; a small
    // one is journalled together with `prepared`, sharing one fsync.
    const small = size <= INLINE_MAX_BYTES;
    if (!small) await this.#parts.checkpoints.save(arrival.name, identity.generation, bytes, { force: true });
    this.#parts.trace.mark("executor", "instantiate held", arrival.name);
    const p = await this.#parts.host(identity, small ? bytes.slice() : bytes, { hold: true });
    p.incoming = { from: arrival.from, handoffId: arrival.handoffId, completed: arrival.meta.completed };
    p.lastTransferBytes = size;
    p.closeGate();
    if (p.state === "failed") {
      const reason = p.error ?? "cannot load it";
      p.incoming = undefined;
      p.openGate();
      this.#parts.table.forget(p, "stopped");
      this.#parts.checkpoints.remove(arrival.name);
      throw new FerryError("module_invalid", reason);
    }
    this.#pendingBytes.set(arrival.name, small ? bytes : undefined);
  }
  readonly #pendingBytes = new Map<string, Uint8Array | undefined>();

  /** {@link hold} of a large snapshot still streaming in: checkpoint and executor fed as it comes. */
  async #holdStreamed(arrival: Arrival, inflow: SnapshotInflow): Promise<void> {
    const identity = this.#identity(arrival);
    this.#parts.trace.mark("executor", "instantiate held (streamed)", arrival.name);
    const { process: p, error } = await hostStreamed(this.#parts, identity, inflow);
    p.incoming = { from: arrival.from, handoffId: arrival.handoffId, completed: arrival.meta.completed };
    p.lastTransferBytes = inflow.length;
    p.closeGate();
    if (p.state === "failed" || error !== undefined) {
      const reason = p.error ?? "cannot load it";
      // Refused by the executor (a corrupt snapshot, a module that fails here): the process's failure.
      if (error === undefined) this.#parts.events.emit({ type: "failed", process: arrival.name, reason });
      if (p.hosted) await this.#parts.pool.discard(arrival.name, `the hand-off of process "${arrival.name}" failed`);
      p.incoming = undefined;
      p.openGate();
      this.#parts.table.forget(p, "stopped");
      this.#parts.checkpoints.remove(arrival.name);
      throw error ?? new FerryError("module_invalid", reason);
    }
    this.#pendingBytes.set(arrival.name, undefined);
  }

  /** Durable before the commit: once the source releases it, this copy is the only one. */
  async prepare(arrival: Arrival): Promise<void> {
    if (!this.#parts.journal.healthy && !this.#parts.journal.probe()) {
      throw this.#parts.journal.lastError ?? new FerryError("storage_failed", `The journal of node "${this.#parts.node}" cannot be written`);
    }
    const p = this.#parts.table.get(arrival.name);
    if (!p || p.incoming?.handoffId !== arrival.handoffId) throw new FerryError("internal", `No copy of "${arrival.name}" is held for hand-off ${arrival.handoffId}`);
    const identity = this.#identity(arrival);
    this.#parts.trace.mark("store", "prepared", arrival.name);
    const small = this.#pendingBytes.get(arrival.name);
    this.#pendingBytes.delete(arrival.name);
    await Promise.all([
      small ? this.#parts.checkpoints.save(arrival.name, identity.generation, small, { force: true }) : Promise.resolve(),
      this.#parts.journal.append({ op: "prepared", ...identity, from: arrival.from, handoffId: arrival.handoffId }),
    ]);
  }

  /**
   * The commit is known: this node owns the process. Runs it (or keeps it completed) and tells
   * waiting callers. After a restart the held copy is rebuilt from the prepared checkpoint.
   * Resolves with whether run() was started.
   */
  async activate(name: string, stats: ArrivalStats): Promise<boolean> {
    const owned = this.#parts.journal.state.owned.get(name);
    if (!owned) throw new FerryError("internal", `"${name}" is not journalled on node "${this.#parts.node}"`);
    const identity = { ...identityOf(owned), ...(stats.downtimeMs !== null ? { lastDowntimeMs: round(stats.downtimeMs) } : {}) };
    // `prepared` plus the source's durable release already make it ours; `own` only saves asking again.
    this.#parts.tasks.spawn(`journal own ${name}`, this.#parts.journal.append({ op: "own", ...identity }));
    let p = this.#parts.table.get(name);
    if (!p) {
      const snapshot = this.#parts.checkpoints.read(name, owned.generation);
      p = await this.#parts.host(identity, snapshot, { hold: true });
      p.incoming = { from: owned.from ?? "?", handoffId: owned.handoffId ?? "", completed: false };
      p.closeGate();
    }
    const from = p.incoming?.from ?? owned.from ?? "?";
    const run = !p.incoming?.completed;
    p.incoming = undefined;
    try {
      if (p.state === "failed") throw new FerryError("process_failed", p.error ?? "it failed to load");
      this.#parts.trace.mark("executor", "activate", name);
      await this.#parts.pool.request({ type: "activate", name, generation: owned.generation, run });
      p.moveTo(run ? "running" : "completed");
      p.error = null;
    } catch (error) {
      if (p.state !== "failed") p.moveTo("failed");
      p.error = `resume() failed: ${describeError(error)}`;
      throw error;
    } finally {
      if (stats.downtimeMs !== null) p.lastDowntimeMs = round(stats.downtimeMs);
      p.startedAt = new Date().toISOString();
      p.arrivedAt = Date.now();
      p.openGate();
      this.#parts.events.emit({
        type: "transferred",
        process: name,
        generation: owned.generation,
        from,
        to: this.#parts.node,
        ...(stats.bytes !== null ? { bytes: stats.bytes } : {}),
        ...(stats.transferMs !== null ? { ms: round(stats.transferMs) } : {}),
      });
      this.#parts.events.emit({ type: "resumed", process: name, generation: owned.generation, from, ...(p.lastDowntimeMs !== null && stats.downtimeMs !== null ? { ms: p.lastDowntimeMs } : {}) });
    }
    return run;
  }

  /** Drops a copy that will not be committed (and its `prepared` record, if it was journalled). */
  async drop(name: string, handoffId: string, prepared: boolean): Promise<void> {
    this.#pendingBytes.delete(name);
    const owned = this.#parts.journal.state.owned.get(name);
    if (prepared || (owned?.status === "prepared" && owned.handoffId === handoffId)) {
      await this.#parts.journal.append({ op: "aborted", name, generation: owned?.generation ?? 0, handoffId });
    }
    const p = this.#parts.table.get(name);
    if (p && (p.incoming?.handoffId === handoffId || p.state === "held")) {
      if (p.hosted) await this.#parts.pool.discard(name, `the hand-off of process "${name}" was aborted`);
      p.incoming = undefined;
      p.openGate();
      this.#parts.table.forget(p, "dropped");
    }
    if (!this.#parts.journal.state.owned.has(name)) this.#parts.checkpoints.remove(name);
  }

  /** The `prepared` record of an in-doubt arrival (after a crash or a lost commit answer). */
  inDoubt(name: string): { from: string; handoffId: string; generation: number } | undefined {
    const owned = this.#parts.journal.state.owned.get(name);
    if (owned?.status !== "prepared" || !owned.from || !owned.handoffId) return undefined;
    return { from: owned.from, handoffId: owned.handoffId, generation: owned.generation };
  }

  /** Shows a streaming transfer's progress in `ps`. */
  progress(name: string, received: number, total: number): void {
    // A large snapshot still streams in while its copy is being held.
    const held = this.#parts.table.get(name);
    if (held) held.transfer = { received, total };
    else this.#parts.table.acquire(name).transfer = { received, total };
  }

  clearProgress(name: string): void {
    const entry = this.#parts.table.acquiring(name);
    if (entry) delete entry.transfer;
    const held = this.#parts.table.get(name);
    if (held) held.transfer = undefined;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
