/**
 * The reading half of the transactional file streams: a process keeps a reader as a field, and it
 * migrates as its path and byte offset, so the copy that resumes elsewhere reads on from exactly
 * the next byte. The file is opened lazily (first read) and again after a restore; reads are
 * positional and synchronous, so nothing is in flight when the fields are captured between two
 * turns of the process's event loop.
 *
 * Relative paths resolve against the directory holding cluster.yaml (`FERRY_CONFIG_DIR`, set by
 * the daemon), else the working directory — at open time, so a migrated reader resolves them on
 * the node where it now runs.
 * @module
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import process from "node:process";
import { FerryError } from "../errors.ts";
import { registerPortable } from "../snapshot/codec.ts";

/** CBOR tag of a reader in snapshots (Ferry's range is 40000–40099). */
export const READER_TAG = 40010;

/** What a stream is in a snapshot: plain data, so a snapshot from a peer stays data only. */
export interface StreamState {
  path: string;
  offset: number;
  /** The file's size when the state was captured (readers): the file it restores against must be as long. */
  size?: number;
}

// Small, as a node may host thousands of processes, each with its own window.
const CHUNK = 16 * 1024;

/**
 * A file that reads forward from a byte offset that survives migration and restore.
 *
 * The input is expected to change only by being appended to: buffered bytes are not re-read.
 *
 * @example
 * ```ts
 * export default class Upper {
 *   input = new TransactionalFileReader("data/in.txt");
 *   async run(ctx) {
 *     while (!ctx.signal.aborted) {
 *       const line = this.input.readLine();
 *       if (line === null) return;
 *       console.log(line.toUpperCase());
 *       await ctx.sleep(10);
 *     }
 *   }
 * }
 * ```
 */
export class TransactionalFileReader {
  /** The path as given (relative ones resolve when the file is opened). */
  readonly path: string;
  #offset: number;
  #fd: number | undefined;
  // A read-ahead window, never captured: the offset alone says where reading continues.
  #buf: Uint8Array | undefined;
  #bufStart = 0;
  #bufLength = 0;

