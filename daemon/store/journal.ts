/**
 * The node's durable journal: an append-only file of JSON lines, fsync'd before `append()`
 * resolves, so a daemon killed at any instant restarts knowing which processes it owns and at
 * which generation. Appends made in the same turn share one write and one fsync (group commit).
 * A torn last line (kill -9 mid-write) is ignored on replay; the file is compacted on open.
 *
 * @example
 * ```ts
 * const journal = await Journal.open("/data/alpha");
 * await journal.append({ op: "own", name: "counter", generation: 0, module: "Counter", args: [], migrations: 0, lastDowntimeMs: null });
 * journal.state.owned.get("counter")?.generation; // 0
 * ```
 * @module
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";

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
  /** Latest checkpoint: inline (base64) when small, else in `checkpoints/<name>@<generation>.snap`. */
  | { op: "checkpoint"; name: string; generation: number; data?: string };

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
}

export interface JournalState {
  owned: Map<string, OwnedProcess>;
  checkpoints: Map<string, CheckpointEntry>;
  released: Map<string, Release>;
  aborted: Set<string>;
}

/** Folds a record into the state; replay and live appends share it so they cannot disagree. */
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
      state.checkpoints.set(record.name, { generation: record.generation, ...(record.data ? { data: record.data } : {}) });
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

function snapshotRecords(state: JournalState): JournalRecord[] {
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

export class Journal {
  readonly state: JournalState;
  readonly #file: string;
  #fd: number;
  #pending: string[] = [];
  #waiters: Array<{ resolve(): void; reject(e: unknown): void }> = [];
  #scheduled = false;
  #lines: number;
  #closed = false;

  private constructor(file: string, fd: number, state: JournalState, lines: number) {
    this.#file = file;
    this.#fd = fd;
    this.state = state;
    this.#lines = lines;
  }

  /** Opens (creating) the journal in `dir`, replays it and rewrites it compacted. */
  static async open(dir: string): Promise<Journal> {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "journal.ndjson");
    const state: JournalState = { owned: new Map(), checkpoints: new Map(), released: new Map(), aborted: new Set() };
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw error;
    }
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        applyRecord(state, JSON.parse(line) as JournalRecord);
      } catch {
        // A torn line can only be the last one written before a crash; its append never resolved.
      }
    }
    for (const fence of readFences(dir)) applyFence(state, fence);
    const records = snapshotRecords(state);
    const tmp = `${file}.tmp`;
    const tmpFd = openSync(tmp, "w");
    writeSync(tmpFd, records.map((r) => JSON.stringify(r) + "\n").join(""));
    fsyncSync(tmpFd);
    closeSync(tmpFd);
    renameSync(tmp, file);
    syncDir(dir);
    return new Journal(file, openSync(file, "a"), state, records.length);
  }

  /** Applies `records` and resolves once they are on disk. */
  append(...records: JournalRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("journal is closed"));
    for (const r of records) {
      applyRecord(this.state, r);
      this.#pending.push(JSON.stringify(r) + "\n");
    }
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return done;
  }

  /**
   * Resolves once everything appended so far is on disk; at once when nothing is pending, so a
   * reader that must answer only from durable state costs no fsync of its own.
   */
  durable(): Promise<void> {
    if (!this.#pending.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #flush(): void {
    this.#scheduled = false;
    const lines = this.#pending;
    const waiters = this.#waiters;
    this.#pending = [];
    this.#waiters = [];
    try {
      writeSync(this.#fd, lines.join(""));
      fsyncSync(this.#fd);
      this.#lines += lines.length;
      for (const w of waiters) w.resolve();
    } catch (error) {
      for (const w of waiters) w.reject(error);
    }
    if (this.#lines > 1000 && this.#lines > 8 * (2 * this.state.owned.size + this.state.released.size)) this.#compact();
  }

  #compact(): void {
    const records = snapshotRecords(this.state);
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, "w");
    writeSync(fd, records.map((r) => JSON.stringify(r) + "\n").join(""));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.#file);
    closeSync(this.#fd);
    this.#fd = openSync(this.#file, "a");
    this.#lines = records.length;
  }

  close(): void {
    if (this.#closed) return;
    if (this.#pending.length) this.#flush();
    this.#closed = true;
    closeSync(this.#fd);
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot open a directory for fsync; the rename is still atomic there.
  }
}

/**
 * A fence: another node adopted `name` at `generation` because this node seemed gone. Written to
 * `fences.ndjson` in this node's directory by the adopter (this node may be down, or just slow).
 */
export interface Fence {
  name: string;
  generation: number;
  to: string;
  handoffId: string;
}

export function fencesFile(dir: string): string {
  return join(dir, "fences.ndjson");
}

export function readFences(dir: string): Fence[] {
  let text = "";
  try {
    text = readFileSync(fencesFile(dir), "utf8");
  } catch {
    return [];
  }
  const out: Fence[] = [];
  for (const line of text.split("\n")) {
    try {
      if (line) out.push(JSON.parse(line) as Fence);
    } catch {
      // torn line
    }
  }
  return out;
}

/** Applies a fence if it still names the generation this node owns; returns whether it did. */
export function applyFence(state: JournalState, fence: Fence): boolean {
  const owned = state.owned.get(fence.name);
  if (!owned || owned.status === "prepared" || owned.generation !== fence.generation) return false;
  applyRecord(state, { op: "released", name: fence.name, generation: fence.generation, to: fence.to, handoffId: fence.handoffId });
  return true;
}

/** Appends a fence to `dir` durably. */
export function writeFence(dir: string, fence: Fence): void {
  const fd = openSync(fencesFile(dir), "a");
  try {
    writeSync(fd, JSON.stringify(fence) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
