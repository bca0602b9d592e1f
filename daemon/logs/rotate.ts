/**
 * A log file that rotates by size: `<base>` is written, and when the next write would take it
 * past `maxFileBytes` it becomes `<base>.1` (the older ones shift to `.2`, … and the oldest beyond
 * `files` is deleted). Appends are plain asynchronous appends, never fsync'd: a log line lost to
 * a power cut costs less than a hand-off slowed down by a disk flush.
 *
 * @example
 * ```ts
 * const file = new RotatingFile("/data/alpha/logs/counter.log", { maxFileBytes: 1 << 20, files: 3 });
 * await file.append('{"seq":1}\n');
 * const text = await file.readAll(); // oldest file first
 * ```
 * @module
 */
import { appendFile, readFile, rename, stat, unlink } from "node:fs/promises";

/** How much of a process's log a node keeps. */
export interface RotateLimits {
  /** A file is rotated before a write would take it past this size (a larger write gets a file of its own). */
  maxFileBytes: number;
  /** Files kept, the current one included (1: the file is started anew). */
  files: number;
}

const encoder = new TextEncoder();

export class RotatingFile {
  readonly base: string;
  #limits: RotateLimits;
  /** Bytes in `base`, learnt at the first write; undefined until then. */
  #size: number | undefined;

  constructor(base: string, limits: RotateLimits) {
    this.base = base;
    this.#limits = limits;
  }

  /** New limits apply from the next write (cluster.yaml changed). */
  set limits(limits: RotateLimits) {
    this.#limits = limits;
  }

  /** The files from oldest to newest (whether they exist or not). */
  paths(): string[] {
    const older = Array.from({ length: this.#limits.files - 1 }, (_, i) => `${this.base}.${this.#limits.files - 1 - i}`);
    return [...older, this.base];
  }

  /**
   * Appends `text`, rotating first when it would not fit. Not safe to call concurrently with
   * itself: the caller serializes writes (see `ProcessLogs`).
   *
   * @example
   * ```ts
   * await file.append(lines.join(""));
   * ```
   */
  async append(text: string): Promise<void> {
    const bytes = encoder.encode(text).byteLength;
    this.#size ??= await sizeOf(this.base);
    if (this.#size > 0 && this.#size + bytes > this.#limits.maxFileBytes) await this.#rotate();
    await appendFile(this.base, text);
    this.#size += bytes;
  }

  async #rotate(): Promise<void> {
    const paths = this.paths(); // [.n-1, …, .1, base]
    await unlink(paths[0]!).catch(ignoreMissing);
    for (let i = 1; i < paths.length; i++) await rename(paths[i]!, paths[i - 1]!).catch(ignoreMissing);
    this.#size = 0;
  }

  /**
   * Everything the files hold, oldest first, as one string.
   *
   * @example
   * ```ts
   * (await file.readAll()).split("\n");
   * ```
   */
  async readAll(): Promise<string> {
    const parts = await Promise.all(this.paths().map((p) => readFile(p, "utf8").catch((e: unknown) => (isMissing(e) ? "" : Promise.reject(e)))));
    return parts.join("");
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOENT";
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}
