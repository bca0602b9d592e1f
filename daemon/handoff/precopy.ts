/**
 * Pre-copy (docs/protocol.md, "Pre-copy"): before a large state is suspended, the destination
 * copies it while the process keeps running on its holder — a first round carries all of it (in
 * slices of at most {@link PRECOPY_BUDGET_BYTES}), later rounds only the pieces whose hash
 * changed — until what is left to move fits the process's `maxDowntimeMs`. The hand-off then
 * begins as always, and its `begin` answer carries only the last delta, merged here into the
 * base and rebuilt into an ordinary snapshot before anything is held or prepared.
 *
 * Pre-copy changes no guarantee of the protocol: until `begin` the process runs on its holder
 * only, and the base lives in this node's memory only (nothing durable, nothing that could run).
 * A failed round discards the base and the move goes on without pre-copy.
 *
 * The decisions are a pure machine ({@link nextPrecopy}); {@link pullWithPrecopy} performs its
 * effects with declared timeouts through the one runner.
 *
 * @example
 * ```ts
 * let step = startPrecopy();                                  // effect: request-round after -1
 * step = nextPrecopy(step.phase, { type: "round", stat }, policy); // next round, or the switchover
 * ```
 * @module
 */
import { describeError, FerryError } from "../errors.ts";
import { faults } from "../faults.ts";
import type { PrecopyRound } from "../../schemas/api.schema.ts";
import { validators } from "../../schemas/validators.ts";
import type { ValidateFunction } from "ajv";
import { DeltaBase } from "../snapshot/delta.ts";
import type { StagedSnapshot } from "../store/staged.ts";
import type { DestinationPort } from "./ports.ts";
import { type EffectPolicy, runMachine, type Step } from "./runner.ts";

/** Header carrying a pre-copy round's figures. */
export const PRECOPY_HEADER = "ferry-precopy";
/** States smaller than this move whole: pre-copy would only slow their hand-off down. */
export const PRECOPY_MIN_BYTES = 1024 * 1024;
/** Bytes of chunks one round carries at most, so neither side holds a second whole copy in transit. */
export const PRECOPY_BUDGET_BYTES = 32 * 1024 * 1024;
/** Rounds after which a pre-copy that does not fit the budget yet is declared not converging. */
export const PRECOPY_MAX_ROUNDS = 30;
/** Complete rounds in a row whose delta did not shrink by a tenth: the state changes as fast as it moves. */
const STALLED_ROUNDS = 3;

/** What the process's entry in cluster.yaml asks of its hand-offs. */
export interface PrecopyPolicy {
  maxDowntimeMs: number;
  strict: boolean;
  /** @default PRECOPY_MAX_ROUNDS */
  maxRounds?: number;
}

/** One round as the destination saw it. */
export interface RoundStat extends PrecopyRound {
  /** From sending the request to having merged the answer. */
  wallMs: number;
}

export type PrecopyPhase =
  | { phase: "copying"; rounds: number; after: number; rate: number | null; lastDirty: number | null; stalled: number; staged: boolean }
  | { phase: "staging"; from: Extract<PrecopyPhase, { phase: "copying" }> }
  | { phase: "ending"; outcome: "switchover" | "abandoned" | "rolled-back"; after: number; rounds: number; expectedMs?: number; reason?: string }
  | { phase: "switchover"; after: number; rounds: number; expectedMs: number; reason?: string }
  | { phase: "abandoned"; reason: string }
  | { phase: "rolled-back"; reason: string };

export type PrecopyInput = { type: "round"; stat: RoundStat } | { type: "round-failed"; error: unknown } | { type: "staged" } | { type: "ended" };

export type PrecopyEffect =
  | { type: "request-round"; after: number }
  /**
   * Write the base, as a whole snapshot, to this node's disk now (fsync'd, under a name nothing
   * restores from), so the switchover writes only what its last delta changes. Never fails: a base
   * that cannot be staged is written whole at the switchover.
   */
  | { type: "stage" }
  | { type: "end"; outcome: "switchover" | "abandoned" | "rolled-back"; rounds: number; expectedMs?: number; reason?: string };

