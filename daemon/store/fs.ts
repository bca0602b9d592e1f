/**
 * The file calls through which the store writes and reads its data, as one small interface. The
 * node's own `node:fs` is the default; a test passes a variant to produce a failure a real disk
 * will not produce on demand (a truncate that fails after a write did). Also how storage failures
 * become one-line `storage_failed` errors that name the directory and what the OS said.
 *
 * @example
 * ```ts
 * const failingTruncate: StorageFs = { ...nodeStorageFs, ftruncateSync: () => { throw new Error("EIO") } };
 * await Journal.open("/data/alpha", { fs: failingTruncate });
 * ```
 * @module
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { getSystemErrorMap } from "node:util";
import { FerryError } from "../errors.ts";

/** The part of a `node:fs/promises` FileHandle the checkpoint writer uses. */
export interface StorageFileHandle {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  /** Writes several buffers at the file's position in one call; optional. May write fewer bytes. */
  writev?(buffers: Uint8Array[]): Promise<{ bytesWritten: number }>;
  /** Flushes the data written so far (not the metadata); optional, a stream writer uses it to flush early. */
  datasync?(): Promise<void>;
  close(): Promise<void>;
}

/** The file calls of the journal and the checkpoint store (same meaning as in `node:fs`). */
export interface StorageFs {
  openSync(path: string, flags: "a" | "w"): number;
  /**
   * Opens (creating) for appending so that each write is durable when it returns (O_DSYNC): a
   * group commit is then one trip to the thread pool instead of a write and an fsync. Absent
   * where the platform has no such flag; the journal then writes and fsyncs.
   */
  openDurableSync?(path: string): number;
  /** May write fewer bytes than asked (a nearly full disk); returns how many it wrote. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  /** As {@link writeSync}, on a thread of the pool: the journal's group commit waits without blocking. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  ftruncateSync(fd: number, length: number): void;
  closeSync(fd: number): void;
  readFileSync(path: string): Uint8Array;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  open(path: string, flags: "w"): Promise<StorageFileHandle>;
  rename(from: string, to: string): Promise<void>;
}

/** The real filesystem. */
export const nodeStorageFs: StorageFs = {
  openSync: (path, flags) => fs.openSync(path, flags),
  ...(fs.constants.O_DSYNC ? { openDurableSync: (path: string) => fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_DSYNC, 0o666) } : {}),
  writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  write: (fd, buffer, offset, length) => new Promise((resolve, reject) => fs.write(fd, buffer, offset, length, null, (error, written) => (error ? reject(error) : resolve(written)))),
  fsync: (fd) => new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve()))),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  closeSync: (fd) => fs.closeSync(fd),
  readFileSync: (path) => fs.readFileSync(path),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  open: (path, flags) => fsp.open(path, flags),
  rename: (from, to) => fsp.rename(from, to),
};

/**
 * Writes all of `data` at the file's position, looping over short writes.
 *
 * @example
 * ```ts
 * writeAllSync(nodeStorageFs, fd, new TextEncoder().encode("line\n"));
 * ```
 */
export function writeAllSync(storage: StorageFs, fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.byteLength) {
    const written = storage.writeSync(fd, data, offset, data.byteLength - offset);
    // A write that makes no progress and reports no error would loop for ever.
    if (written <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    offset += written;
  }
}

/**
 * {@link writeAllSync} without blocking the event loop.
 *
 * @example
 * ```ts
 * await writeAll(nodeStorageFs, fd, new TextEncoder().encode("line\n"));
 * ```
 */
export async function writeAll(storage: StorageFs, fd: number, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const written = await storage.write(fd, data, offset, data.byteLength - offset);
    if (written <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    offset += written;
  }
}

/** The `code` of an OS error (`ENOSPC`), if it has one. */
export function errorCodeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

let descriptions: Map<string, string> | undefined;

/**
 * `ENOSPC: no space left on device`: the OS error without the syscall and path Node appends and
 * in the same words on Node and Deno (whose messages differ).
 *
 * @example
 * ```ts
 * describeIoError(Object.assign(new Error("x"), { code: "ENOSPC" })); // "ENOSPC: no space left on device"
 * ```
 */
export function describeIoError(cause: unknown): string {
  const code = errorCodeOf(cause);
  if (code) {
    descriptions ??= new Map([...getSystemErrorMap().values()].map(([name, text]) => [name, text]));
    const text = descriptions.get(code);
    if (text) return `${code}: ${text}`;
  }
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * A `storage_failed` error: `<action>: <OS error>`, with a hint fitting the failure.
 *
 * @example
 * ```ts
 * throw storageFailed(`Cannot write the journal in "${dir}"`, dir, cause);
 * ```
 */
export function storageFailed(action: string, dir: string, cause: unknown, hint?: string): FerryError {
  const code = errorCodeOf(cause);
  const full = code === "ENOSPC" || code === "EDQUOT";
  return new FerryError("storage_failed", `${action}: ${describeIoError(cause)}`, {
    hint: hint ?? (full ? `free space in "${dir}"; the node keeps running what it has` : `check the disk holding "${dir}"; the node keeps running what it has`),
    cause,
  });
}
