/**
 * The destination of a hand-off (receiver-initiated): pulls a process from the peer that holds
 * it by running the destination machine (`destination.ts`) with effects performed against this
 * node's state and the holder's API. Also resumes a pull left in doubt (a `prepared` record
 * found after a crash, or a commit whose answer was lost) from that recorded phase.
 *
 * @example
 * ```ts
 * const outcome = await pull(node, { name: "counter", from: "alpha", generation: 3 });
 * ```
 * @module
 */
import { randomUUID } from "../builtins/crypto.ts";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import { faults } from "../faults.ts";
import type { Arrival } from "../node/mod.ts";
import type { DestinationPort } from "./ports.ts";
import type { HandoffMeta } from "../../schemas/api.schema.ts";
import { type DestinationEffect, type DestinationInput, type DestinationPhase, isTerminal, nextDestination, resumeInDoubt, startPull } from "./destination.ts";
import { type EffectPolicy, runMachine, type Step } from "./runner.ts";
import { META_HEADER, parseMeta } from "./meta.ts";
import { type ReceivedSnapshot, requestSnapshot } from "./inflow.ts";
import { finishPrecopy, type Precopied, pullWithPrecopy, wantsPrecopy } from "./precopy.ts";
import type { StagedSnapshot } from "../store/staged.ts";

export { META_HEADER } from "./meta.ts";

export interface PullRequest {
  name: string;
  /** The peer that holds it. */
  from: string;
  /** The generation the holder reported. */
  generation: number;
  /** Size of its state as the holder last saw it, when known: a large one is pre-copied. */
  stateBytes?: number;
}

/** How a pull ended: the terminal phase of the destination machine. */
export type PullOutcome = Extract<DestinationPhase, { phase: "running" | "completed" | "failed" | "rolled-back" | "waiting" }>;

function isNetwork(error: unknown): boolean {
  return isFerryError(error) && (error.code === "unreachable" || error.code === "timeout");
}

/**
 * Pulls `req.name` from `req.from` onto `node`.
 *
 * @example
 * ```ts
 * const outcome = await pull(node, { name: "x", from: "alpha", generation: 0 });
 * if (outcome.phase === "rolled-back") console.log(outcome.reason);
 * ```
 */
export function pull(node: DestinationPort, req: PullRequest): Promise<PullOutcome> {
  const handoffId = randomUUID();
  const session = (precopied?: Precopied) => new PullSession(node, req.name, req.from, req.generation, handoffId, precopied);
  if (wantsPrecopy(req)) {
    const spec = node.desired?.(req.name);
    const policy = { maxDowntimeMs: spec?.maxDowntimeMs ?? 100, strict: spec?.strict ?? false };
    return pullWithPrecopy(node, req, handoffId, policy, (precopied) => session(precopied).run(startPull()));
  }
  return session().run(startPull());
}

/**
 * Settles a pull whose `prepared` record is in this node's journal: the holder says whether it
 * committed; the copy never runs before it does.
 *
 * @example
 * ```ts
 * if (node.incoming.inDoubt("x")) await resolveInDoubt(node, "x");
 * ```
 */
export function resolveInDoubt(node: DestinationPort, name: string): Promise<PullOutcome> {
  const doubt = node.incoming.inDoubt(name);
  if (!doubt) throw new FerryError("internal", `"${name}" is not in doubt on node "${node.node}"`);
  const session = new PullSession(node, name, doubt.from, doubt.generation - 1, doubt.handoffId);
  return session.run(resumeInDoubt());
}

class PullSession {
  #bytes: ReceivedSnapshot | undefined;
  #arrival: Arrival | undefined;
  #startedAt = performance.now();
  #receivedAt: number | undefined;
  /** From `#startedAt` until the holder began suspending: the process still ran (not downtime). */
  #runningMs = 0;
  #size: number | null = null;
  /** The pre-copied snapshot's file, until `hold` adopts it. */
  #staged: StagedSnapshot | undefined;

  constructor(
    readonly node: DestinationPort,
    readonly name: string,
    readonly from: string,
    /** The holder's generation; the process runs here at generation + 1. */
    readonly generation: number,
    readonly handoffId: string,
    /** A base pre-copied for this hand-off: `begin` then brings only the last delta. */
    readonly precopied?: Precopied,
  ) {}

