/**
 * A process's history as the daemons' event logs tell it (they keep the recent events of each
 * node since it started): its moves between nodes with their downtimes and sizes, the hand-offs
 * that rolled back, and its last error.
 *
 * @example
 * ```ts
 * const { moves, rollbacks } = processHistory(allEvents, "counter");
 * ```
 * @module
 */
import type { FerryEvent } from "../schemas/api.schema.ts";

/** One completed move. */
export interface Move {
  time: string;
  from: string;
  to: string;
  generation: number | null;
  downtimeMs: number | null;
  bytes: number | null;
}

/** A hand-off that did not happen, and why. */
export interface Rollback {
  time: string;
  node: string;
  to: string | null;
  reason: string;
}

export interface ProcessHistory {
  /** The process's events from every node, oldest first. */
  events: FerryEvent[];
  moves: Move[];
  rollbacks: Rollback[];
  /** The reason of its latest `failed` or `rolled-back` event, if any. */
  lastError: string | null;
}

/**
 * Picks `name`'s events out of every node's and reads its moves from them: a `resumed` event
 * with a `from` on the destination is a completed move (its `ms` the downtime), the
 * destination's `transferred` event of the same generation gives the size.
 *
 * @example
 * ```ts
 * processHistory([{ seq: 1, time: "2025-01-01T00:00:00.000Z", node: "beta", type: "resumed", process: "c", from: "alpha", generation: 1, ms: 1.5 }], "c").moves;
 * // [{ time: "2025-01-01T00:00:00.000Z", from: "alpha", to: "beta", generation: 1, downtimeMs: 1.5, bytes: null }]
 * ```
 */
export function processHistory(all: readonly FerryEvent[], name: string): ProcessHistory {
  const events = all.filter((e) => e.process === name).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.seq - b.seq));
  const moves = events.filter((e) => e.type === "resumed" && e.from !== undefined).map((e): Move => {
    const transferred = events.find((t) => t.type === "transferred" && t.node === e.node && t.generation === e.generation && t.bytes !== undefined);
    return { time: e.time, from: e.from!, to: e.node, generation: e.generation ?? null, downtimeMs: e.ms ?? null, bytes: transferred?.bytes ?? null };
  });
  const rollbacks = events.filter((e) => e.type === "rolled-back").map((e): Rollback => ({ time: e.time, node: e.node, to: e.to ?? null, reason: e.reason ?? "" }));
  const failure = events.filter((e) => (e.type === "failed" || e.type === "rolled-back") && e.reason).at(-1);
  return { events, moves, rollbacks, lastError: failure?.reason ?? null };
}