const terminal = new Set<PrecopyPhase["phase"]>(["switchover", "abandoned", "rolled-back"]);

/**
 * Whether the pre-copy is over.
 *
 * @example
 * ```ts
 * isPrecopyTerminal({ phase: "abandoned", reason: "a round failed" }); // true
 * ```
 */
export function isPrecopyTerminal(phase: PrecopyPhase): boolean {
  return terminal.has(phase.phase);
}

/**
 * The first step: a round that carries everything.
 *
 * @example
 * ```ts
 * startPrecopy().effect; // { type: "request-round", after: -1 }
 * ```
 */
export function startPrecopy(): Step<PrecopyPhase, PrecopyEffect> {
  return { phase: { phase: "copying", rounds: 0, after: -1, rate: null, lastDirty: null, stalled: 0, staged: false }, effect: { type: "request-round", after: -1 } };
}

/**
 * The expected downtime after `stat`: the holder captures the last delta (it takes about as long
 * as this round's capture) and the changes of about one more round travel at the measured rate.
 *
 * @example
 * ```ts
 * expectedDowntimeMs({ captureMs: 20, dirtyBytes: 1e6 } as RoundStat, 1e5); // 30
 * ```
 */
export function expectedDowntimeMs(stat: Pick<RoundStat, "captureMs" | "dirtyBytes">, rate: number | null): number {
  return stat.captureMs + (rate ? stat.dirtyBytes / rate : 0);
}

