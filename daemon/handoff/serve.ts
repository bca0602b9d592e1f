/**
 * The holder of a process serves hand-offs: `begin` runs the holder's machine (`source.ts`) up
 * to the point where the snapshot is sent; `commit`, `abort`, the hand-off timeout and a broken
 * stream are then delivered to it, one at a time per process, and the machine runs on to its end.
 * `status` answers only from durable state.
 *
 * @example
 * ```ts
 * const handoffs = new SourceHandoffs(node);
 * const { snapshot, meta } = await handoffs.begin(request);
 * ```
 * @module
 */
import { describeError, FerryError } from "../errors.ts";
import type { SourcePort } from "./ports.ts";
import type { HandoffMeta, HandoffStatusResponse, RequestOf } from "../../schemas/api.schema.ts";
import { awaitsOutcome, type BeginFacts, type BeginRequest, checkBegin, isSourceTerminal, nextSource, type SourceEffect, type SourceInput, type SourcePhase } from "./source.ts";
import { type EffectPolicy, runMachine, type Step } from "./runner.ts";
import type { Snapshot } from "../node/snapshot-stream.ts";

interface Session {
  name: string;
  request: BeginRequest;
  phase: SourcePhase;
  /** Inputs are delivered one at a time. */
  queue: Promise<unknown>;
  timer?: ReturnType<typeof setTimeout>;
  snapshot?: Snapshot;
}

export class SourceHandoffs {
  readonly #node: SourcePort;
  readonly #sessions = new Map<string, Session>();
  #closed = false;

  constructor(node: SourcePort) {
    this.#node = node;
  }

