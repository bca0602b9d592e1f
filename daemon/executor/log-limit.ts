/**
 * Rate limits for a process's console output, applied inside its executor worker so that a
 * process printing in a loop costs neither the worker's message channel nor the daemon's output.
 * Two token buckets per process — lines per second and bytes per second, each with a burst — and
 * a cap on one line's size (longer lines are cut, with a marker). What is dropped is counted and
 * reported as one line per interval by the caller ({@link LogBucket.report}).
 *
 * @example
 * ```ts
 * const bucket = new LogBucket(defaultLogLimits);
 * const text = bucket.admit(() => format(...parts)); // undefined when dropped
 * if (text !== undefined) emit(text);
 * const note = bucket.report(); // "… 12 lines dropped (log rate limit 200 lines/s)" or undefined
 * ```
 * @module
 */

/** Each console call counts as one line, whatever it contains. */
export interface LogLimits {
  /** Lines per second a process may print on average. */
  linesPerSecond: number;
  /** Lines a process may print at once after a quiet spell. */
  lineBurst: number;
  /** Bytes (UTF-8) per second a process may print on average. */
  bytesPerSecond: number;
  /** Bytes a process may print at once after a quiet spell. */
  byteBurst: number;
  /** A longer line is cut to this many bytes and marked. */
  maxLineBytes: number;
}

export const defaultLogLimits: Readonly<LogLimits> = {
  linesPerSecond: 200,
  lineBurst: 1000,
  bytesPerSecond: 256 * 1024,
  byteBurst: 1024 * 1024,
  maxLineBytes: 16 * 1024,
};

/**
 * "256 KiB", "1 MiB", "100 B": sizes the way the limits are usually written.
 *
 * @example
 * ```ts
 * formatBytes(16384); // "16 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

const encoder = new TextEncoder();

export class LogBucket {
  readonly #limits: LogLimits;
  readonly #now: () => number;
  readonly #scratch: Uint8Array;
  #lines: number;
  #bytes: number;
  #at: number;
  #dropped = 0;
  #why = "";

  /** `now` is a clock in ms (injectable for tests). */
  constructor(limits: LogLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
    this.#scratch = new Uint8Array(limits.maxLineBytes);
    this.#lines = limits.lineBurst;
    this.#bytes = limits.byteBurst;
    this.#at = now();
  }

  /**
   * The line to print, cut to the size limit, or undefined when it is dropped. `format` runs only
   * when the line budget allows, so a flood of dropped lines is not even formatted.
   */
  admit(format: () => string): string | undefined {
    const limits = this.#limits;
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#at = now;
    this.#lines = Math.min(limits.lineBurst, this.#lines + elapsed * limits.linesPerSecond);
    this.#bytes = Math.min(limits.byteBurst, this.#bytes + elapsed * limits.bytesPerSecond);
    if (this.#lines < 1) return this.#drop(`${limits.linesPerSecond} lines/s`);
    let text = format();
    const { read, written } = encoder.encodeInto(text, this.#scratch);
    if (read < text.length) text = `${text.slice(0, read)} … [line truncated at ${formatBytes(limits.maxLineBytes)}]`;
    if (this.#bytes < written) return this.#drop(`${formatBytes(limits.bytesPerSecond)}/s`);
    this.#lines -= 1;
    this.#bytes -= written;
    return text;
  }

  /** The line that reports what was dropped since the last report, or undefined if nothing was. */
  report(): string | undefined {
    if (!this.#dropped) return undefined;
    const n = this.#dropped;
    this.#dropped = 0;
    return `… ${n} line${n === 1 ? "" : "s"} dropped (log rate limit ${this.#why})`;
  }

  #drop(why: string): undefined {
    this.#dropped++;
    this.#why = why;
    return undefined;
  }
}
