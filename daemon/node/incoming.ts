/**
 * The node state's part in receiving a process: the effects the destination's hand-off runner
 * asks for (hold a received snapshot without running it, journal `prepared`, activate after the
 * commit, drop a copy that will not be committed). Decisions live in `handoff/destination.ts`.
 *
 * @example
 * ```ts
 * node.incoming.expect("counter");
 * await Promise.all(node.incoming.store(arrival, bytes));
 * await node.incoming.activate("counter", stats);
 * ```
 * @module
 */
import { describeError, FerryError } from "../errors.ts";
import { INLINE_MAX_BYTES, StagedSnapshot } from "../store/mod.ts";
import type { HandoffMeta } from "../../schemas/api.schema.ts";
import type { ProcessIdentity } from "./process.ts";
import type { NodeParts, ResolvedModule } from "./parts.ts";
import { identityOf } from "./identity.ts";
import { hostStreamed, type SnapshotInflow } from "./receive.ts";
import { onThisThread } from "../executor/clock.ts";

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
  /**
   * `performance.now()` here when the process stopped running on its source (an estimate: the
   * clocks differ); null when the pull was resumed after a restart and the moment is unknown.
   */
  stoppedAt: number | null;
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
   * A process named `name` is about to arrive: starts resolving (and, for a fetched version,
   * downloading) the module cluster.yaml names for it, so {@link store} finds it ready.
   */
  expect(name: string): void {
    const module = this.#parts.desired(name)?.module;
    if (module === undefined) return;
    const resolving = this.#parts.resolveModule(module);
    resolving.catch(() => {}); // reported by the store that uses it, if any does
    this.#expected.set(name, { module, resolving });
  }
  readonly #expected = new Map<string, { module: string; resolving: Promise<ResolvedModule> }>();

  /**
   * Stores a received process, two waits overlapped: the executor instantiates it without running
   * it (calls to it wait), and its snapshot is journalled with `prepared`, durable before the
   * commit. Answers both outcomes: `[held, prepared]`. A failed hold leaves its cleanup to
   * {@link drop}, which cancels a `prepared` journalled meanwhile. A large snapshot still
   * streaming in feeds its checkpoint file and the executor as it comes; `prepared` follows once
   * that file is durable. A pre-copied one is on disk already (`staged`): it is adopted, with
   * the last delta's changes, as the checkpoint.
   */
  store(arrival: Arrival, bytes: Uint8Array | SnapshotInflow, staged?: StagedSnapshot, verified = false): [Promise<void>, Promise<void>] {
    const identity = this.#identity(arrival);
    const expected = this.#expected.get(arrival.name);
    this.#expected.delete(arrival.name);
    const module = expected?.module === identity.module ? expected.resolving : undefined;
    if (!(bytes instanceof Uint8Array)) {
      const held = this.#holdStreamed(arrival, identity, bytes, module);
      return [held, held.then(() => this.#prepare(arrival, identity, undefined))];
    }
    const prepared = this.#prepare(arrival, identity, bytes, staged);
    // A small snapshot is journalled inline, so the executor can have a copy at once; a large one
    // moves to the executor (without a copy) only after its file is written.
    const held = bytes.byteLength <= INLINE_MAX_BYTES && !staged ? this.#hold(arrival, identity, bytes.slice(), module) : prepared.then(() => this.#hold(arrival, identity, bytes, module, verified));
    return [held, prepared];
  }

  async #hold(arrival: Arrival, identity: ProcessIdentity, bytes: Uint8Array, module: Promise<ResolvedModule> | undefined, verified = false): Promise<void> {
    const size = bytes.byteLength;
    this.#parts.trace.mark("executor", "instantiate held", arrival.name);
    const p = await this.#parts.host(identity, bytes, { hold: true, ...(module ? { module } : {}), ...(verified ? { verified } : {}) });
    p.incoming = { from: arrival.from, handoffId: arrival.handoffId, completed: arrival.meta.completed };
    p.lastTransferBytes = size;
    p.closeGate();
    if (p.state === "failed") throw new FerryError("module_invalid", p.error ?? "cannot load it");
  }

  /** {@link hold} of a large snapshot still streaming in: checkpoint and executor fed as it comes. */
  async #holdStreamed(arrival: Arrival, identity: ProcessIdentity, inflow: SnapshotInflow, module: Promise<ResolvedModule> | undefined): Promise<void> {
    this.#parts.trace.mark("executor", "instantiate held (streamed)", arrival.name);
    const { process: p, error } = await hostStreamed(this.#parts, identity, inflow, module);
    p.incoming = { from: arrival.from, handoffId: arrival.handoffId, completed: arrival.meta.completed };
    p.lastTransferBytes = inflow.length;
    p.closeGate();
    if (p.state === "failed" || error !== undefined) {
      const reason = p.error ?? "cannot load it";
      // Refused by the executor (a corrupt snapshot, a module that fails here): the process's failure.
      if (error === undefined) this.#parts.events.emit({ type: "failed", process: arrival.name, reason });
      // As for a whole snapshot, {@link drop} clears the copy, its partial file and the executor.
      throw error ?? new FerryError("module_invalid", reason);
    }
  }

  /**
   * Writes a pre-copied snapshot of `name` (at the generation it will have here) to disk ahead of
   * its hand-off, under a name no restore reads; {@link hold} adopts it.
   */
  stage(name: string, generation: number, bytes: Uint8Array): Promise<StagedSnapshot> {
    return StagedSnapshot.write(this.#parts.checkpoints.stagingPath(name, generation), bytes);
  }

  /** Durable before the commit: once the source releases it, this copy is the only one. */
  async #prepare(arrival: Arrival, identity: ProcessIdentity, bytes: Uint8Array | undefined, staged?: StagedSnapshot): Promise<void> {
    if (!this.#parts.journal.healthy && !this.#parts.journal.probe()) {
      throw this.#parts.journal.lastError ?? new FerryError("storage_failed", `The journal of node "${this.#parts.node}" cannot be written`);
    }
    this.#parts.trace.mark("store", "prepared", arrival.name);
    const prepared = { op: "prepared", ...identity, from: arrival.from, handoffId: arrival.handoffId } as const;
    if (bytes && bytes.byteLength <= INLINE_MAX_BYTES && !staged) {
      // Both are journal records, appended in this order in one turn: one write, one fsync.
      await Promise.all([this.#parts.checkpoints.save(arrival.name, identity.generation, bytes, { force: true }), this.#parts.journal.append(prepared)]);
      return;
    }
    // A checkpoint file must be durable before a `prepared` record can name it.
    if (staged && bytes) await this.#parts.checkpoints.adopt(arrival.name, identity.generation, staged, bytes);
    else if (bytes) await this.#parts.checkpoints.save(arrival.name, identity.generation, bytes, { force: true });
    await this.#parts.journal.append(prepared);
  }

  /**
   * The commit is known: this node owns the process. Runs it (or keeps it completed) and tells
   * waiting callers. After a restart the held copy is rebuilt from the prepared checkpoint.
   * Resolves with whether run() was started.
   */
  async activate(name: string, stats: ArrivalStats): Promise<boolean> {
    const owned = this.#parts.journal.state.owned.get(name);
    if (!owned) throw new FerryError("internal", `"${name}" is not journalled on node "${this.#parts.node}"`);
    const identity = identityOf(owned);
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
    let own: Promise<void> = Promise.resolve();
    let resumedAt: number | undefined;
    try {
      if (p.state === "failed") throw new FerryError("process_failed", p.error ?? "it failed to load");
      this.#parts.trace.mark("executor", "activate", name);
      const sentAt = performance.now();
      const { runAt } = await this.#parts.pool.request({ type: "activate", name, generation: owned.generation, run });
      resumedAt = onThisThread(runAt, sentAt, performance.now());
      p.moveTo(run ? "running" : "completed");
      p.error = null;
    } catch (error) {
      if (p.state !== "failed") p.moveTo("failed");
      p.error = `resume() failed: ${describeError(error)}`;
      throw error;
    } finally {
      // Until the executor started run() again (or gave up trying).
      const downtimeMs = stats.stoppedAt === null ? null : round((resumedAt ?? performance.now()) - stats.stoppedAt);
      if (downtimeMs !== null) p.lastDowntimeMs = downtimeMs;
      // `prepared` plus the source's durable release already make it ours; `own` saves asking again.
      own = this.#parts.journal.append({ op: "own", ...identity, ...(downtimeMs !== null ? { lastDowntimeMs: downtimeMs } : {}) });
      this.#parts.tasks.spawn(`journal own ${name}`, own);
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
      this.#parts.events.emit({ type: "resumed", process: name, generation: owned.generation, from, ...(downtimeMs !== null ? { ms: downtimeMs } : {}) });
    }
    // The pull ends once `own` is durable: the reconciler, which runs again after it, must not find
    // the copy in doubt (journalled `prepared` only) and ask the source once more.
    await own.catch(() => {});
    return run;
  }

  /** Drops a copy that will not be committed (and its `prepared` record, if it was journalled). */
  async drop(name: string, handoffId: string, prepared: boolean): Promise<void> {
    this.#expected.delete(name);
    const owned = this.#parts.journal.state.owned.get(name);
    let unjournalled: unknown;
    if (prepared || (owned?.status === "prepared" && owned.handoffId === handoffId)) {
      // Without the record the copy is still never run: after a restart the holder's answer
      // to `status` (aborted or unknown) drops it. So the copy here goes either way.
      await this.#parts.journal.append({ op: "aborted", name, generation: owned?.generation ?? 0, handoffId }).catch((error: unknown) => (unjournalled = error));
    }
    const p = this.#parts.table.get(name);
    if (p && (p.incoming?.handoffId === handoffId || p.state === "held")) {
      if (p.hosted) await this.#parts.pool.discard(name, `the hand-off of process "${name}" was aborted`);
      p.incoming = undefined;
      p.openGate();
      // Only a held copy is dropped; one that failed to load or never finished starting is stopped.
      this.#parts.table.forget(p, p.state === "held" ? "dropped" : "stopped");
    }
    if (!this.#parts.journal.state.owned.has(name)) this.#parts.checkpoints.remove(name);
    if (unjournalled !== undefined) throw unjournalled;
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
