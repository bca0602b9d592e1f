/**
 * Checkpoints: the latest snapshot of each process this node holds. A small snapshot is a record
 * in the journal itself, so saving it costs one append that shares its fsync with whatever else
 * the node journals in the same turn (a hand-off's `prepared`, a thousand periodic checkpoints).
 * A large one goes to `checkpoints/<name>@<generation>.snap` (temp file, fsync, rename; `@`
 * cannot occur in a name) and the journal records only that it is there.
 * An unchanged snapshot (same generation, CRC and size) is not saved again.
 *
 * @example
 * ```ts
 * const store = new CheckpointStore(journal, "/data/alpha/checkpoints");
 * await store.save("counter", 0, bytes);
 * store.read("counter", 0); // bytes
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "./journal.ts";
import type { Journal } from "./journal.ts";

/** Snapshots up to this size live in the journal. */
export const INLINE_MAX_BYTES = 16 * 1024;

export class CheckpointStore {
  readonly #journal: Journal;
  readonly #dir: string;
  readonly #saved = new Map<string, string>();
  /** Names that may have snapshot files, so inline saves need not list the directory. */
  readonly #withFiles = new Set<string>();

  constructor(journal: Journal, dir: string) {
    this.#journal = journal;
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(dir)) {
      const at = file.lastIndexOf("@");
      if (at > 0) this.#withFiles.add(file.slice(0, at));
    }
  }

  #file(name: string, generation: number): string {
    return join(this.#dir, `${name}@${generation}.snap`);
  }

  /**
   * Saves durably unless identical to the last save; resolves with whether it saved. Call it in
   * the same turn as a related `journal.append` to share one fsync.
   */
  save(name: string, generation: number, bytes: Uint8Array, options: { force?: boolean } = {}): Promise<boolean> {
    // The envelope header carries the payload's CRC-32 at byte 8.
    const crc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
    const key = `${generation}:${crc}:${bytes.byteLength}`;
    if (!options.force && this.#saved.get(name) === key) return Promise.resolve(false);
    const saved = () => {
      this.#saved.set(name, key);
      if (this.#withFiles.has(name)) this.#removeFiles(name, bytes.byteLength <= INLINE_MAX_BYTES ? -1 : generation);
      return true;
    };
    if (bytes.byteLength <= INLINE_MAX_BYTES) {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
      return this.#journal.append({ op: "checkpoint", name, generation, data }).then(saved);
    }
    // Off the event loop: writing a large state must not stall the API or a transfer in flight.
    // The caller must not transfer `bytes` to another thread until this resolves.
    return this.#writeFile(name, generation, bytes).then(() => this.#journal.append({ op: "checkpoint", name, generation })).then(saved);
  }

  async #writeFile(name: string, generation: number, bytes: Uint8Array): Promise<void> {
    const file = this.#file(name, generation);
    const tmp = `${file}.tmp`;
    const handle = await open(tmp, "w");
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
    await rename(tmp, file);
    syncDir(this.#dir);
    this.#withFiles.add(name);
  }

  /** The checkpoint of `name` at `generation`, or undefined if there is none. */
  read(name: string, generation: number): Uint8Array | undefined {
    const entry = this.#journal.state.checkpoints.get(name);
    if (!entry || entry.generation !== generation) return undefined;
    if (entry.data) return new Uint8Array(Buffer.from(entry.data, "base64"));
    try {
      return new Uint8Array(readFileSync(this.#file(name, generation)));
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
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
    for (const file of readdirSync(this.#dir)) {
      if (!file.startsWith(prefix) || !file.endsWith(".snap")) continue;
      const generation = Number(file.slice(prefix.length, -".snap".length));
      if (Number.isInteger(generation) && generation !== keep) rmSync(join(this.#dir, file), { force: true });
    }
  }
}
