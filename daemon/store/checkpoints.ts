/**
 * Checkpoints: the latest snapshot of each process this node holds. A small snapshot is a record
 * in the journal itself, so saving it costs one append that shares its fsync with whatever else
 * the node journals in the same turn (a hand-off's `prepared`, a thousand periodic checkpoints).
 * A large one goes to `checkpoints/<name>@<generation>.snap` (temp file, fsync, rename; `@`
 * cannot occur in a name) and the journal records only that it is there.
 * An unchanged snapshot (same generation, CRC and size) is not saved again.
 *
 * Each checkpoint records when its state was taken, so a restore can say how old it is. Reading
 * one back tells apart "none recorded" (undefined), "recorded but its file is gone"
 * (`checkpoint_missing`) and "present but damaged" (`snapshot_corrupt`, from the envelope's
 * magic, length and CRC): a process never silently restarts from zero because a file vanished.
 *
 * @example
 * ```ts
 * const store = new CheckpointStore(journal, "/data/alpha/checkpoints");
 * await store.save("counter", 0, bytes);
 * store.readEntry("counter", 0); // { bytes, at: 1767225600000 }
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "../errors.ts";
import { envelopeProblem, snapshotChecksum } from "../snapshot/codec.ts";
import { errorCodeOf, nodeStorageFs, storageFailed } from "./fs.ts";
import type { StorageFileHandle, StorageFs } from "./fs.ts";
import { syncDir } from "./journal.ts";
import type { Journal } from "./journal.ts";
import { STAGED_SUFFIX, type StagedSnapshot } from "./staged.ts";

/** Snapshots up to this size live in the journal. */
export const INLINE_MAX_BYTES = 16 * 1024;

export interface CheckpointStoreOptions {
  /**
   * The file calls used for checkpoint files.
   * @default nodeStorageFs
   */
  fs?: StorageFs;
}

export interface SaveOptions {
  /** Save even when identical to the last save (e.g. its file may be gone). */
  force?: boolean;
  /**
   * When the state was taken, ms since epoch (a hand-off's snapshot was taken on the source).
   * @default Date.now()
   */
  at?: number;
}

/** A checkpoint read back and verified. */
export interface Checkpoint {
  bytes: Uint8Array;
  /** When its state was taken, ms since epoch; absent for checkpoints recorded before it was kept. */
  at?: number;
  /** The snapshot file, for a checkpoint too large to live in the journal. */
  file?: string;
}

/**
 * The file a large checkpoint lives in, within a node's `checkpoints/` folder (`@` cannot occur
 * in a process name).
 *
 * @example
 * ```ts
 * checkpointFileName("counter", 3); // "counter@3.snap"
 * ```
 */
export function checkpointFileName(name: string, generation: number): string {
  return `${name}@${generation}.snap`;
}

/** How many bytes a streamed checkpoint writes between two background flushes. */
export const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/** A checkpoint being written as it streams in (see {@link CheckpointStore.openStream}). */
export interface CheckpointStream {
  /** Appends `chunk` (or several, in one call); rejects with `storage_failed` (the partial file is then removed). */
  write(chunk: Uint8Array | Uint8Array[]): Promise<void>;
  /** Makes it durable and current: fsync, rename, directory fsync, journal record. */
  commit(): Promise<boolean>;
  /** Gives up: resolves once the partial file is removed. Idempotent; nothing after a commit. */
  abort(): Promise<void>;
}