  async run(first: Step<DestinationPhase, DestinationEffect>): Promise<PullOutcome> {
    const context = { source: this.from, node: this.node.node };
    const end = await runMachine(
      { next: (phase, input: DestinationInput) => nextDestination(phase, input, context), isTerminal },
      {
        perform: (effect) => this.#perform(effect),
        failed: (effect, error) => failedInput(effect, error),
        policy: (effect) => this.#policy(effect),
        onStep: (step) => {
          if (step.note) this.node.noteAcquiring(this.name, step.note);
        },
      },
      first,
    );
    return end as PullOutcome;
  }

  /**
   * Backstops: the client's request timeouts, the executor's and the journal's own limits end an
   * effect first and clean up after it; the runner's limit only keeps a pull from hanging on a bug.
   */
  #policy(effect: DestinationEffect): EffectPolicy {
    const s = this.node.settings;
    switch (effect.type) {
      case "request-begin":
      case "request-commit":
        return { timeoutMs: s.handoffTimeoutMs + 5000 };
      case "request-status":
        return { timeoutMs: 10_000 };
      case "store":
      case "activate":
        return { timeoutMs: s.stallMs + s.suspendDeadlineMs + 120_000 };
      case "drop":
        return { timeoutMs: 120_000 };
    }
  }

  #peer() {
    const peer = this.node.peer(this.from);
    if (!peer) throw new FerryError("not_found", `Node "${this.from}" is no longer in cluster.yaml`);
    return peer;
  }

  #arrivalOf(): Arrival {
    if (!this.#arrival) throw new FerryError("internal", "No snapshot was received");
    return this.#arrival;
  }

  async #perform(effect: DestinationEffect): Promise<DestinationInput> {
    this.node.trace.mark("handoff", effect.type, this.name);
    switch (effect.type) {
      case "request-begin": {
        const s = this.node.settings;
        // Finding and loading the module is the destination's own work: done while the holder
        // suspends and the snapshot travels.
        this.node.incoming.expect(this.name);
        const precopy = this.precopied ? { precopy: { after: this.precopied.after } } : {};
        const sentAt = performance.now();
        const answer = await requestSnapshot(this.#peer(), { name: this.name, generation: this.generation, to: this.node.node, handoffId: this.handoffId, ...precopy }, {
          timeoutMs: s.handoffTimeoutMs,
          maxBytes: s.maxTransferMb * 1024 * 1024,
          onProgress: (received, total) => this.node.incoming.progress(this.name, received, total),
          onEnd: () => this.node.incoming.clearProgress(this.name),
          whole: this.precopied !== undefined,
        });
        let meta: HandoffMeta;
        try {
          meta = parseMeta(answer.headers.get(META_HEADER));
        } catch (error) {
          if (!(answer.snapshot instanceof Uint8Array)) answer.snapshot.chunks[Symbol.asyncIterator]().return?.()?.catch(() => {});
          throw error;
        }
        const answeredAt = performance.now();
        this.#size = answer.snapshot instanceof Uint8Array ? answer.snapshot.byteLength : answer.snapshot.length;
        const { bytes, staged } = await deltaOrWhole(this.precopied, meta, answer.snapshot);
        this.#staged = staged;
        this.#receivedAt = performance.now();
        this.#bytes = bytes;
        this.#runningMs = sentAt - this.#startedAt + meta.preludeMs + requestFlightMs(answeredAt - sentAt, meta, this.#size);
        this.#arrival = { name: this.name, from: this.from, handoffId: this.handoffId, generation: this.generation, meta };
        return { type: "received", bytes: bytes instanceof Uint8Array ? bytes.byteLength : bytes.length };
      }
      case "store": {
        const bytes = this.#bytes!;
        this.#bytes = undefined;
        const arrival = this.#arrivalOf();
        // Two independent waits, overlapped: the executor instantiating the copy and the fsync
        // making it durable. The commit needs both.
        const staged = this.#staged;
        this.#staged = undefined;
        const [held, prepared] = await Promise.allSettled(this.node.incoming.store(arrival, bytes, staged, this.precopied !== undefined && arrival.meta.delta === true));
        // A streamed snapshot was still arriving while it was held.
        if (!(bytes instanceof Uint8Array)) this.#receivedAt = performance.now();
        if (held.status === "rejected") return { type: "hold-failed", error: held.reason, prepared: prepared.status === "fulfilled" };
        if (prepared.status === "rejected") return { type: "prepare-failed", error: prepared.reason };
        if (faults.delayBeforeCommitMs) await new Promise((r) => setTimeout(r, faults.delayBeforeCommitMs));
        return { type: "prepared" };
      }
      case "request-commit":
        await this.#peer().post("handoff.commit", { name: this.name, generation: this.generation, handoffId: this.handoffId }, { timeoutMs: this.node.settings.handoffTimeoutMs });
        return { type: "committed" };
      case "request-status": {
        const status = await this.#peer().post("handoff.status", { name: this.name, handoffId: this.handoffId }, { timeoutMs: 2000 });
        return { type: "status", outcome: status.outcome };
      }
      case "activate": {
        const fresh = this.#receivedAt !== undefined;
        const stats = {
          bytes: this.#size,
          transferMs: fresh ? this.#receivedAt! - this.#startedAt : null,
          stoppedAt: fresh ? this.#startedAt + this.#runningMs : null,
        };
        const running = await this.node.incoming.activate(this.name, stats);
        return { type: "activated", running };
      }
      case "drop": {
        this.#bytes = undefined;
        await this.#staged?.discard();
        await this.precopied?.staged?.discard();
        try {
          await this.node.incoming.drop(this.name, this.handoffId, effect.prepared);
        } finally {
          if (effect.notifySource !== undefined) {
            // A courtesy: the holder also rolls back on its own (broken stream or timeout).
            const peer = this.node.peer(this.from);
            await peer?.post("handoff.abort", { name: this.name, generation: this.generation, handoffId: this.handoffId, reason: effect.notifySource.slice(0, 2000) }, { timeoutMs: 2000 }).catch(() => {});
          }
        }
        return { type: "dropped" };
      }
    }
  }
}

