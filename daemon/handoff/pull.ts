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
import { describeError, FerryError, isFerryError } from "../errors.ts";
import { faults } from "../faults.ts";
import type { Arrival } from "../node/mod.ts";
import type { DestinationPort } from "./ports.ts";
import type { HandoffMeta } from "../../schemas/api.schema.ts";
import { type DestinationEffect, type DestinationInput, type DestinationPhase, isTerminal, nextDestination, resumeInDoubt, startPull } from "./destination.ts";
import { type EffectPolicy, runMachine, type Step } from "./runner.ts";
import { parseMeta } from "./meta.ts";
import { type ReceivedSnapshot, requestSnapshot } from "./inflow.ts";

/** Header carrying what travels with a snapshot besides the fields. */
export const META_HEADER = "ferry-handoff";

export interface PullRequest {
  name: string;
  /** The peer that holds it. */
  from: string;
  /** The generation the holder reported. */
  generation: number;
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
  const session = new PullSession(node, req.name, req.from, req.generation, globalThis.crypto.randomUUID());
  return session.run(startPull());
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
  #preludeMs = 0;
  #size: number | null = null;

  constructor(
    readonly node: DestinationPort,
    readonly name: string,
    readonly from: string,
    /** The holder's generation; the process runs here at generation + 1. */
    readonly generation: number,
    readonly handoffId: string,
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
      case "hold":
      case "activate":
        return { timeoutMs: s.stallMs + s.suspendDeadlineMs + 120_000 };
      case "prepare":
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
        const answer = await requestSnapshot(this.#peer(), { name: this.name, generation: this.generation, to: this.node.node, handoffId: this.handoffId }, {
          timeoutMs: s.handoffTimeoutMs,
          maxBytes: s.maxTransferMb * 1024 * 1024,
          onProgress: (received, total) => this.node.incoming.progress(this.name, received, total),
          onEnd: () => this.node.incoming.clearProgress(this.name),
        });
        let meta: HandoffMeta;
        try {
          meta = parseMeta(answer.headers.get(META_HEADER));
        } catch (error) {
          if (!(answer.snapshot instanceof Uint8Array)) answer.snapshot.chunks[Symbol.asyncIterator]().return?.()?.catch(() => {});
          throw error;
        }
        this.#receivedAt = performance.now();
        this.#preludeMs = meta.preludeMs;
        this.#bytes = answer.snapshot;
        this.#size = answer.snapshot instanceof Uint8Array ? answer.snapshot.byteLength : answer.snapshot.length;
        this.#arrival = { name: this.name, from: this.from, handoffId: this.handoffId, generation: this.generation, meta };
        return { type: "received", bytes: this.#size };
      }
      case "hold": {
        const bytes = this.#bytes!;
        this.#bytes = undefined;
        await this.node.incoming.hold(this.#arrivalOf(), bytes);
        // A streamed snapshot was still arriving while it was held.
        if (!(bytes instanceof Uint8Array)) this.#receivedAt = performance.now();
        return { type: "held" };
      }
      case "prepare":
        await this.node.incoming.prepare(this.#arrivalOf());
        if (faults.delayBeforeCommitMs) await new Promise((r) => setTimeout(r, faults.delayBeforeCommitMs));
        return { type: "prepared" };
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
          downtimeMs: fresh ? performance.now() - this.#startedAt - this.#preludeMs : null,
        };
        const running = await this.node.incoming.activate(this.name, stats);
        return { type: "activated", running };
      }
      case "drop": {
        this.#bytes = undefined;
        await this.node.incoming.drop(this.name, this.handoffId, effect.prepared);
        if (effect.notifySource !== undefined) {
          // A courtesy: the holder also rolls back on its own (broken stream or timeout).
          const peer = this.node.peer(this.from);
          await peer?.post("handoff.abort", { name: this.name, generation: this.generation, handoffId: this.handoffId, reason: effect.notifySource.slice(0, 2000) }, { timeoutMs: 2000 }).catch(() => {});
        }
        return { type: "dropped" };
      }
    }
  }
}

/** The machine input that reports `effect`'s failure. */
function failedInput(effect: DestinationEffect, error: unknown): DestinationInput {
  switch (effect.type) {
    case "request-begin":
      return { type: "receive-failed", error };
    case "hold":
      return { type: "hold-failed", error };
    case "prepare":
      return { type: "prepare-failed", error };
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
