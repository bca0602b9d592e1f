/**
 * The node's durable journal: an append-only file of JSON lines, fsync'd before `append()`
 * resolves, so a daemon killed at any instant restarts knowing which processes it owns and at
 * which generation. Appends made in the same turn share one write and one fsync (group commit),
 * and so do all those made while a group is being written: many executor replies or answers of
 * one batch, each in its own callback, wait for the group in flight and then share the next.
 * Where the platform offers O_DSYNC the file is opened with it, and a group's one write is its
 * fsync: a single trip to the thread pool, where a write then an fsync are two, each of which
 * costs a hand-off's critical path a thread wake-up on either side.
 *
 * `state` holds durable truth only: a record is applied once its fsync returned, so nothing is
 * ever decided on a record that a full or failing disk then loses. When a write or fsync fails,
 * the file is cut back to its last durable byte (no torn or phantom record stays in the middle),
 * that flush's appends reject with `storage_failed`, `state` is unchanged and later appends try
 * again; `healthy` and `lastError` tell the node to refuse new work meanwhile. If even the cut
 * fails, the journal is broken and refuses every append until it is opened again.
 *
 * On open, the file is replayed (a torn last line is dropped, other unreadable lines are skipped
 * and listed in `warnings`) and rewritten compacted; on a full disk it is opened as it is.
 *
 * @example
 * ```ts
 * const journal = await Journal.open("/data/alpha");
 * await journal.append({ op: "own", name: "counter", generation: 0, module: "Counter", args: [], migrations: 0, lastDowntimeMs: null });
 * journal.state.owned.get("counter")?.generation; // 0
 * ```
 * @module
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "../errors.ts";
import { describeIoError, errorCodeOf, nodeStorageFs, storageFailed, writeAll, writeAllSync } from "./fs.ts";
import type { StorageFs } from "./fs.ts";
import { applyRecord, snapshotRecords } from "./records.ts";
import type { JournalRecord, JournalState } from "./records.ts";
import { replayJournal } from "./replay.ts";

export { applyRecord } from "./records.ts";
export type { CheckpointEntry, JournalRecord, JournalState, OwnedProcess, Release } from "./records.ts";

/** The journal's file name inside the node's data directory. */
export const JOURNAL_FILE = "journal.ndjson";

/** A long-running journal compacts itself once it has at least this many lines. */
const COMPACT_MIN_LINES = 1000;
/** `warnings` keeps this many; a disk that keeps refusing compaction must not grow it for ever. */
const MAX_WARNINGS = 100;
/** What {@link Journal.probe} writes: a page, the least a record can need on most filesystems. */
const PROBE_BYTES = 4096;

export interface JournalOptions {
  /**
   * The file calls used for the journal's data.
   * @default nodeStorageFs
   */
  fs?: StorageFs;
  /** Called with the duration (ms) of each group commit's fsync, for the node's metrics. */
  onFsync?: (ms: number) => void;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

const encoder = new TextEncoder();

export class Journal {
  /** Durable truth: every record whose append resolved, and nothing else. */
  readonly state: JournalState;
  /** The node's data directory. */
  readonly dir: string;
  /** The journal file (`<dir>/journal.ndjson`). */
  readonly file: string;
  readonly #warnings: string[];
  readonly #fs: StorageFs;
  readonly #onFsync: ((ms: number) => void) | undefined;
  #fd: number;
  /** `#fd` was opened with {@link StorageFs.openDurableSync}: a write is durable when it returns. */
  #durableWrites: boolean;
  /** Bytes of the file known to be on disk; a failed flush cuts the file back to this. */
  #size: number;
  #lines: number;
  #compactAt = COMPACT_MIN_LINES;
  #pending: string[] = [];
  #records: JournalRecord[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  /** A group commit is being written; later appends wait for the next one. */
  #flushing: Promise<void> | undefined;
  #closed = false;
  #lastError: FerryError | undefined;
  #broken: FerryError | undefined;

  private constructor(dir: string, storage: StorageFs, { fd, durable }: OpenFile, state: JournalState, size: number, lines: number, warnings: string[], onFsync?: (ms: number) => void) {
    this.dir = dir;
    this.#onFsync = onFsync;
    this.file = join(dir, JOURNAL_FILE);
    this.#fs = storage;
    this.#fd = fd;
    this.#durableWrites = durable;
    this.state = state;
    this.#size = size;
    this.#lines = lines;
    this.#warnings = warnings;
  }

