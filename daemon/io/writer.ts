/**
 * The writing half of the transactional file streams. A process keeps a writer as a field; it
 * migrates as its path and byte offset, and output is neither lost nor duplicated:
 *
 * - capturing the writer (the codec encoding it at a checkpoint or a hand-off) fsyncs the file
 *   first, so every byte below the captured offset is durable;
 * - a writer owns its file from its offset on: its first write truncates the file there. After a
 *   restore that discards whatever a copy wrote past the checkpoint before it crashed or was
 *   rolled back, so the resumed copy writes those bytes again exactly once; a new writer (offset 0)
 *   starts the file afresh, so a process restarted without a checkpoint does not append twice;
 * - writes are positional (`pwrite` at the offset), never appends, so even two copies of a stream
 *   could not interleave their output; and synchronous, so nothing is in flight at a capture.
 * @module
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { FerryError, isFerryError } from "../errors.ts";
import { registerPortable } from "../snapshot/codec.ts";
import { checkState, expectFile, ioError, resolvePath } from "./reader.ts";
import type { StreamState } from "./reader.ts";

/** CBOR tag of a writer in snapshots (Ferry's range is 40000–40099). */
export const WRITER_TAG = 40011;

const encoder = new TextEncoder();
// ENOENT with O_CREAT means the folder is missing, not the file.
const writeReasons = { ENOENT: "no such directory" };

/**
 * A file written forward from a byte offset that survives migration and restore.
 *
 * @example
 * ```ts
 * export default class Squares {
 *   out = new TransactionalFileWriter("data/squares.txt");
 *   n = 0;
 *   async run(ctx) {
 *     while (!ctx.signal.aborted && this.n < 100) {
 *       this.n++;
 *       this.out.writeLine(String(this.n * this.n));
 *       await ctx.sleep(10);
 *     }
 *   }
 * }
 * ```
 */
export class TransactionalFileWriter {
  /** The path as given (relative ones resolve when the file is opened). */
  readonly path: string;
  #offset: number;
  #fd: number | undefined;
  /** Bytes past the offset are not ours: cut them before the next write. */
  #truncate = true;

  static {
    registerPortable<TransactionalFileWriter, StreamState>(
      TransactionalFileWriter,
      WRITER_TAG,
      (writer) => writer.#capture(),
      (data) => {
        const [path, offset] = checkState(data, "writer");
        expectFile("writing", path, offset, offset);
        return new TransactionalFileWriter(path, offset);
      },
    );
  }

  /**
   * @param path the file; relative to the directory holding cluster.yaml. Created if missing; its
   *   folder must exist.
   * @param offset keep this many bytes of the existing file and write after them (0: start afresh)
   */
  constructor(path: string, offset = 0) {
    if (typeof path !== "string" || path === "") throw new TypeError("TransactionalFileWriter needs a file path");
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`Offset ${offset} is not a byte position`);
    this.path = path;
    this.#offset = offset;
  }

  /** The byte position of the next write (the file's length as far as this writer is concerned). */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Writes `data` (a string as UTF-8) at the offset and moves the offset past it.
   *
   * @example
   * ```ts
   * writer.write("héllo"); // writer.offset grew by 6
   * writer.write(new Uint8Array([0x0a]));
   * ```
   */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const fd = this.#open();
    let done = 0;
    try {
      while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, this.#offset + done);
    } catch (error) {
      // Part of it may be on disk past the offset, which does not move: cut it before trying again.
      this.#truncate = true;
      throw ioError(`Cannot write "${this.path}"`, this.path, error);
    }
    this.#offset += bytes.byteLength;
  }

  /**
   * Writes `text` and a "\n".
   *
   * @example
   * ```ts
   * writer.writeLine("abcdefghijklmnopqrstuvwxyz");
   * ```
   */
  writeLine(text: string): void {
    this.write(`${text}\n`);
  }

  /**
   * Makes everything written so far durable (fsync), creating the file if nothing was written.
   *
   * @example
   * ```ts
   * writer.writeLine("done");
   * writer.flush();
   * ```
   */
  flush(): void {
    const fd = this.#open();
    try {
      fsyncSync(fd);
    } catch (error) {
      throw ioError(`Cannot flush "${this.path}"`, this.path, error);
    }
  }

  /** Flushes and closes the file now (it reopens on the next write); otherwise it closes once unreachable. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    closer.unregister(this);
    try {
      fsyncSync(fd);
    } catch (error) {
      throw ioError(`Cannot flush "${this.path}"`, this.path, error);
    } finally {
      closeSync(fd);
    }
  }

  /** The snapshot form; runs inside the codec, so the captured offset is durable before it is recorded. */
  #capture(): StreamState {
    if (this.#fd !== undefined) {
      try {
        fsyncSync(this.#fd);
      } catch (error) {
        throw ioError(`Cannot flush "${this.path}"`, this.path, error);
      }
    }
    return { path: this.path, offset: this.#offset };
  }

  #open(): number {
    if (this.#fd === undefined) {
      let fd: number;
      try {
        // Not O_APPEND: on Linux it makes pwrite ignore the position.
        fd = openSync(resolvePath(this.path), constants.O_WRONLY | constants.O_CREAT, 0o666);
      } catch (error) {
        throw ioError(`Cannot open "${this.path}" for writing`, this.path, error, writeReasons);
      }
      this.#fd = fd;
      closer.register(this, fd, this);
    }
    if (this.#truncate) {
      const fd = this.#fd;
      try {
        const size = fstatSync(fd).size;
        if (size < this.#offset) {
          throw new FerryError(
            "process_failed",
            `Cannot continue writing "${this.path}" at byte ${this.#offset}: the file has only ${size} bytes, so it was changed outside this process`,
          );
        }
        if (size > this.#offset) ftruncateSync(fd, this.#offset);
      } catch (error) {
        if (isFerryError(error)) throw error;
        throw ioError(`Cannot truncate "${this.path}" to byte ${this.#offset}`, this.path, error);
      }
      this.#truncate = false;
    }
    return this.#fd;
  }
}

// A process dropped after a migration never closes its streams; its descriptors go with it.
const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});
