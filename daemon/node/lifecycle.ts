/**
 * A process's lifecycle on one node: the states it can be in and the only transitions allowed
 * between them. The node state (`state.ts`) is the one place that moves a process from one state
 * to the next, and an illegal move throws, so a bug shows up where it happens instead of as a
 * process stuck in a state nobody expected.
 *
 * ```
 *  starting ──► running ──► suspending ──► migrating ──► released (moved away)
 *     │  ▲        │  ▲           │              │
 *     │  │        │  └───────────┴──────────────┘ (rolled back)
 *     │  │        ▼
 *     │  └─── failed ◄── any live state          completed ◄─► suspending (a finished process moves too)
 *     ▼
 *   held (received in a hand-off, waiting for the commit) ──► running | completed | dropped
 *
 *  any state but released/dropped ──► stopped (removed from cluster.yaml, or fenced)
 * ```
 *
 * @example
 * ```ts
 * canMove("running", "suspending"); // true
 * canMove("held", "suspending");    // false
 * ```
 * @module
 */
import { FerryError } from "../errors.ts";
import type { ProcessStateName } from "../../schemas/api.schema.ts";

export type ProcessState =
  | "starting"
  | "held"
  | "running"
  | "suspending"
  | "migrating"
  | "completed"
  | "failed"
  | "stopped"
  | "released"
  | "dropped";

const transitions: Record<ProcessState, readonly ProcessState[]> = {
  starting: ["running", "held", "completed", "failed", "stopped"],
  held: ["running", "completed", "failed", "dropped", "stopped"],
  running: ["suspending", "completed", "failed", "stopped"],
  suspending: ["migrating", "running", "completed", "failed", "stopped"],
  migrating: ["running", "completed", "failed", "released", "stopped"],
  completed: ["suspending", "failed", "stopped"],
  failed: ["starting", "stopped"],
  stopped: [],
  released: [],
  dropped: [],
};

/** States after which the node forgets the process. */
export function isGone(state: ProcessState): boolean {
  return state === "stopped" || state === "released" || state === "dropped";
}

/**
 * Whether `from → to` is a legal transition.
 *
 * @example
 * ```ts
 * canMove("migrating", "running"); // true: a rollback
 * ```
 */
export function canMove(from: ProcessState, to: ProcessState): boolean {
  return transitions[from].includes(to);
}

/**
 * Throws FerryError("internal") naming the process for an illegal transition.
 *
 * @example
 * ```ts
 * assertMove("counter", "stopped", "running"); // throws: stopped is final
 * ```
 */
export function assertMove(name: string, from: ProcessState, to: ProcessState): void {
  if (!canMove(from, to)) {
    throw new FerryError("internal", `Process "${name}" cannot go from "${from}" to "${to}"`, { hint: "this is a bug in Ferry; please report it" });
  }
}

/**
 * The state `ferry ps` shows: the contract's names. A copy held for a hand-off is still
 * `starting`; a process on its way out is shown as what it last was.
 *
 * @example
 * ```ts
 * shownState("held"); // "starting"
 * ```
 */
export function shownState(state: ProcessState): ProcessStateName {
  switch (state) {
    case "held":
      return "starting";
    case "released":
      return "migrating";
    case "dropped":
      return "stopped";
    default:
      return state;
  }
}

/** A process whose code may be running (or may run again without a restart). */
export function isLive(state: ProcessState): boolean {
  return state === "running" || state === "suspending" || state === "migrating" || state === "completed" || state === "held" || state === "starting";
}