  static {
    registerPortable<TransactionalFileReader, StreamState>(
      TransactionalFileReader,
      READER_TAG,
      (reader) => ({ path: reader.path, offset: reader.#offset, size: sizeOf(reader.path) }),
      (data) => {
        const [path, offset] = checkState(data, "reader");
        // On another machine the input may be missing or another copy: refuse to resume wrongly.
        expectFile("reading", path, Math.max(offset, (data as StreamState).size ?? 0), offset);
        return new TransactionalFileReader(path, offset);
      },
    );
  }

  /**
   * @param path the file; relative to the directory holding cluster.yaml
   * @param offset the byte to start reading at
   */
  constructor(path: string, offset = 0) {
    if (typeof path !== "string" || path === "") throw new TypeError("TransactionalFileReader needs a file path");
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`Offset ${offset} is not a byte position`);
    this.path = path;
    this.#offset = offset;
  }

  /** The byte position of the next read. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * The next byte, or null at the end of the file.
   *
   * @example
   * ```ts
   * const magic = [reader.readByte(), reader.readByte()]; // [0x1f, 0x8b] for gzip
   * ```
   */
  readByte(): number | null {
    if (!this.#fill()) return null;
    const byte = this.#buf![this.#offset - this.#bufStart]!;
    this.#offset++;
    return byte;
  }

  /**
   * The next UTF-8 character (one code point: astral ones are two UTF-16 units), or null at the
   * end of the file. The offset moves by the character's byte length; a malformed or truncated
   * sequence reads as one "\uFFFD" and consumes only its bad bytes.
   *
   * @example
   * ```ts
   * reader.readChar(); // "é", and reader.offset moved by 2
   * ```
   */
  readChar(): string | null {
    const lead = this.#byteAt(this.#offset);
    if (lead === null) return null;
    const length = lead < 0x80 ? 1 : (lead & 0xe0) === 0xc0 ? 2 : (lead & 0xf0) === 0xe0 ? 3 : (lead & 0xf8) === 0xf0 ? 4 : 0;
    if (length === 0) {
      this.#offset++;
      return "\uFFFD";
    }
    const bytes = new Uint8Array(length);
    bytes[0] = lead;
    for (let i = 1; i < length; i++) {
      const next = this.#byteAt(this.#offset + i);
      if (next === null || (next & 0xc0) !== 0x80) {
        this.#offset += i;
        return "\uFFFD";
      }
      bytes[i] = next;
    }
    this.#offset += length;
    try {
      return strict.decode(bytes);
    } catch {
      return "\uFFFD"; // overlong form or surrogate: well-framed but not a character
    }
  }

  /**
   * The next line without its "\n" (nor a "\r" before it), or null at the end of the file. A last
   * line without a newline is returned as it is.
   *
   * @example
   * ```ts
   * for (let line = reader.readLine(); line !== null; line = reader.readLine()) console.log(line);
   * ```
   */
  readLine(): string | null {
    const parts: Uint8Array[] = [];
    let found = false;
    while (this.#fill()) {
      const view = this.#buf!.subarray(this.#offset - this.#bufStart, this.#bufLength);
      const newline = view.indexOf(0x0a);
      const part = view.slice(0, newline < 0 ? view.length : newline);
      parts.push(part);
      this.#offset += newline < 0 ? view.length : newline + 1;
      if (newline >= 0) {
        found = true;
        break;
      }
    }
    if (!found && parts.length === 0) return null;
    const line = lenient.decode(concat(parts));
    return line.endsWith("\r") ? line.slice(0, -1) : line;
  }

  /** Closes the file now (it reopens on the next read); otherwise it closes once unreachable. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    this.#buf = undefined;
    this.#bufLength = 0;
    closer.unregister(this);
    closeSync(fd);
  }

  /** Makes the byte at the offset available; false at the end of the file. */
  #fill(): boolean {
    return this.#byteAt(this.#offset) !== null;
  }

  #byteAt(position: number): number | null {
    if (position < this.#bufStart || position >= this.#bufStart + this.#bufLength) {
      // Refill from the offset, so the bytes of a character being read stay in one window; a
      // short read means the end of the file for now (it may grow, so look again next time).
      const fd = this.#open();
      this.#buf ??= new Uint8Array(CHUNK);
      let read: number;
      try {
        read = readSync(fd, this.#buf, 0, CHUNK, this.#offset);
      } catch (error) {
        throw ioError(`Cannot read "${this.path}"`, this.path, error);
      }
      this.#bufStart = this.#offset;
      this.#bufLength = read;
      if (position >= this.#bufStart + this.#bufLength) return null;
    }
    return this.#buf![position - this.#bufStart]!;
  }

  #open(): number {
    if (this.#fd === undefined) {
      let fd: number;
      try {
        fd = openSync(resolvePath(this.path), "r");
      } catch (error) {
        throw ioError(`Cannot open "${this.path}" for reading`, this.path, error);
      }
      this.#fd = fd;
      closer.register(this, fd, this);
    }
    return this.#fd;
  }
}

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

// A process dropped after a migration never closes its streams; its descriptors go with it.
const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ------------------------------------------------------------------ shared with writer.ts

/**
 * Absolute form of a stream's path: relative ones against the directory holding cluster.yaml.
 * @internal
 */
export function resolvePath(path: string): string {
  return isAbsolute(path) ? path : resolve(process.env.FERRY_CONFIG_DIR || process.cwd(), path);
}

/** The size of a file now, or undefined when it cannot be read. */
function sizeOf(path: string): number | undefined {
  try {
    return statSync(resolvePath(path)).size;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to restore a stream whose file is missing here or shorter than the state needs: on a
 * node without a shared filesystem the file must have been copied, and resuming against a wrong
 * one would lose or duplicate output.
 * @internal
 */
export function expectFile(action: "reading" | "writing", path: string, atLeast: number, offset: number): void {
  if (atLeast === 0) return;
  const size = sizeOf(path);
  const where = `Cannot continue ${action} "${path}" at byte ${offset} on this node`;
  const hint = "every node that may run this process needs the same file: copy it there, or keep it on a shared filesystem";
  if (size === undefined) throw new FerryError("not_found", `${where}: the file does not exist here (resolved to ${resolvePath(path)})`, { hint, retryable: false });
  if (size < atLeast) throw new FerryError("conflict", `${where}: the file here has ${size} bytes, ${atLeast} expected`, { hint, retryable: false });
}

/**
 * Validates a stream's snapshot data (it came from a peer: data only, checked before use).
 * @internal
 */
export function checkState(data: unknown, kind: string): [string, number] {
  const state = data as Partial<StreamState> | null;
  if (
    typeof state !== "object" || state === null || typeof state.path !== "string" || state.path === "" ||
    !Number.isSafeInteger(state.offset) || (state.offset as number) < 0
  ) {
    throw new FerryError("snapshot_corrupt", `Snapshot holds a malformed file ${kind}: ${JSON.stringify(data)}`);
  }
  return [state.path, state.offset as number];
}

const reasons: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EMFILE: "too many open files",
  EIO: "input/output error",
};

/**
 * A one-line FerryError for a failed file operation, e.g.
 * `Cannot open "data/in.txt" for reading: no such file (resolved to /srv/ferry/data/in.txt)`.
 * @internal
 */
export function ioError(action: string, path: string, cause: unknown, reasonOverrides: Record<string, string> = {}): FerryError {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : "";
  const reason = reasonOverrides[code] ?? reasons[code] ?? (cause instanceof Error ? cause.message : String(cause));
  const where = isAbsolute(path) ? "" : ` (resolved to ${resolvePath(path)})`;
  const missing = code === "ENOENT" || code === "ENOTDIR";
  return new FerryError(missing ? "not_found" : "process_failed", `${action}: ${reason}${where}`, { cause });
}