  /**
   * Opens (creating) the journal in `dir`, replays it and rewrites it compacted. Throws
   * `storage_failed` only when the file cannot be read or opened for appending at all.
   *
   * @example
   * ```ts
   * const journal = await Journal.open("/data/alpha");
   * for (const warning of journal.warnings) console.warn(warning);
   * ```
   */
  static async open(dir: string, options: JournalOptions = {}): Promise<Journal> {
    const storage = options.fs ?? nodeStorageFs;
    const file = join(dir, JOURNAL_FILE);
    const cannotOpen = `Cannot open the journal in "${dir}"`;
    const hint = `check that "${dir}" is writable and has free space`;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw storageFailed(cannotOpen, dir, cause, hint);
    }
    let bytes: Uint8Array = new Uint8Array(0);
    try {
      bytes = storage.readFileSync(file);
    } catch (cause) {
      if (errorCodeOf(cause) !== "ENOENT") throw storageFailed(cannotOpen, dir, cause, hint);
    }
    const replayed = replayJournal(bytes, file);
    const { state } = replayed;
    for (const fence of readFences(dir)) applyFence(state, fence);
    const warnings = replayed.warnings.slice(0, MAX_WARNINGS);
    const records = snapshotRecords(state);
    try {
      const compacted = writeCompacted(storage, dir, file, records);
      return new Journal(dir, storage, compacted, state, compacted.size, records.length, warnings, options.onFsync);
    } catch (cause) {
      warnings.push(`Cannot compact the journal in "${dir}" (${describeIoError(cause)}); appending to it as it is`);
    }
    // Appending to the file as it is: what it holds replays to `state` (fences are re-applied at
    // every open), once a torn tail is cut off so that the next record starts on a line of its own.
    let fd: number | undefined;
    let durable = false;
    try {
      ({ fd, durable } = openForAppend(storage, file));
      if (replayed.validBytes < bytes.byteLength) {
        storage.ftruncateSync(fd, replayed.validBytes);
        storage.fsyncSync(fd);
      }
    } catch (cause) {
      if (fd !== undefined) closeQuietly(storage, fd);
      throw storageFailed(cannotOpen, dir, cause, hint);
    }
    return new Journal(dir, storage, { fd, durable }, state, replayed.validBytes, replayed.records, warnings, options.onFsync);
  }

  /** What open and compaction could not do, one line each; the journal works regardless. */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /**
   * False while the data directory refuses writes (the last flush failed, or the journal is
   * broken): the node should take on no new work (a hand-off to prepare, a process to create)
   * until {@link probe} or a successful append says it can write again. What it runs keeps running.
   */
  get healthy(): boolean {
    return !this.#broken && !this.#lastError;
  }

  /** Why the journal is not healthy; undefined once an append succeeds again. */
  get lastError(): FerryError | undefined {
    return this.#broken ?? this.#lastError;
  }

