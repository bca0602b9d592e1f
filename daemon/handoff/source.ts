/**
 * The holder's side of a hand-off as pure transitions. `begin` is checked against what the node
 * knows (placement, generation, whether the process is free to move); the process is then
 * suspended at a safe point, checkpointed, and its snapshot sent. It stays suspended, its
 * instance kept, until `commit` (journal `released`, then the copy is dropped) or `abort`, the
 * hand-off timeout or a broken stream (journal `aborted`, then resume it exactly where it
 * stopped). Every later message for another generation or hand-off id is refused.
 *
 * No I/O happens here: `runner.ts` performs the effects.
 *
 * @example
 * ```ts
 * const step = checkBegin(facts, request); // { phase: { phase: "suspending" }, effect: { type: "suspend" } }
 * ```
 * @module
 */
import { describeError, FerryError, isFerryError } from "../errors.ts";

/** What the node knows when a `begin` arrives. */
export interface BeginFacts {
  node: string;
  name: string;
  /** The node is shutting down: it keeps its processes until its restart. */
  closing: boolean;
  /** The process's lifecycle state here, or undefined when this node does not hold it. */
  state: string | undefined;
  generation: number | undefined;
  hosted: boolean;
  /** Already in a hand-off (either direction). */
  busy: boolean;
  lastError: string | null;
  /** cluster.yaml places it on the requester, or the balancer granted it. */
  placed: boolean;
  /** The config was re-read for this request already. */
  reloaded: boolean;
}

export interface BeginRequest {
  to: string;
  generation: number;
  handoffId: string;
  /** The requester pre-copied the state up to round `after`: the suspend captures only the last delta. */
  precopy?: { after: number };
}

export type SourcePhase =
  | { phase: "checking" }
  | { phase: "suspending" }
  | { phase: "saving"; bytes: number }
  | { phase: "sent" }
  | { phase: "releasing" }
  | { phase: "rolling-back"; reason: string }
  | { phase: "resuming"; reason: string }
  | { phase: "refused"; error: FerryError }
  | { phase: "released" }
  | { phase: "resumed"; reason: string }
  | { phase: "failed"; reason: string };

export type SourceInput =
  | { type: "reloaded"; facts: BeginFacts }
  | { type: "suspended"; bytes: number }
  | { type: "suspend-failed"; error: unknown }
  | { type: "saved" }
  | { type: "save-failed"; error: unknown }
  | { type: "commit" }
  | { type: "abort"; reason: string }
  | { type: "timeout"; afterMs: number }
  | { type: "stream-broken" }
  | { type: "journalled" }
  | { type: "journal-failed"; error: unknown }
  | { type: "activated" }
  | { type: "activate-failed"; error: unknown };

export type SourceEffect =
  | { type: "reload-config" }
  | { type: "suspend" }
  | { type: "save-checkpoint" }
  | { type: "journal-released" }
  | { type: "journal-aborted" }
  | { type: "resume" };

export interface SourceStep {
  phase: SourcePhase;
  effect?: SourceEffect;
}

const terminal = new Set<SourcePhase["phase"]>(["refused", "released", "resumed", "failed"]);

/** Whether this hand-off is over on the holder's side. */
export function isSourceTerminal(phase: SourcePhase): boolean {
  return terminal.has(phase.phase);
}

/** The phase in which the holder waits for the destination's verdict. */
export function awaitsOutcome(phase: SourcePhase): boolean {
  return phase.phase === "sent";
}

/**
 * Decides whether a `begin` may proceed. A placement the node does not see yet may be a newer
 * cluster.yaml the destination already read: the config is re-read once before refusing.
 *
 * @example
 * ```ts
 * checkBegin({ ...facts, placed: false, reloaded: false }, req).effect; // { type: "reload-config" }
 * ```
 */
