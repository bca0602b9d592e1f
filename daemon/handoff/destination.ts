/**
 * The destination's side of a hand-off as pure transitions: given where the pull stands and
 * what the last effect answered, say where it stands next and which one effect to perform.
 * No I/O happens here; `runner.ts` performs the effects with their declared timeouts, so every
 * crash point of docs/protocol.md can be reached in a unit test by stopping between two effects.
 *
 * The phases are the protocol's: ask the holder for the snapshot (`begin`), store it — hold an
 * instance without running it and journal `prepared` (durable before the commit), the two at
 * once — `commit`, then `own` and run. A commit whose answer is lost leaves the node in doubt;
 * it then asks the holder (`status`) and never runs the copy until the holder says it committed.
 *
 * @example
 * ```ts
 * let step = startPull();                       // effect: request-begin
 * step = nextDestination(step.phase, { type: "received", bytes: 1024 }); // effect: store
 * ```
 * @module
 */
import { describeError, FerryError, isFerryError, isRetryable } from "../errors.ts";

/** Where a pull stands. The terminal phases end the runner. */
export type DestinationPhase =
  | { phase: "requesting" }
  | { phase: "received"; bytes: number }
  | { phase: "prepared" }
  | { phase: "in-doubt"; asked: number }
  | { phase: "committed" }
  | { phase: "dropping"; reason: string; retryable: boolean; prepared: boolean; notifySource: boolean }
  | { phase: "running" }
  | { phase: "completed" }
  | { phase: "failed"; reason: string }
  | { phase: "rolled-back"; reason: string; retryable: boolean }
  | { phase: "waiting"; afterMs: number; reason: string };

/** What the last effect answered. */
export type DestinationInput =
  | { type: "received"; bytes: number }
  | { type: "receive-failed"; error: unknown }
  | { type: "prepared" }
  /** The instance could not be made; `prepared` tells whether the record was journalled meanwhile. */
  | { type: "hold-failed"; error: unknown; prepared: boolean }
  | { type: "prepare-failed"; error: unknown }
  | { type: "committed" }
  | { type: "commit-refused"; error: unknown }
  | { type: "commit-unanswered"; error: unknown }
  | { type: "status"; outcome: "committed" | "aborted" | "pending" | "unknown" }
  | { type: "status-unanswered"; error: unknown }
  | { type: "activated"; running: boolean }
  | { type: "activate-failed"; error: unknown }
  | { type: "dropped" };

/** The one effect to perform next; each answers with exactly one {@link DestinationInput}. */
export type DestinationEffect =
  | { type: "request-begin" }
  /** Instantiate without running it and journal `prepared` with the snapshot, concurrently. */
  | { type: "store" }
  | { type: "request-commit" }
  | { type: "request-status" }
  | { type: "activate" }
  | { type: "drop"; prepared: boolean; notifySource: string | undefined };

export interface DestinationStep {
  phase: DestinationPhase;
  /** Absent once the phase is terminal. */
  effect?: DestinationEffect;
  /** Shown in `ps` while the pull waits on something (e.g. an unanswered commit). */
  note?: string;
}

const terminal = new Set<DestinationPhase["phase"]>(["running", "completed", "failed", "rolled-back", "waiting"]);

/** Whether the runner is done with this pull. */
export function isTerminal(phase: DestinationPhase): boolean {
  return terminal.has(phase.phase);
}

/**
 * A new pull: first ask the holder to suspend the process and send its snapshot.
 *
 * @example
 * ```ts
 * startPull().effect; // { type: "request-begin" }
 * ```
 */
export function startPull(): DestinationStep {
  return { phase: { phase: "requesting" }, effect: { type: "request-begin" } };
}

/**
 * A pull found `prepared` in the journal (after a crash, or a commit whose answer was lost):
 * the outcome is the holder's to tell.
 *
 * @example
 * ```ts
 * resumeInDoubt().effect; // { type: "request-status" }
 * ```
 */
export function resumeInDoubt(): DestinationStep {
  return { phase: { phase: "in-doubt", asked: 0 }, effect: { type: "request-status" } };
}

function drop(reason: string, retryable: boolean, prepared: boolean, notifySource: boolean): DestinationStep {
  return {
    phase: { phase: "dropping", reason, retryable, prepared, notifySource },
    effect: { type: "drop", prepared, notifySource: notifySource ? reason : undefined },
  };
}

/**
 * One transition. Throws a FerryError("internal") for an input the phase cannot receive: a
 * runner bug, never a network event.
 *
 * @example
 * ```ts
 * nextDestination({ phase: "prepared" }, { type: "commit-unanswered", error }).phase; // { phase: "in-doubt", asked: 0 }
 * ```
 */
export function nextDestination(from: DestinationPhase, input: DestinationInput, context: { source: string; node: string }): DestinationStep {
  const { source, node } = context;
  switch (from.phase) {
    case "requesting":
      if (input.type === "received") return { phase: { phase: "received", bytes: input.bytes }, effect: { type: "store" } };
      if (input.type === "receive-failed") {
        // Nothing is stored here; the holder rolls back on its own (the abort is a courtesy).
        return drop(`Hand-off from "${source}" failed: ${describeError(input.error)}`, isRetryable(input.error) || !isFerryError(input.error), false, true);
      }
      break;
    case "received":
      if (input.type === "prepared") return { phase: { phase: "prepared" }, effect: { type: "request-commit" } };
      // A `prepared` journalled meanwhile is cancelled by an `aborted` record before anything else.
      if (input.type === "hold-failed") return drop(`Node "${node}" refused it: ${describeError(input.error)}`, true, input.prepared, true);
      // A node that cannot write its journal refuses the hand-off: the holder resumes it (a
      // failed append is cut off the journal, so nothing was prepared).
      if (input.type === "prepare-failed") return drop(`Node "${node}" cannot store it: ${describeError(input.error)}`, true, false, true);
      break;
    case "prepared":
      if (input.type === "committed") return { phase: { phase: "committed" }, effect: { type: "activate" } };
      if (input.type === "commit-refused") return drop(`Hand-off from "${source}" was refused at commit: ${describeError(input.error)}`, true, true, false);
      if (input.type === "commit-unanswered") {
        return { phase: { phase: "in-doubt", asked: 0 }, effect: { type: "request-status" }, note: `In doubt: the commit to "${source}" got no answer (${describeError(input.error)}); asking it` };
      }
      break;
    case "in-doubt":
      if (input.type === "status") {
        if (input.outcome === "committed") return { phase: { phase: "committed" }, effect: { type: "activate" } };
        // Still waiting for our commit (its first copy was lost on the way): send it again.
        if (input.outcome === "pending") return { phase: { phase: "prepared" }, effect: { type: "request-commit" } };
        return drop(`Hand-off from "${source}" was not committed there (${input.outcome})`, true, true, false);
      }
      if (input.type === "status-unanswered") {
        const reason = `In doubt: waiting for node "${source}" to say whether it committed (${describeError(input.error)})`;
        return { phase: { phase: "waiting", afterMs: 250, reason }, note: reason };
      }
      break;
    case "committed":
      if (input.type === "activated") return { phase: input.running ? { phase: "running" } : { phase: "completed" } };
      if (input.type === "activate-failed") return { phase: { phase: "failed", reason: `resume() failed: ${describeError(input.error)}` } };
      break;
    case "dropping":
      if (input.type === "dropped") return { phase: { phase: "rolled-back", reason: from.reason, retryable: from.retryable } };
      break;
    default:
      break;
  }
  throw new FerryError("internal", `Hand-off of a process in phase "${from.phase}" cannot take "${input.type}"`);
}