/** Writes `parts` in order, in one call where the handle can, looping over short writes; returns the bytes written. */
async function writeAll(handle: StorageFileHandle, parts: Uint8Array[]): Promise<number> {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  let done = 0;
  if (handle.writev && parts.length > 1) done = (await handle.writev(parts)).bytesWritten;
  let skip = done;
  for (const part of parts) {
    if (skip >= part.byteLength) {
      skip -= part.byteLength;
      continue;
    }
    let offset = skip;
    skip = 0;
    while (offset < part.byteLength) {
      const { bytesWritten } = await handle.write(part, offset, part.byteLength - offset);
      if (bytesWritten <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      offset += bytesWritten;
      done += bytesWritten;
    }
  }
  return total;
}

function concatTail(tail: Uint8Array, chunk: Uint8Array): Uint8Array {
  const both = new Uint8Array(tail.byteLength + chunk.byteLength);
  both.set(tail);
  both.set(chunk, tail.byteLength);
  return both.subarray(Math.max(0, both.byteLength - 4));
}

export class CheckpointStore {
  readonly #journal: Journal;
  readonly #dir: string;
  readonly #fs: StorageFs;
  readonly #saved = new Map<string, string>();
  /** Names that may have snapshot files, so inline saves need not list the directory. */
  readonly #withFiles = new Set<string>();

  /** Throws `storage_failed` when `dir` cannot be created or listed. */
  constructor(journal: Journal, dir: string, options: CheckpointStoreOptions = {}) {
    this.#journal = journal;
    this.#dir = dir;
    this.#fs = options.fs ?? nodeStorageFs;
    try {
      mkdirSync(dir, { recursive: true });
      for (const file of readdirSync(dir)) {
        // A write cut short by a crash (a snapshot streaming in when the node was killed), or a
        // pre-copy the node did not finish before it stopped: never current, never adopted.
        if (file.endsWith(".snap.tmp") || file.endsWith(STAGED_SUFFIX)) {
          rmSync(join(dir, file), { force: true });
          continue;
        }
        const at = file.lastIndexOf("@");
        if (at > 0) this.#withFiles.add(file.slice(0, at));
      }
    } catch (cause) {
      throw storageFailed(`Cannot open the checkpoint directory "${dir}"`, dir, cause, `check that "${dir}" is writable`);
    }
  }

  #file(name: string, generation: number): string {
    return join(this.#dir, checkpointFileName(name, generation));
  }

  /**
   * Saves durably unless identical to the last save; resolves with whether it saved, rejects
   * with `storage_failed` naming the file or directory that refused it. Call it in the same turn
   * as a related `journal.append` to share one fsync. The promise is marked handled, so a save
   * nobody awaits cannot crash the daemon.
   *
   * @example
   * ```ts
   * await store.save("counter", 3, encodeState({ className: "Counter", fields: { count: 1 } }));
   * ```
   */
  save(name: string, generation: number, bytes: Uint8Array, options: SaveOptions = {}): Promise<boolean> {
    const key = `${generation}:${snapshotChecksum(bytes)}:${bytes.byteLength}`;
    if (!options.force && this.#saved.get(name) === key) return Promise.resolve(false);
    const at = options.at ?? Date.now();
    const saved = () => {
      this.#saved.set(name, key);
      if (this.#withFiles.has(name)) this.#removeFiles(name, bytes.byteLength <= INLINE_MAX_BYTES ? -1 : generation);
      return true;
    };
    let done: Promise<boolean>;
    if (bytes.byteLength <= INLINE_MAX_BYTES) {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
      done = this.#journal.append({ op: "checkpoint", name, generation, data, at }).then(saved);
    } else {
      // Off the event loop: writing a large state must not stall the API or a transfer in flight.
      // The caller must not transfer `bytes` to another thread until this resolves.
      done = this.#writeFile(name, generation, bytes).then(() => this.#journal.append({ op: "checkpoint", name, generation, at })).then(saved);
    }
    done.catch(() => {});
    return done;
  }

  /**
   * Saves a large snapshot that arrives in chunks (streamed from an executor or a peer), written
   * as it comes: write each chunk, then `commit()` (fsync, rename, journal record) or `abort()`.
   * Dirty pages are flushed in the background every {@link FLUSH_EVERY_BYTES} bytes, so the
   * commit's fsync finds little left to write. A chunk's buffer may be reused or transferred once
   * its `write` resolved.
   *
   * @example
   * ```ts
   * const file = store.openStream("big", 4);
   * for await (const chunk of chunks) await file.write(chunk);
   * await file.commit();
   * ```
   */
  openStream(name: string, generation: number, options: Pick<SaveOptions, "at"> = {}): CheckpointStream {
    const file = this.#file(name, generation);
    const tmp = `${file}.tmp`;
    const at = options.at ?? Date.now();
    let opened: Promise<StorageFileHandle> | undefined;
    let written = 0;
    let unflushed = 0;
    let flushing: Promise<void> = Promise.resolve();
    let tail: Uint8Array = new Uint8Array(0); // the last bytes seen (copied: the chunk may be transferred): the trailer holds the checksum
    let state: "open" | "done" | "aborted" = "open";
    const fail = (cause: unknown) => storageFailed(`Cannot write the checkpoint "${file}"`, this.#dir, cause);
    const discard = async () => {
      const handle = await opened?.catch(() => undefined);
      await handle?.close().catch(() => {});
      try {
        this.#fs.unlinkSync(tmp);
      } catch {
        // never created
      }
    };
    return {
      write: async (chunk) => {
        if (state !== "open") throw new FerryError("internal", `Checkpoint "${file}" is no longer being written`);
        try {
          opened ??= this.#fs.open(tmp, "w");
          const handle = await opened;
          const parts = Array.isArray(chunk) ? chunk : [chunk];
          const size = await writeAll(handle, parts);
          written += size;
          unflushed += size;
          for (const part of parts) tail = part.byteLength >= 4 ? part.slice(part.byteLength - 4) : concatTail(tail, part);
          if (unflushed >= FLUSH_EVERY_BYTES && handle.datasync) {
            unflushed = 0;
            await flushing;
            flushing = handle.datasync();
            flushing.catch(() => {}); // surfaces at the commit's own sync
          }
        } catch (cause) {
          state = "aborted";
          await discard();
          throw fail(cause);
        }
      },
      commit: async () => {
        if (state !== "open") throw new FerryError("internal", `Checkpoint "${file}" is no longer being written`);
        state = "done";
        try {
          const handle = await (opened ??= this.#fs.open(tmp, "w"));
          await flushing.catch(() => {});
          try {
            await handle.sync();
          } finally {
            await handle.close();
          }
          await this.#fs.rename(tmp, file);
        } catch (cause) {
          await discard();
          throw fail(cause);
        }
        syncDir(this.#dir);
        this.#withFiles.add(name);
        await this.#journal.append({ op: "checkpoint", name, generation, at });
        const checksum = tail.byteLength === 4 ? new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true) : 0;
        this.#saved.set(name, `${generation}:${checksum}:${written}`);
        this.#removeFiles(name, generation);
        return true;
      },
      abort: async () => {
        if (state !== "open") return;
        state = "aborted";
        await discard();
      },
    };
  }

  async #writeFile(name: string, generation: number, bytes: Uint8Array): Promise<void> {
    const file = this.#file(name, generation);
    const tmp = `${file}.tmp`;
    try {
      const handle = await this.#fs.open(tmp, "w");
      try {
        let offset = 0;
        while (offset < bytes.byteLength) {
          const { bytesWritten } = await handle.write(bytes, offset, Math.min(bytes.byteLength - offset, 1 << 24));
          offset += bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.#fs.rename(tmp, file);
    } catch (cause) {
      try {
        this.#fs.unlinkSync(tmp); // a partial copy would hold on to the very space that ran out
      } catch {
        // never created
      }
      throw storageFailed(`Cannot write the checkpoint "${file}"`, this.#dir, cause);
    }
    syncDir(this.#dir);
    this.#withFiles.add(name);
  }

  /**
   * Where a pre-copied snapshot of `name` at `generation` is staged before the hand-off adopts it.
   *
   * @example
   * ```ts
   * const staged = await StagedSnapshot.write(store.stagingPath("sim", 4), bytes);
   * ```
   */
  stagingPath(name: string, generation: number): string {
    return `${this.#file(name, generation)}${STAGED_SUFFIX}`;
  }

  /**
   * Makes a staged snapshot (already written and fsync'd) the checkpoint of `name` at
   * `generation`: rename, directory fsync, then the journal's record. Rejects with `storage_failed`.
   *
   * @example
   * ```ts
   * await store.adopt("sim", 4, staged, bytes);
   * ```
   */
  async adopt(name: string, generation: number, staged: StagedSnapshot, bytes: Uint8Array, options: Pick<SaveOptions, "at"> = {}): Promise<void> {
    const file = this.#file(name, generation);
    try {
      await this.#fs.rename(staged.path, file);
    } catch (cause) {
      throw storageFailed(`Cannot write the checkpoint "${file}"`, this.#dir, cause);
    }
    staged.adopted();
    syncDir(this.#dir);
    this.#withFiles.add(name);
    await this.#journal.append({ op: "checkpoint", name, generation, at: options.at ?? Date.now() });
    const crc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
    this.#saved.set(name, `${generation}:${crc}:${bytes.byteLength}`);
    this.#removeFiles(name, generation);
  }

  /**
   * The checkpoint of `name` at `generation` with when it was taken, verified; undefined if none
   * is recorded. Throws `checkpoint_missing` when one is recorded but its file is gone,
   * `snapshot_corrupt` when it fails the envelope check, `storage_failed` when it cannot be read.
   *
   * @example
   * ```ts
   * const checkpoint = store.readEntry("counter", 3);
   * if (checkpoint?.at) console.log(`state from ${new Date(checkpoint.at).toISOString()}`);
   * ```
   */
  readEntry(name: string, generation: number): Checkpoint | undefined {
    const entry = this.#journal.state.checkpoints.get(name);
    if (!entry || entry.generation !== generation) return undefined;
    const at = entry.at !== undefined ? { at: entry.at } : {};
    if (entry.data) {
      const bytes = new Uint8Array(Buffer.from(entry.data, "base64"));
      this.#verify(name, this.#journal.file, bytes);
      return { bytes, ...at };
    }
    const file = this.#file(name, generation);
    let bytes: Uint8Array;
    try {
      bytes = this.#fs.readFileSync(file);
    } catch (cause) {
      if (errorCodeOf(cause) === "ENOENT") {
        throw new FerryError("checkpoint_missing", `Checkpoint "${file}" of "${name}" is missing`, {
          hint: "restore the file; only removing and creating the process again starts it afresh from its args",
          cause,
        });
      }
      throw storageFailed(`Cannot read the checkpoint "${file}" of "${name}"`, this.#dir, cause, `check the disk holding "${this.#dir}"`);
    }
    this.#verify(name, file, bytes);
    // A copy of its own, as before: callers may transfer it to a worker thread.
    return { bytes: new Uint8Array(bytes), ...at, file };
  }

  /**
   * The bytes of {@link readEntry}: undefined if no checkpoint is recorded; throws the same errors.
   *
   * @example
   * ```ts
   * const bytes = store.read("counter", 3);
   * ```
   */
  read(name: string, generation: number): Uint8Array | undefined {
    return this.readEntry(name, generation)?.bytes;
  }

  #verify(name: string, where: string, bytes: Uint8Array): void {
    const problem = envelopeProblem(bytes);
    if (problem) {
      throw new FerryError("snapshot_corrupt", `Checkpoint "${where}" of "${name}" is corrupt: ${problem}`, {
        hint: "the disk damaged it; only removing and creating the process again starts it afresh from its args",
      });
    }
  }

  /** Forgets the files of `name` (the journal's `removed`/`released` record drops the entry). */
  remove(name: string): void {
    this.#saved.delete(name);
    this.#removeFiles(name, -1);
  }

  #removeFiles(name: string, keep: number): void {
    if (keep < 0) this.#withFiles.delete(name);
    const prefix = `${name}@`;
    try {
      for (const file of readdirSync(this.#dir)) {
        if (!file.startsWith(prefix) || !file.endsWith(".snap")) continue;
        const generation = Number(file.slice(prefix.length, -".snap".length));
        if (Number.isInteger(generation) && generation !== keep) rmSync(join(this.#dir, file), { force: true });
      }
    } catch {
      // Stale files only cost space; the journal says which one is current, and the next save retries.
      if (keep < 0) this.#withFiles.add(name);
    }
  }
}