const MiB = 1024 * 1024;
function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 2 : 0)} MiB`;
}

/**
 * One transition. Throws FerryError("internal") for an input the phase cannot take.
 *
 * @example
 * ```ts
 * nextPrecopy(phase, { type: "round-failed", error }, policy).effect; // { type: "end", outcome: "abandoned", ... }
 * ```
 */
export function nextPrecopy(from: PrecopyPhase, input: PrecopyInput, policy: PrecopyPolicy): Step<PrecopyPhase, PrecopyEffect> {
  const end = (outcome: "switchover" | "abandoned" | "rolled-back", after: number, rounds: number, extra: { expectedMs?: number; reason?: string }) => ({
    phase: { phase: "ending" as const, outcome, after, rounds, ...extra },
    effect: { type: "end" as const, outcome, rounds, ...extra },
  });
  switch (from.phase) {
    case "copying": {
      if (input.type === "round-failed") return end("abandoned", -1, from.rounds, { reason: `a pre-copy round failed: ${describeError(input.error)}` });
      if (input.type !== "round") break;
      const { stat } = input;
      const rounds = from.rounds + 1;
      const moving = stat.wallMs - stat.captureMs;
      // Only a round that moved enough bytes says anything about the link.
      const rate = stat.sentBytes >= 256 * 1024 && moving > 0 ? stat.sentBytes / moving : from.rate;
      const maxRounds = policy.maxRounds ?? PRECOPY_MAX_ROUNDS;
      if (!stat.complete) {
        if (rounds >= maxRounds) return end("abandoned", -1, rounds, { reason: `the first copy did not finish in ${rounds} rounds` });
        return { phase: { ...from, rounds, after: stat.round, rate }, effect: { type: "request-round", after: stat.round } };
      }
      const expectedMs = expectedDowntimeMs(stat, rate);
      if (expectedMs <= policy.maxDowntimeMs) {
        // Converged: stage the base on disk, then one more round catches up with what changed meanwhile.
        if (!from.staged) return { phase: { phase: "staging", from: { ...from, rounds, after: stat.round, rate, lastDirty: null, stalled: 0 } }, effect: { type: "stage" } };
        return end("switchover", stat.round, rounds, { expectedMs });
      }
      const shrank = from.lastDirty === null || stat.dirtyBytes < from.lastDirty * 0.9;
      const stalled = shrank ? 0 : from.stalled + 1;
      if (rounds >= maxRounds || stalled >= STALLED_ROUNDS) {
        const why = `pre-copy does not converge: after ${rounds} rounds ${mib(stat.dirtyBytes)} still change per round and capturing takes ${Math.round(stat.captureMs)} ms, so the switchover would take about ${Math.round(expectedMs)} ms (maxDowntimeMs ${policy.maxDowntimeMs})`;
        if (policy.strict) return end("rolled-back", stat.round, rounds, { expectedMs, reason: `${why}; strict: true` });
        return end("switchover", stat.round, rounds, { expectedMs, reason: why });
      }
      return { phase: { ...from, rounds, after: stat.round, rate, lastDirty: stat.dirtyBytes, stalled }, effect: { type: "request-round", after: stat.round } };
    }
    case "staging":
      if (input.type === "staged") return { phase: { ...from.from, staged: true }, effect: { type: "request-round", after: from.from.after } };
      break;
    case "ending":
      if (input.type === "ended") {
        if (from.outcome === "switchover") {
          return { phase: { phase: "switchover", after: from.after, rounds: from.rounds, expectedMs: from.expectedMs ?? 0, ...(from.reason ? { reason: from.reason } : {}) } };
        }
        return { phase: { phase: from.outcome, reason: from.reason ?? from.outcome } };
      }
      break;
    default:
      break;
  }
  throw new FerryError("internal", `Pre-copy in phase "${from.phase}" cannot take "${input.type}"`);
}

/** What a pre-copy needs to know of the pull it precedes (pull.ts's request). */
export interface PrecopyRequest {
  name: string;
  from: string;
  generation: number;
  stateBytes?: number;
}

/** A strict pre-copy that did not converge: the pull ends like a rolled-back hand-off. */
export interface PrecopyRolledBack {
  phase: "rolled-back";
  reason: string;
  retryable: true;
}

/** What a pull takes from a finished pre-copy: the base, and the round its last delta builds on. */
export interface Precopied {
  base: DeltaBase;
  after: number;
  expectedMs: number;
  /** The base, written to disk ahead of the switchover (sealed: later deltas patch it in place). */
  staged?: StagedSnapshot;
}

/**
 * Merges the `begin` answer's last delta into the base and gives the whole snapshot: the staged
 * one patched in place (only the ranges that changed are written to its file, then fsync'd), or
 * rebuilt from the base (then nothing is staged any more). Refuses (retryably) a delta that does
 * not build on the base or does not complete it.
 *
 * @example
 * ```ts
 * const { bytes, staged } = await finishPrecopy(precopied, answer.bytes);
 * ```
 */
export async function finishPrecopy(precopied: Precopied, delta: Uint8Array): Promise<{ bytes: Uint8Array; staged?: StagedSnapshot }> {
  const { base, staged } = precopied;
  try {
    const header = base.apply(delta);
    if (!header.complete) throw new FerryError("snapshot_corrupt", `The last pre-copy delta (round ${header.round}) leaves changes out`);
    const resealed = staged ? base.reseal() : undefined;
    if (staged && resealed) {
      await staged.patch(resealed.bytes, resealed.dirty);
      return { bytes: resealed.bytes, staged };
    }
    await staged?.discard();
    return { bytes: base.rebuild() };
  } catch (error) {
    await staged?.discard();
    // Retryable: the next attempt starts afresh.
    throw new FerryError("snapshot_corrupt", `Pre-copied state refused: ${describeError(error)}`, { retryable: true, cause: error });
  } finally {
    base.discard();
  }
}

/**
 * Whether a pull of a state this large pre-copies it first.
 *
 * @example
 * ```ts
 * wantsPrecopy({ name: "x", from: "a", generation: 0, stateBytes: 256 << 20 }); // true
 * ```
 */
export function wantsPrecopy(req: PrecopyRequest): boolean {
  return (req.stateBytes ?? 0) >= PRECOPY_MIN_BYTES;
}

const validateRound = (await validators("api")).precopyRound as ValidateFunction<PrecopyRound>;

function parseRound(header: string | null): PrecopyRound {
  let value: unknown;
  try {
    value = JSON.parse(header ?? "");
  } catch {
    throw new FerryError("bad_request", "Pre-copy answer lacks its round header");
  }
  if (!validateRound(value)) throw new FerryError("bad_request", `Pre-copy round header is malformed: ${validateRound.errors?.[0]?.message ?? "invalid"}`);
  return value;
}

/**
 * Pre-copies `req.name` from its holder, then pulls it with `pullWith` (given the pre-copied base
 * when the pre-copy reached its switchover, nothing when it was abandoned). A strict pre-copy
 * that does not converge ends as a retryable rollback: nothing was suspended.
 *
 * @example
 * ```ts
 * const outcome = await pullWithPrecopy(node, req, handoffId, policy, (pre) => session(pre).run(startPull()));
 * ```
 */
export async function pullWithPrecopy<T>(
  node: DestinationPort,
  req: PrecopyRequest,
  handoffId: string,
  policy: PrecopyPolicy,
  pullWith: (precopied: Precopied | undefined) => Promise<T>,
): Promise<T | PrecopyRolledBack> {
  const base = new DeltaBase();
  let staged: StagedSnapshot | undefined;
  const s = node.settings;
  const peer = () => {
    const found = node.peer(req.from);
    if (!found) throw new FerryError("not_found", `Node "${req.from}" is no longer in cluster.yaml`);
    return found;
  };
  const perform = async (effect: PrecopyEffect): Promise<PrecopyInput> => {
    node.trace.mark("handoff", `pre-copy ${effect.type}`, req.name);
    switch (effect.type) {
      case "request-round": {
        const started = performance.now();
        const answer = await peer().postForBytes("handoff.precopy", { name: req.name, generation: req.generation, to: node.node, handoffId, after: effect.after, budgetBytes: PRECOPY_BUDGET_BYTES }, {
          timeoutMs: s.handoffTimeoutMs,
          maxBytes: s.maxTransferMb * 1024 * 1024,
        });
        const round = parseRound(answer.headers.get(PRECOPY_HEADER));
        const header = base.apply(answer.bytes);
        if (header.round !== round.round) throw new FerryError("bad_request", `Pre-copy round header says ${round.round}, its delta ${header.round}`);
        const stat: RoundStat = { ...round, wallMs: performance.now() - started };
        node.noteAcquiring(req.name, `Pre-copying from "${req.from}": round ${round.round}, ${mib(round.dirtyBytes)} changed of ${mib(round.totalBytes)}`);
        return { type: "round", stat };
      }
      case "stage": {
        const bytes = base.seal();
        // The generation it will have here once the hand-off commits.
        if (bytes) staged = await node.incoming.stage(req.name, req.generation + 1, bytes).catch(() => undefined);
        if (faults.delayAfterStagingMs) await new Promise((r) => setTimeout(r, faults.delayAfterStagingMs));
        return { type: "staged" };
      }
      case "end": {
        const { type: _, ...end } = effect;
        // A courtesy for the holder's events and `ps`; the outcome does not depend on it.
        await peer().post("handoff.precopy.end", { name: req.name, to: node.node, handoffId, ...end, ...(end.reason ? { reason: end.reason.slice(0, 2000) } : {}) }, { timeoutMs: 2000 }).catch(() => {});
        return { type: "ended" };
      }
    }
  };
  const effectPolicy = (effect: PrecopyEffect): EffectPolicy => ({ timeoutMs: effect.type === "end" ? 5000 : effect.type === "stage" ? 120_000 : s.handoffTimeoutMs + 5000 });
  const end = await runMachine<PrecopyPhase, PrecopyInput, PrecopyEffect>(
    { next: (phase, input) => nextPrecopy(phase, input, policy), isTerminal: isPrecopyTerminal },
    {
      perform,
      failed: (effect, error) => (effect.type === "end" ? { type: "ended" } : effect.type === "stage" ? { type: "staged" } : { type: "round-failed", error }),
      policy: effectPolicy,
    },
    startPrecopy(),
  );
  node.noteAcquiring(req.name, null);
  switch (end.phase) {
    case "switchover":
      return pullWith({ base, after: end.after, expectedMs: end.expectedMs, ...(staged ? { staged } : {}) });
    case "rolled-back":
      base.discard();
      await staged?.discard();
      return { phase: "rolled-back", reason: end.reason, retryable: true };
    default:
      base.discard();
      await staged?.discard();
      return pullWith(undefined);
  }
}
