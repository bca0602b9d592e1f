/**
 * What the journal records and the state they fold into. Replay at start-up, live appends and
 * compaction all go through {@link applyRecord} and {@link snapshotRecords}, so they cannot
 * disagree about what a journal means.
 *
 * @example
 * ```ts
 * const state = emptyState();
 * applyRecord(state, { op: "removed", name: "counter" });
 * ```
 * @module
 */

/** What a node knows about one process it holds or is receiving. */
export interface OwnedProcess {
  name: string;
  module: string;
  args: string[];
  generation: number;
  migrations: number;
  lastDowntimeMs: number | null;
  /** `prepared`: an incoming hand-off is stored here but not yet known to be committed. */
  status: "owned" | "prepared" | "completed" | "failed";
  error?: string;
  /** For `prepared`: where it comes from and the hand-off's id. */
  from?: string;
  handoffId?: string;
  memoryMb?: number;
}

export type JournalRecord =
  | ({ op: "own" } & Omit<OwnedProcess, "status" | "from" | "handoffId">)
  | ({ op: "prepared"; from: string; handoffId: string } & Omit<OwnedProcess, "status" | "from" | "handoffId">)
  | { op: "released"; name: string; generation: number; to: string; handoffId: string }
  | { op: "aborted"; name: string; generation: number; handoffId: string }
  | { op: "completed"; name: string; generation: number }
  | { op: "failed"; name: string; generation: number; error: string }
  | { op: "removed"; name: string }
  /**
   * Latest checkpoint: inline (base64) when small, else in `checkpoints/<name>@<generation>.snap`;
   * `at` is when its state was taken (ms since epoch; absent in journals written before it was kept).
   */
  | { op: "checkpoint"; name: string; generation: number; data?: string; at?: number };

/** The outcome of a hand-off this node sent, kept so the receiver can ask after a crash. */
export interface Release {
  generation: number;
  to: string;
  handoffId: string;
}

export interface CheckpointEntry {
  generation: number;
  /** base64 snapshot; absent when it is in a file. */
  data?: string;
  /** When the state was taken, ms since epoch; absent for checkpoints recorded before it was kept. */
  at?: number;
}

export interface JournalState {
  owned: Map<string, OwnedProcess>;
  checkpoints: Map<string, CheckpointEntry>;
  released: Map<string, Release>;
  aborted: Set<string>;
}

/** A state with nothing in it: a journal's state before its first record. */
export function emptyState(): JournalState {
  return { owned: new Map(), checkpoints: new Map(), released: new Map(), aborted: new Set() };
}

/**
 * Folds a record into the state.
 *
 * @example
 * ```ts
 * applyRecord(state, { op: "completed", name: "counter", generation: 2 });
 * ```
 */
export function applyRecord(state: JournalState, record: JournalRecord): void {
  switch (record.op) {
    case "own": {
      const { op: _op, ...rest } = record;
      state.owned.set(record.name, { ...rest, status: "owned" });
      state.released.delete(record.name);
      return;
    }
    case "prepared": {
      const { op: _op, ...rest } = record;
      state.owned.set(record.name, { ...rest, status: "prepared" });
      return;
    }
    case "checkpoint":
      state.checkpoints.set(record.name, {
        generation: record.generation,
        ...(record.data ? { data: record.data } : {}),
        ...(record.at !== undefined ? { at: record.at } : {}),
      });
      return;
    case "released":
      state.owned.delete(record.name);
      state.checkpoints.delete(record.name);
      state.released.set(record.name, { generation: record.generation, to: record.to, handoffId: record.handoffId });
      return;
    case "aborted": {
      state.aborted.add(record.handoffId);
      const owned = state.owned.get(record.name);
      if (owned?.status === "prepared" && owned.handoffId === record.handoffId) {
        state.owned.delete(record.name);
        state.checkpoints.delete(record.name);
      }
      return;
    }
    case "completed":
    case "failed": {
      const owned = state.owned.get(record.name);
      if (owned) {
        owned.status = record.op;
        owned.generation = record.generation;
        if (record.op === "failed") owned.error = record.error;
      }
      return;
    }
    case "removed":
      state.owned.delete(record.name);
      state.checkpoints.delete(record.name);
      state.released.delete(record.name);
      return;
  }
}

/**
 * The fewest records that rebuild `state`: what a compacted journal holds.
 *
 * @example
 * ```ts
 * const lines = snapshotRecords(journal.state).map((r) => JSON.stringify(r));
 * ```
 */
export function snapshotRecords(state: JournalState): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const p of state.owned.values()) {
    const { status, error, from, handoffId, ...base } = p;
    if (status === "prepared") out.push({ op: "prepared", ...base, from: from!, handoffId: handoffId! });
    else out.push({ op: "own", ...base });
    if (status === "completed") out.push({ op: "completed", name: p.name, generation: p.generation });
    if (status === "failed") out.push({ op: "failed", name: p.name, generation: p.generation, error: error ?? "" });
    const checkpoint = state.checkpoints.get(p.name);
    if (checkpoint) out.push({ op: "checkpoint", name: p.name, ...checkpoint });
  }
  for (const [name, r] of state.released) out.push({ op: "released", name, ...r });
  // Kept so `handoff.status` can still say "aborted"; the most recent ones are enough.
  for (const handoffId of [...state.aborted].slice(-1000)) out.push({ op: "aborted", name: "", generation: 0, handoffId });
  return out;
}