  /**
   * Resolves once `records` are on disk, and only then applies them to `state`; rejects with
   * `storage_failed` if they could not be written, leaving `state` and the file as they were.
   * The promise is marked handled, so an append nobody awaits cannot crash the daemon; its
   * failure still shows in `healthy` and `lastError`.
   *
   * @example
   * ```ts
   * await journal.append({ op: "removed", name: "counter" });
   * ```
   */
  append(...records: JournalRecord[]): Promise<void> {
    if (this.#closed) {
      return handled(Promise.reject(new FerryError("unavailable", `Cannot append to the journal in "${this.dir}": it is closed`, { hint: "the node is stopping" })));
    }
    let lines: string[];
    try {
      lines = records.map((r) => JSON.stringify(r) + "\n");
    } catch (cause) {
      return handled(Promise.reject(new FerryError("internal", `Cannot journal a record: ${(cause as Error).message}`, { cause })));
    }
    this.#pending.push(...lines);
    this.#records.push(...records);
    const done = handled(new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject })));
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        if (!this.#closed) this.#flush();
      });
    }
    return done;
  }

  /**
   * Resolves once every append made so far has settled (written or failed), at once when none
   * is pending; `state` then holds exactly what is durable, at no fsync of the caller's own.
   *
   * @example
   * ```ts
   * await journal.durable();
   * journal.state.released.get("counter");
   * ```
   */
  durable(): Promise<void> {
    if (!this.#waiters.length && !this.#flushing) return Promise.resolve();
    // Settled with the pending appends, or after the group commit being written (which starts
    // the next one, this waiter's, when it is done).
    return new Promise<void>((resolve) => this.#waiters.push({ resolve, reject: () => resolve() }));
  }

  /**
   * When unhealthy, checks whether the data directory takes writes again (a page written,
   * fsync'd and removed beside the journal) and if so becomes healthy. Returns `healthy`.
   *
   * @example
   * ```ts
   * if (!journal.healthy && !journal.probe()) throw journal.lastError;
   * ```
   */
  probe(): boolean {
    if (this.#closed || this.#broken) return false;
    if (!this.#lastError) return true;
    const file = join(this.dir, "journal.probe");
    let fd: number | undefined;
    try {
      fd = this.#fs.openSync(file, "w");
      writeAllSync(this.#fs, fd, new Uint8Array(PROBE_BYTES));
      this.#fs.fsyncSync(fd);
    } catch {
      return false;
    } finally {
      if (fd !== undefined) closeQuietly(this.#fs, fd);
      try {
        this.#fs.unlinkSync(file);
      } catch {
        // never created, or the next probe overwrites it
      }
    }
    this.#lastError = undefined;
    return true;
  }

  /**
   * One group commit: everything appended since the last one, in one write and one fsync. Both
   * run on the thread pool, so the event loop goes on (a hand-off's reply leaves while its
   * checkpoint is synced); appends made meanwhile form the next group, written after this one.
   */
  #flush(): void {
    this.#scheduled = false;
    if (this.#flushing) return; // the running commit starts the next one when it is done
    const group = this.#takeGroup();
    if (!group) return;
    const { data, lines, records, waiters } = group;
    this.#flushing = this.#commit(data, lines, records, waiters).finally(() => {
      this.#flushing = undefined;
      if (this.#waiters.length && !this.#closed) this.#flush();
    });
  }

  async #commit(data: Uint8Array, lineCount: number, records: JournalRecord[], waiters: Waiter[]): Promise<void> {
    let syncMs: number;
    try {
      // Timed as the fsync it stands for when the write itself is durable.
      const writeStart = performance.now();
      await writeAll(this.#fs, this.#fd, data);
      const syncStart = this.#durableWrites ? writeStart : performance.now();
      if (!this.#durableWrites) await this.#fs.fsync(this.#fd);
      syncMs = performance.now() - syncStart;
    } catch (cause) {
      const error = this.#failed(cause);
      for (const w of waiters) w.reject(error);
      return;
    }
    this.#onFsync?.(syncMs);
    this.#settle(data.byteLength, lineCount, records, waiters);
  }

  /** The close: what is pending is written at once, in this turn. */
  #flushSync(): void {
    const group = this.#takeGroup();
    if (!group) return;
    const { data, lines, records, waiters } = group;
    try {
      writeAllSync(this.#fs, this.#fd, data);
      this.#fs.fsyncSync(this.#fd);
    } catch (cause) {
      const error = this.#failed(cause);
      for (const w of waiters) w.reject(error);
      return;
    }
    this.#settle(data.byteLength, lines, records, waiters);
  }

  /**
   * Takes everything pending as the next group to write. Settles it at once, and answers
   * nothing, when there is nothing to write (waiters of `durable()` only) or the journal is broken.
   */
  #takeGroup(): { data: Uint8Array; lines: number; records: JournalRecord[]; waiters: Waiter[] } | undefined {
    const lines = this.#pending;
    const records = this.#records;
    const waiters = this.#waiters;
    this.#pending = [];
    this.#records = [];
    this.#waiters = [];
    if (this.#broken) {
      for (const w of waiters) w.reject(this.#broken);
      return undefined;
    }
    if (!lines.length) {
      for (const w of waiters) w.resolve();
      return undefined;
    }
    return { data: encoder.encode(lines.join("")), lines: lines.length, records, waiters };
  }

  #settle(bytes: number, lineCount: number, records: JournalRecord[], waiters: Waiter[]): void {
    this.#size += bytes;
    this.#lines += lineCount;
    this.#lastError = undefined;
    for (const r of records) applyRecord(this.state, r);
    for (const w of waiters) w.resolve();
    if (!this.#closed && this.#lines > this.#compactAt && this.#lines > 8 * (2 * this.state.owned.size + this.state.released.size)) this.#compact();
  }

  /** Cuts the file back to its durable length after a failed flush; returns the error to report. */
  #failed(cause: unknown): FerryError {
    const action = `Cannot write the journal in "${this.dir}"`;
    try {
      this.#fs.ftruncateSync(this.#fd, this.#size);
      this.#fs.fsyncSync(this.#fd);
    } catch (truncateCause) {
      // What part of the failed write reached the disk is unknown, so no later record may follow it.
      this.#broken = new FerryError("storage_failed", `${action}: ${describeIoError(cause)}, and cannot cut it back to its last durable record (${describeIoError(truncateCause)})`, {
        hint: `free space in "${this.dir}", then restart the node; it keeps running what it has`,
        cause,
      });
      return this.#broken;
    }
    this.#lastError = storageFailed(action, this.dir, cause);
    return this.#lastError;
  }

  #compact(): void {
    let compacted: OpenFile & { size: number };
    const records = snapshotRecords(this.state);
    try {
      compacted = writeCompacted(this.#fs, this.dir, this.file, records);
    } catch (cause) {
      this.#warn(`Cannot compact the journal in "${this.dir}" (${describeIoError(cause)}); appending to it as it is`);
      this.#compactAt = 2 * this.#lines;
      return;
    }
    closeQuietly(this.#fs, this.#fd);
    this.#fd = compacted.fd;
    this.#durableWrites = compacted.durable;
    this.#size = compacted.size;
    this.#lines = records.length;
    this.#compactAt = COMPACT_MIN_LINES;
  }

  #warn(line: string): void {
    if (this.#warnings.length < MAX_WARNINGS) this.#warnings.push(line);
  }

  /**
   * Writes what is pending (a failure rejects those appends) and closes the file; idempotent.
   * Resolves once the file is closed: at once, unless a group commit was being written.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#closing ?? Promise.resolve();
    this.#closed = true;
    const finish = () => {
      this.#flushSync();
      closeQuietly(this.#fs, this.#fd);
    };
    if (!this.#flushing) {
      finish();
      return Promise.resolve();
    }
    this.#closing = this.#flushing.then(finish);
    return this.#closing;
  }
  #closing: Promise<void> | undefined;
}

/**
 * Writes `records` to a new file and renames it over the journal. The descriptor it wrote with
 * becomes the journal's (it follows the rename), so no step after the rename can fail.
 */
function writeCompacted(storage: StorageFs, dir: string, file: string, records: JournalRecord[]): OpenFile & { size: number } {
  const tmp = `${file}.tmp`;
  unlinkQuietly(storage, tmp); // left over by a crash or a failed compaction; "a" must start empty
  const data = encoder.encode(records.map((r) => JSON.stringify(r) + "\n").join(""));
  const { fd, durable } = openForAppend(storage, tmp);
  try {
    writeAllSync(storage, fd, data);
    // Opened with O_DSYNC, each write was durable as it returned: an fsync would only repeat it.
    if (!durable) storage.fsyncSync(fd);
    storage.renameSync(tmp, file);
  } catch (error) {
    closeQuietly(storage, fd);
    unlinkQuietly(storage, tmp); // a partial copy would hold on to the very space that ran out
    throw error;
  }
  syncDir(dir);
  return { fd, durable, size: data.byteLength };
}

/** A descriptor the journal appends with, and whether its writes are durable as they return. */
interface OpenFile {
  fd: number;
  durable: boolean;
}

function openForAppend(storage: StorageFs, path: string): OpenFile {
  if (storage.openDurableSync) return { fd: storage.openDurableSync(path), durable: true };
  return { fd: storage.openSync(path, "a"), durable: false };
}

function closeQuietly(storage: StorageFs, fd: number): void {
  try {
    storage.closeSync(fd);
  } catch {
    // the descriptor is gone either way
  }
}

function unlinkQuietly(storage: StorageFs, path: string): void {
  try {
    storage.unlinkSync(path);
  } catch {
    // absent already
  }
}

function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
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
