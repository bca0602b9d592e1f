/**
 * A snapshot file written ahead of its hand-off: a pre-copied state is written (and fsync'd) while
 * the process still runs on its holder, under a name no restore ever reads
 * (`<name>@<generation>.snap.precopy`); at the switchover only the ranges the last delta changed
 * are written again, and the checkpoint store adopts the file (rename, then the journal's record)
 * before `prepared`. Until adopted it is nothing: a restart deletes it.
 *
 * @example
 * ```ts
 * const staged = await StagedSnapshot.write(path, bytes);
 * await staged.patch(bytes, [[0, 24], [4096, 8192]]);
 * await checkpoints.adopt("sim", 4, staged);
 * ```
 * @module
 */
import { open, unlink } from "node:fs/promises";
import { storageFailed } from "./fs.ts";

/** The suffix of a staged snapshot file. */
export const STAGED_SUFFIX = ".precopy";

/**
 * One staged snapshot file.
 *
 * @example
 * ```ts
 * const staged = await StagedSnapshot.write(store.stagingPath("sim", 4), bytes);
 * await staged.discard(); // the hand-off went another way
 * ```
 */
export class StagedSnapshot {
  readonly path: string;
  /** Bytes of the whole snapshot in the file. */
  readonly size: number;
  #gone = false;

  private constructor(path: string, size: number) {
    this.path = path;
    this.size = size;
  }

  /** Writes `bytes` to `path` and fsyncs it; throws `storage_failed`, leaving no file. */
  static async write(path: string, bytes: Uint8Array): Promise<StagedSnapshot> {
    try {
      const handle = await open(path, "w");
      try {
        let offset = 0;
        while (offset < bytes.byteLength) {
          const { bytesWritten } = await handle.write(bytes, offset, Math.min(bytes.byteLength - offset, 1 << 24), offset);
          offset += bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      await unlink(path).catch(() => {});
      throw storageFailed(`Cannot write the pre-copied snapshot "${path}"`, path, cause);
    }
    return new StagedSnapshot(path, bytes.byteLength);
  }

  /**
   * Writes the `ranges` ([start, end) byte offsets) of `bytes` — the same snapshot, changed there —
   * and fsyncs: only those pages reach the disk.
   */
  async patch(bytes: Uint8Array, ranges: ReadonlyArray<readonly [number, number]>): Promise<void> {
    if (bytes.byteLength !== this.size) throw storageFailed(`Pre-copied snapshot "${this.path}" cannot change size`, this.path, new Error("size changed"));
    try {
      const handle = await open(this.path, "r+");
      try {
        for (const [start, end] of ranges) {
          let at = start;
          while (at < end) {
            const { bytesWritten } = await handle.write(bytes, at, end - at, at);
            at += bytesWritten;
          }
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw storageFailed(`Cannot update the pre-copied snapshot "${this.path}"`, this.path, cause);
    }
  }

  /** The file was renamed into its place: nothing to delete any more. */
  adopted(): void {
    this.#gone = true;
  }

  /** Deletes the file (a hand-off that will not use it). */
  async discard(): Promise<void> {
    if (this.#gone) return;
    this.#gone = true;
    await unlink(this.path).catch(() => {});
  }
}