export function checkBegin(facts: BeginFacts, req: BeginRequest): SourceStep {
  const refuse = (error: FerryError): SourceStep => ({ phase: { phase: "refused", error } });
  if (facts.closing) {
    return refuse(new FerryError("unavailable", `Node "${facts.node}" is stopping; it hands "${facts.name}" over after its restart`));
  }
  if (facts.state === undefined || facts.state === "starting" || facts.state === "held") {
    return refuse(new FerryError("process_not_found", `Process "${facts.name}" is not held by node "${facts.node}"`));
  }
  if (!facts.placed) {
    if (!facts.reloaded) return { phase: { phase: "checking" }, effect: { type: "reload-config" } };
    return refuse(new FerryError("conflict", `cluster.yaml does not place "${facts.name}" on node "${req.to}", and no balancer move grants it`, { retryable: false }));
  }
  if (facts.generation !== req.generation) {
    return refuse(new FerryError("stale_generation", `Hand-off of "${facts.name}" names generation ${req.generation}, but it is at ${facts.generation}`));
  }
  if (facts.busy) return refuse(new FerryError("conflict", `Process "${facts.name}" is already in a hand-off`));
  if (!facts.hosted || facts.state === "failed") {
    return refuse(new FerryError("conflict", `Process "${facts.name}" has failed and holds no state to move`, {
      retryable: false,
      ...(facts.lastError ? { hint: facts.lastError } : {}),
    }));
  }
  return { phase: { phase: "suspending" }, effect: { type: "suspend" } };
}

/**
 * One transition of the holder's side. Throws FerryError("internal") for an input the phase
 * cannot take; the runner only delivers outcome messages (`commit`, `abort`, `timeout`,
 * `stream-broken`) while the phase {@link awaitsOutcome}.
 *
 * @example
 * ```ts
 * nextSource({ phase: "sent" }, { type: "commit" }, ctx); // effect: journal-released
 * ```
 */
export function nextSource(from: SourcePhase, input: SourceInput, context: { to: string; request: BeginRequest }): SourceStep {
  const { to } = context;
  switch (from.phase) {
    case "checking":
      if (input.type === "reloaded") return checkBegin({ ...input.facts, reloaded: true }, context.request);
      break;
    case "suspending":
      if (input.type === "suspended") return { phase: { phase: "saving", bytes: input.bytes }, effect: { type: "save-checkpoint" } };
      // The executor keeps it running on a failed suspend (no safe point, unserializable field).
      if (input.type === "suspend-failed") {
        const error = asFerry(input.error);
        return { phase: { phase: "refused", error } };
      }
      break;
    case "saving":
      if (input.type === "saved") return { phase: { phase: "sent" } };
      // Without the checkpoint at suspend, a crash now would lose the suspended state: give up.
      if (input.type === "save-failed") return { phase: { phase: "resuming", reason: `cannot checkpoint it at suspend: ${describeError(input.error)}` }, effect: { type: "resume" } };
      break;
    case "sent":
      if (input.type === "commit") return { phase: { phase: "releasing" }, effect: { type: "journal-released" } };
      if (input.type === "abort") return rollBack(input.reason);
      if (input.type === "timeout") return rollBack(`no commit from "${to}" within ${input.afterMs} ms`);
      if (input.type === "stream-broken") return rollBack("the destination disconnected mid-transfer");
      break;
    case "releasing":
      if (input.type === "journalled") return { phase: { phase: "released" } };
      if (input.type === "journal-failed") return rollBack(`cannot journal the release: ${describeError(input.error)}`);
      break;
    case "rolling-back":
      // Even an unjournalled abort is safe: the destination treats "unknown" as not committed.
      if (input.type === "journalled" || input.type === "journal-failed") {
        return { phase: { phase: "resuming", reason: from.reason }, effect: { type: "resume" } };
      }
      break;
    case "resuming":
      if (input.type === "activated") return { phase: { phase: "resumed", reason: from.reason } };
      if (input.type === "activate-failed") {
        return { phase: { phase: "failed", reason: `Hand-off to "${to}" rolled back (${from.reason}), then resume() failed: ${describeError(input.error)}` } };
      }
      break;
    default:
      break;
  }
  throw new FerryError("internal", `Hand-off of a suspended process in phase "${from.phase}" cannot take "${input.type}"`);
}

function rollBack(reason: string): SourceStep {
  return { phase: { phase: "rolling-back", reason }, effect: { type: "journal-aborted" } };
}

function asFerry(error: unknown): FerryError {
  return isFerryError(error) ? error : new FerryError("internal", describeError(error));
}