/**
 * How long the `begin` request was in flight, during which the process still ran: half of the
 * round trip's network share (what the holder did not spend serving it), as NTP estimates a
 * one-way delay. Only for a snapshot small enough that its own transfer does not count in that
 * share; a large one's downtime keeps the whole round trip (an overstatement, never an under-).
 */
function requestFlightMs(roundTripMs: number, meta: HandoffMeta, bytes: number): number {
  if (meta.serveMs === undefined || bytes > ESTIMATE_FLIGHT_MAX_BYTES) return 0;
  return Math.max(0, roundTripMs - meta.serveMs) / 2;
}
const ESTIMATE_FLIGHT_MAX_BYTES = 64 * 1024;
/** The snapshot a `begin` answer brings: whole, or rebuilt from the pre-copied base and the last delta. */
async function deltaOrWhole(precopied: Precopied | undefined, meta: HandoffMeta, bytes: ReceivedSnapshot): Promise<{ bytes: ReceivedSnapshot; staged?: StagedSnapshot }> {
  if (meta.delta) {
    if (!precopied) throw new FerryError("bad_request", "The holder answered with a pre-copy delta, but nothing was pre-copied");
    if (!(bytes instanceof Uint8Array)) throw new FerryError("bad_request", "The holder streamed a pre-copy delta: a last delta is small by design");
    return finishPrecopy(precopied, bytes);
  }
  precopied?.base.discard();
  await precopied?.staged?.discard();
  return { bytes };
}

/** The machine input that reports `effect`'s failure. */
function failedInput(effect: DestinationEffect, error: unknown): DestinationInput {
  switch (effect.type) {
    case "request-begin":
      return { type: "receive-failed", error };
    case "store":
      // Gave up waiting (a backstop): the record may be durable, so it is cancelled.
      return { type: "hold-failed", error, prepared: true };
    case "request-commit":
      return isNetwork(error) ? { type: "commit-unanswered", error } : { type: "commit-refused", error };
    case "request-status":
      // A refusal to answer is not an answer: keep asking, never guess.
      return isNetwork(error) ? { type: "status-unanswered", error } : { type: "status-unanswered", error: new FerryError("unreachable", describeError(error)) };
    case "activate":
      return { type: "activate-failed", error };
    case "drop":
      return { type: "dropped" };
  }
}
