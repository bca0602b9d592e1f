/**
 * The log a node keeps of each process it runs: what the process printed and what happened to it,
 * one NDJSON record a line in `<dataDir>/<node>/logs/<process>.log` (rotated by size). Taking a
 * line costs a push onto a buffer: the hand-off path never waits for a disk. The buffer is
 * appended by the `process logs` runnable every quarter second (sooner when it fills), without
 * fsync; reads and follows see buffered records too.
 *
 * Every record gets the node's next sequence number. Numbers continue across restarts (they start
 * above both the last one on disk and the start time in microseconds, so records a crash lost
 * never lend their numbers to new ones): a follower that saw `seq` N asks for `after: N` and
 * misses nothing, repeats nothing.
 *
 * @example
 * ```ts
 * const logs = await ProcessLogs.open({ node: "alpha", dir: "/data/alpha/logs", limits: () => ({ maxFileBytes: 1 << 20, files: 3 }) });
 * manager.add(logs);
 * logs.write("counter", 0, "out", "run() begin");
 * const { records } = await logs.read({ process: "counter", lines: 100 });
 * ```
 * @module
 */
import { mkdir, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { LogRecord, LogStream } from "../../schemas/api.schema.ts";
import type { FailureReporter, Runnable } from "../manager.ts";
import { matches, type RecordFilter, selectRecords } from "./query.ts";
import { type RotateLimits, RotatingFile } from "./rotate.ts";

export interface ProcessLogsOptions {
  node: string;
  /** The directory of the log files (`<dataDir>/<node>/logs`). */
  dir: string;
  /** Read at every write, so an edit of cluster.yaml applies at once. */
  limits: () => RotateLimits;
  /** How often buffered records are appended. @default 250 */
  flushMs?: number;
  /** Where a failed append is reported (the records of that append are lost). */
  report?: FailureReporter;
  /** @default Date.now */
  now?: () => number;
}

/** Which records of one process a read or a follow wants. */
export interface LogQuery extends RecordFilter {
  process: string;
}

/** Buffered records beyond which a flush starts at once. */
const FLUSH_AT = 1000;
/** Buffered records beyond which new ones are dropped (counted) until the disk catches up. */
const MAX_PENDING = 100_000;
/** Records a follower may lag behind before its stream ends (it reconnects and reads the rest). */
const MAX_FOLLOW_LAG = 10_000;
/** How much of a file's end is read to find its last sequence number. */
const TAIL_BYTES = 64 * 1024;

export class ProcessLogs implements Runnable {
  readonly name = "process logs";
  readonly node: string;
  readonly #dir: string;
  readonly #options: ProcessLogsOptions;
  readonly #now: () => number;
  readonly #files = new Map<string, RotatingFile>();
  readonly #subscribers = new Set<(record: LogRecord) => void>();
  #seq: number;
  #pending = new Map<string, LogRecord[]>();
  #pendingCount = 0;
  /** Flushes and reads run one at a time, so a read never sees a file mid-rotation. */
  #io: Promise<unknown> = Promise.resolve();
  #kick: (() => void) | undefined;
  #dropped = 0;
  #closed = false;
  /** A failing disk is reported once, not at every flush, until an append succeeds again. */
  #failing = false;

  private constructor(options: ProcessLogsOptions, seq: number) {
    this.node = options.node;
    this.#dir = options.dir;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#seq = seq;
  }

  /**
   * Creates the directory if needed and continues the node's sequence numbers.
   *
   * @example
   * ```ts
   * const logs = await ProcessLogs.open({ node: "alpha", dir, limits: () => settings.logs });
   * ```
   */
  static async open(options: ProcessLogsOptions): Promise<ProcessLogs> {
    await mkdir(options.dir, { recursive: true });
    const onDisk = await lastSeqIn(options.dir);
    return new ProcessLogs(options, Math.max(onDisk, (options.now ?? Date.now)() * 1000));
  }

  /** The node's last sequence number. */
  get seq(): number {
    return this.#seq;
  }

  /** Records lost because the disk fell too far behind or refused them. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Takes one line of `process`: buffered, handed to followers at once, appended soon. `ts`
   * defaults to now (an event passes the time it happened).
   *
   * @example
   * ```ts
   * logs.write("counter", 2, "event", "resumed, from alpha");
   * ```
   */
  write(process: string, generation: number, stream: LogStream, text: string, ts?: string): LogRecord | undefined {
    if (this.#closed) return undefined;
    if (this.#pendingCount >= MAX_PENDING) {
      this.#dropped++;
      return undefined;
    }
    const record: LogRecord = { seq: ++this.#seq, ts: ts ?? new Date(this.#now()).toISOString(), node: this.node, process, generation, stream, text };
    const list = this.#pending.get(process);
    if (list) list.push(record);
    else this.#pending.set(process, [record]);
    if (++this.#pendingCount >= FLUSH_AT) this.#kick?.();
    for (const fn of this.#subscribers) fn(record);
    return record;
  }

  /**
   * The records of `query.process` this node keeps (on disk and buffered), oldest first, and the
   * node's last sequence number at that moment.
   *
   * @example
   * ```ts
   * const { records, seq } = await logs.read({ process: "counter", sinceTs: "2026-11-27T03:00:00Z" });
   * ```
   */
  read(query: LogQuery): Promise<{ records: LogRecord[]; seq: number }> {
    return this.#exclusive(async () => {
      const onDisk = parseRecords(await this.#file(query.process).readAll());
      const last = onDisk.at(-1)?.seq ?? 0;
      const buffered = (this.#pending.get(query.process) ?? []).filter((r) => r.seq > last);
      return { records: selectRecords([...onDisk, ...buffered], query), seq: this.#seq };
    });
  }

  /**
   * What {@link read} selects, then every new record of the process, until `signal` aborts. A
   * follower that falls far behind is ended (it resumes with `after`, reading from disk).
   *
   * @example
   * ```ts
   * for await (const record of logs.follow({ process: "counter", after: 41 }, signal)) send(record);
   * ```
   */
  async *follow(query: LogQuery, signal: AbortSignal): AsyncGenerator<LogRecord> {
    const live: LogRecord[] = [];
    let wake: (() => void) | undefined;
    let overflow = false;
    const onRecord = (record: LogRecord) => {
      if (record.process !== query.process) return;
      if (live.length >= MAX_FOLLOW_LAG) overflow = true;
      else live.push(record);
      wake?.();
    };
    const onAbort = () => wake?.();
    // Subscribed before reading, so nothing written meanwhile falls between the two.
    this.#subscribers.add(onRecord);
    signal.addEventListener("abort", onAbort);
    try {
      const { records } = await this.read(query);
      let last = query.after ?? 0;
      for (const record of records) {
        if (signal.aborted) return;
        last = record.seq;
        yield record;
      }
      while (!signal.aborted && !overflow) {
        while (live.length && !signal.aborted) {
          const record = live.shift()!;
          if (!matches(record, { after: last, ...(query.sinceTs !== undefined ? { sinceTs: query.sinceTs } : {}) })) continue;
          last = record.seq;
          yield record;
        }
        if (signal.aborted || overflow) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#subscribers.delete(onRecord);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Appends everything buffered so far. */
  flush(): Promise<void> {
    return this.#exclusive(async () => {
      const pending = this.#pending;
      this.#pending = new Map();
      this.#pendingCount = 0;
      for (const [process, records] of pending) {
        try {
          await this.#file(process).append(records.map((r) => JSON.stringify(r) + "\n").join(""));
          this.#failing = false;
        } catch (error) {
          this.#dropped += records.length;
          if (!this.#failing) this.#options.report?.(`appending to the log of ${process} (its lines are lost until the disk takes them)`, error);
          this.#failing = true;
        }
      }
    });
  }

  /** The runnable: flushes every `flushMs` (or when the buffer fills) until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const everyMs = this.#options.flushMs ?? 250;
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.#kick = undefined;
          resolve();
        };
        const timer = setTimeout(done, everyMs);
        this.#kick = done;
        signal.addEventListener("abort", done, { once: true });
      });
      await this.flush();
    }
  }

  /** Appends what is buffered and takes no more lines; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #file(process: string): RotatingFile {
    let file = this.#files.get(process);
    if (!file) {
      file = new RotatingFile(join(this.#dir, `${process}.log`), this.#options.limits());
      this.#files.set(process, file);
    } else file.limits = this.#options.limits();
    return file;
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#io.then(work, work);
    this.#io = run.catch(() => {});
    return run;
  }
}

/** The records of an NDJSON text; a torn or foreign line is skipped. */
function parseRecords(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split("\n")) {
    const record = parseRecord(line);
    if (record) out.push(record);
  }
  return out;
}

function parseRecord(line: string): LogRecord | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as Partial<LogRecord>;
    return typeof value.seq === "number" && typeof value.ts === "string" && typeof value.text === "string" ? (value as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The largest sequence number at the end of any current log file in `dir` (0 when none). */
async function lastSeqIn(dir: string): Promise<number> {
  let max = 0;
  for (const name of await readdir(dir)) {
    if (!name.endsWith(".log")) continue;
    const handle = await open(join(dir, name), "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, TAIL_BYTES);
      const buffer = new Uint8Array(length);
      await handle.read(buffer, 0, length, size - length);
      for (const record of parseRecords(new TextDecoder().decode(buffer))) max = Math.max(max, record.seq);
    } finally {
      await handle.close();
    }
  }
  return max;
}
