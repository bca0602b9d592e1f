/**
 * Checkpoint files: the latest snapshot of each process this node holds, one file per process and
 * generation (`<name>@<generation>.snap`; `@` cannot occur in a name), written to a temp file, fsync'd and renamed into place
 * so a crash leaves either the old or the new checkpoint, never a torn one. Unchanged snapshots
 * (same CRC in the envelope header) are not rewritten.
 *
 * @example
 * ```ts
 * const store = new CheckpointStore("/data/alpha/checkpoints");
 * store.write("counter", 0, bytes);
 * store.read("counter", 0); // bytes
 * ```
 * @module
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { syncDir } from "./journal.ts";

export class CheckpointStore {
  readonly #dir: string;
  readonly #written = new Map<string, string>();

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  #file(name: string, generation: number): string {
    return join(this.#dir, `${name}@${generation}.snap`);
  }

  /** Writes durably unless identical to the last write; returns whether it wrote. */
  write(name: string, generation: number, bytes: Uint8Array, options: { force?: boolean } = {}): boolean {
    // The envelope header carries the payload's CRC-32 at byte 8.
    const crc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
    const key = `${generation}:${crc}:${bytes.byteLength}`;
    if (!options.force && this.#written.get(name) === key) return false;
    const file = this.#file(name, generation);
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, "w");
    try {
      let offset = 0;
      while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, Math.min(bytes.byteLength - offset, 1 << 26));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    syncDir(this.#dir);
    this.#written.set(name, key);
    this.#removeOthers(name, generation);
    return true;
  }

  /** The checkpoint of `name` at `generation`, or undefined if none was written. */
  read(name: string, generation: number): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(this.#file(name, generation)));
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Drops every checkpoint of `name` (removed, or handed off and committed). */
  remove(name: string): void {
    this.#written.delete(name);
    this.#removeOthers(name, -1);
  }

  #removeOthers(name: string, keep: number): void {
    const prefix = `${name}@`;
    for (const file of readdirSync(this.#dir)) {
      if (!file.startsWith(prefix) || !file.endsWith(".snap")) continue;
      const generation = Number(file.slice(prefix.length, -".snap".length));
      if (Number.isInteger(generation) && generation !== keep) rmSync(join(this.#dir, file), { force: true });
    }
  }
}