  /**
   * The node is stopping: pending hand-offs are left to the journal (the process is still owned
   * here, and the restart resolves it with the destination), so their timers stop.
   */
  close(): void {
    this.#closed = true;
    for (const session of this.#sessions.values()) clearTimeout(session.timer);
  }

  /** Suspends the process for `req.to` and returns its snapshot; throws why when it cannot. */
  async begin(req: RequestOf<"handoff.begin">): Promise<{ snapshot: Snapshot; meta: HandoffMeta }> {
    const receivedAt = performance.now();
    if (this.#sessions.has(req.name)) throw new FerryError("conflict", `Process "${req.name}" is already in a hand-off`);
    const request: BeginRequest = { to: req.to, generation: req.generation, handoffId: req.handoffId, ...(req.precopy ? { precopy: req.precopy } : {}) };
    const session: Session = { name: req.name, request, phase: { phase: "checking" }, queue: Promise.resolve() };
    this.#sessions.set(req.name, session);
    try {
      const phase = await this.#run(session, checkBegin(this.#node.outgoing.facts(req.name, req.to, false), request));
      if (awaitsOutcome(phase)) {
        const snapshot = session.snapshot!;
        session.snapshot = undefined;
        const timeoutMs = this.#node.settings.handoffTimeoutMs;
        session.timer = setTimeout(() => this.#deliver(req.name, req.handoffId, { type: "timeout", afterMs: timeoutMs }), timeoutMs);
        const meta = this.#node.outgoing.meta(req.name, req.handoffId, { receivedAt, serveMs: performance.now() - receivedAt });
        return { snapshot, meta: request.precopy ? { ...meta, delta: true } : meta };
      }
      throw endError(phase, req.to);
    } finally {
      if (!awaitsOutcome(session.phase)) this.#sessions.delete(req.name);
    }
  }

  /** The destination stored the snapshot: release the process for good. Idempotent per hand-off. */
  async commit(req: RequestOf<"handoff.commit">): Promise<{ ok: true }> {
    if (this.#node.outgoing.released(req.name, req.handoffId)) return { ok: true };
    const session = this.#sessions.get(req.name);
    if (!session || session.request.handoffId !== req.handoffId || session.request.generation !== req.generation) {
      throw new FerryError("conflict", `Hand-off ${req.handoffId} of "${req.name}" is not pending here (rolled back or stale)`, { retryable: false });
    }
    const phase = await this.#deliver(req.name, req.handoffId, { type: "commit" });
    if (phase?.phase === "released") return { ok: true };
    if (this.#node.outgoing.released(req.name, req.handoffId)) return { ok: true };
    throw new FerryError("conflict", `Hand-off ${req.handoffId} of "${req.name}" was rolled back: ${phase ? describePhase(phase) : "it is no longer pending"}`, { retryable: false });
  }

  /** The destination gave up: resume here. */
  async abort(req: RequestOf<"handoff.abort">): Promise<{ ok: true }> {
    await this.#deliver(req.name, req.handoffId, { type: "abort", reason: req.reason });
    return { ok: true };
  }

  /** The snapshot stream broke (the destination disconnected): resume here at once. */
  streamBroken(name: string, handoffId: string): void {
    void this.#deliver(name, handoffId, { type: "stream-broken" });
  }

  /** What became of a hand-off this node sent, answered only from durable state. */
  status(req: RequestOf<"handoff.status">): Promise<HandoffStatusResponse> {
    return this.#node.outgoing.status(req.name, req.handoffId);
  }

  /**
   * Delivers an outcome message to a session that awaits one; later ones (a commit after a
   * rollback, a second abort) find no session and do nothing. Never rejects.
   */
  #deliver(name: string, handoffId: string, input: SourceInput): Promise<SourcePhase | undefined> {
    const session = this.#sessions.get(name);
    if (this.#closed || !session || session.request.handoffId !== handoffId) return Promise.resolve(undefined);
    const result = session.queue.then(async () => {
      if (!awaitsOutcome(session.phase)) return undefined;
      clearTimeout(session.timer);
      const phase = await this.#run(session, nextSource(session.phase, input, { to: session.request.to, request: session.request }));
      if (isSourceTerminal(phase)) this.#sessions.delete(name);
      return phase;
    });
    session.queue = result.catch(() => undefined);
    return result.catch((error: unknown) => {
      this.#node.events.emit({ type: "failed", process: name, reason: `hand-off bookkeeping failed: ${describeError(error)}` });
      return undefined;
    });
  }

  #run(session: Session, first: Step<SourcePhase, SourceEffect>): Promise<SourcePhase> {
    const context = { to: session.request.to, request: session.request };
    return runMachine(
      { next: (phase, input: SourceInput) => nextSource(phase, input, context), isTerminal: isSourceTerminal },
      {
        perform: (effect) => this.#perform(session, effect),
        failed: (effect, error) => failedInput(effect, error, () => this.#node.outgoing.facts(session.name, session.request.to, true)),
        policy: (effect) => this.#policy(effect),
        onStep: (step) => {
          session.phase = step.phase as SourcePhase;
        },
      },
      first,
    );
  }

  /**
   * Backstops: each effect's own component bounds it first (the executor's request timeouts, the
   * journal's fsync), and cleans up after itself; the runner's limit only keeps a hand-off from
   * hanging on a bug, so it is longer than theirs.
   */
  #policy(effect: SourceEffect): EffectPolicy {
    const s = this.#node.settings;
    switch (effect.type) {
      case "suspend":
        return { timeoutMs: s.suspendDeadlineMs + s.stallMs + 60_000 };
      case "resume":
        return { timeoutMs: s.stallMs + 60_000 };
      case "reload-config":
        return { timeoutMs: 30_000 };
      case "save-checkpoint":
      case "journal-released":
      case "journal-aborted":
        return { timeoutMs: 120_000 };
    }
  }

  async #perform(session: Session, effect: SourceEffect): Promise<SourceInput> {
    const { name, request } = session;
    this.#node.trace.mark("handoff", effect.type, name);
    switch (effect.type) {
      case "reload-config":
        await this.#node.reloadConfig();
        return { type: "reloaded", facts: this.#node.outgoing.facts(name, request.to, true) };
      case "suspend":
        session.snapshot = await this.#node.outgoing.suspend(name, request);
        return { type: "suspended", bytes: session.snapshot.byteLength };
      case "save-checkpoint":
        await this.#node.outgoing.saveAtSuspend(name, request.handoffId, session.snapshot!);
        return { type: "saved" };
      case "journal-released":
        await this.#node.outgoing.release(name, request.handoffId);
        return { type: "journalled" };
      case "journal-aborted":
        await this.#node.outgoing.journalAborted(name, request.handoffId);
        return { type: "journalled" };
      case "resume":
        session.snapshot = undefined;
        await this.#node.outgoing.resume(name, request.handoffId, resumeReason(session.phase));
        return { type: "activated" };
    }
  }
}

function resumeReason(phase: SourcePhase): string {
  return phase.phase === "resuming" || phase.phase === "rolling-back" ? phase.reason : "rolled back";
}

function failedInput(effect: SourceEffect, error: unknown, knownFacts: () => BeginFacts): SourceInput {
  switch (effect.type) {
    case "reload-config":
      // The config could not be re-read: decide on what is known.
      return { type: "reloaded", facts: knownFacts() };
    case "suspend":
      return { type: "suspend-failed", error };
    case "save-checkpoint":
      return { type: "save-failed", error };
    case "journal-released":
    case "journal-aborted":
      return { type: "journal-failed", error };
    case "resume":
      return { type: "activate-failed", error };
  }
}

function describePhase(phase: SourcePhase): string {
  switch (phase.phase) {
    case "resumed":
      return phase.reason;
    case "failed":
      return phase.reason;
    case "refused":
      return phase.error.message;
    default:
      return phase.phase;
  }
}

function endError(phase: SourcePhase, to: string): FerryError {
  if (phase.phase === "refused") return phase.error;
  return new FerryError("conflict", `Hand-off to "${to}" did not start: ${describePhase(phase)}`);
}
