/**
 * Messages between the daemon's main thread and its executor workers. In-process only: they cross
 * a `postMessage` boundary (structured clone), never the network, so they are plain TS types.
 * @module
 */

import type { LogLimits } from "./log-limit.ts";

/** What the pool hands each executor worker as its `workerData`. */
export interface ExecutorData {
  /** This worker's own slots ({@link SHARED_BYTES}). */
  shared: SharedArrayBuffer;
  /** The node's lease cell, shared by every worker of the pool (see lease.ts). */
  lease: SharedArrayBuffer;
  log: LogLimits;
}

/** A failure that crossed the worker boundary: enough to rebuild a FerryError. */
export interface WireError {
  code: string;
  message: string;
  hint?: string;
}

export type Request =
  /** Instantiate (fresh from args, or from a snapshot) and, unless `hold`, start run(). */
  | {
    type: "start";
    name: string;
    /** Small integer the worker reports in CURRENT while this process's code runs. */
    slot: number;
    modulePath: string;
    moduleVersion: string;
    args: string[];
    snapshot?: Uint8Array;
    /**
     * The snapshot arrives after this request, in `feed` requests, and is this long: the worker
     * decodes it chunk by chunk as it comes (a large state handed over while it streams in).
     */
    streamed?: { length: number };
    /**
     * The snapshot's content was verified piece by piece where it was assembled (a pre-copy's,
     * each piece against the holder's hash): its checksum is not computed again here.
     */
    verified?: boolean;
    generation: number;
    hold: boolean;
    /**
     * One Int32, 0 until decided: the worker compare-and-swaps it to {@link CLAIM_STARTED} before
     * it replies (and before run() may begin), the main thread to {@link CLAIM_TIMED_OUT} when it
     * gives up. Whoever comes second yields, so a timed-out start never runs a step.
     */
    claim: SharedArrayBuffer;
  }
  /** Run a held or suspended process: resume() hook, then run() (unless it had completed). */
  | { type: "activate"; name: string; generation: number; run: boolean }
  /**
   * Stop at a safe point, call suspend(), capture. The instance stays for a rollback. A snapshot
   * longer than `streamAbove` bytes is not returned: the worker keeps its encoder and the bytes
   * are fetched with `read` requests until the instance runs again or is discarded. With
   * `delta`, the capture is a pre-copy delta (snapshot/delta.ts) since round `after` of `session`.
   */
  | { type: "suspend"; name: string; deadlineMs: number; streamAbove?: number; delta?: { session: string; after: number } }
  /**
   * The next chunk (at most `maxBytes`) of a suspended process's streamed snapshot, for one of its
   * two readers (`send`: the hand-off, `save`: the checkpoint at suspend). No chunk: all was read.
   */
  | { type: "read"; name: string; reader: "send" | "save"; maxBytes: number }
  /**
   * The next pieces of the snapshot of a start with `streamed` (as they came off the socket, their
   * buffers transferred); neither `chunks` nor `error`: the end. With `error`, the transfer broke
   * and the start fails with it.
   */
  | { type: "feed"; name: string; chunks?: Uint8Array[]; error?: string }
  /**
   * A pre-copy round: capture between two turns without stopping, and encode only the pieces
   * whose hash changed since round `after` of `session` (at most `budgetBytes` of chunks).
   */
  | { type: "delta"; name: string; session: string; after: number; budgetBytes: number }
  /** Capture without stopping (periodic checkpoint). Snapshot is absent when unchanged. */
  /** `expectBytes`: the size of its last snapshot the daemon knows of, so a large one's buffer is made ready. */
  | { type: "capture"; name: string; expectBytes?: number }
  | { type: "discard"; name: string }
  /**
   * `callId`: the caller's id for the call, the same in each of its retries: a call that already
   * ran is answered again, not run twice. Its answer is kept `keepMs` (the caller's time left).
   */
  | { type: "call"; name: string; method: string; args: string[]; callId?: string; keepMs?: number }
  | { type: "inspect"; modulePath: string; moduleVersion: string }
  /**
   * Swap a suspended (or completed) process's code: restore its fields into the class of
   * `moduleVersion`, call `upgrade(fromVersion)`, `resume()`, then run() unless `run` is false.
   * The old instance stays until all of that succeeded; on failure it is left suspended for an
   * `activate`. With `dryRun` the process is not suspended first and keeps running: its fields are
   * captured between two turns, restored into the new class and `upgrade()` is called on that copy
   * only, which is then dropped.
   */
  | { type: "upgrade"; name: string; modulePath: string; moduleVersion: string; fromVersion: string; run: boolean; dryRun: boolean };

export type ReplyValue = {
  /** `upgradedFrom`: the snapshot was another version's, and the new code's upgrade() took it over. */
  start: { methods: string[]; description: string; upgradedFrom?: string };
  /** `runAt`: when run() was started again (`sharedClockMs()` of clock.ts); absent when it was not. */
  activate: { runAt?: number };
  /**
   * `streamed`: the snapshot's length, when it is to be fetched with `read` requests (only when the
   * request set `streamAbove`); `snapshot` is then empty. `stoppedAt`: when run() was told to stop
   * (`sharedClockMs()` of clock.ts), or the request was taken up if it was not running.
   */
  suspend: { snapshot: Uint8Array; streamed?: number; stoppedAt?: number };
  read: { chunk?: Uint8Array };
  feed: null;
  /** `takenAt`: when the fields were read, ms since the epoch (a large snapshot is sealed turns later). */
  capture: { snapshot: Uint8Array; takenAt: number };
  /** A pre-copy round's delta in its parts (delta.ts's `DeltaParts`), to be sent one after the other. */
  delta: { parts: Uint8Array[]; round: number; dirtyBytes: number; sentBytes: number; totalBytes: number; complete: boolean; captureMs: number };
  discard: null;
  call: { value: Uint8Array };
  inspect: { methods: string[] };
  upgrade: { methods: string[]; description: string };
};

export type ToWorker = Request & { id: number };

export type FromWorker =
  /**
   * The worker listens now. Deno can drop a message that reaches a worker before its listener is
   * attached (while its entry module still awaits imports), so the pool sends nothing before this.
   */
  | { type: "ready" }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: WireError }
  | { type: "exit"; name: string; outcome: "completed" | "failed"; error?: WireError }
  | { type: "log"; name: string; stream: "out" | "err"; text: string };

/**
 * Bytes (snapshots, call results) cross the worker boundary as whole, transferred ArrayBuffers
 * rather than Uint8Arrays: Deno's node:worker_threads visits every own key of a received message
 * looking for ports, which for a typed array means every index (~0.1 s per MiB, and a RangeError
 * past ~128 MiB). `packBytes` swaps the Uint8Array fields of a message (or of a reply's value), and
 * arrays of them, for ArrayBuffers and lists them for transfer; `unpackBytes` swaps them back on
 * the other side.
 */
export function packBytes<T>(fields: T): { packed: T; transfer: ArrayBuffer[] } {
  if (!fields || typeof fields !== "object") return { packed: fields, transfer: [] };
  const packed = { ...fields } as Record<string, unknown>;
  const transfer: ArrayBuffer[] = [];
  const pack = (value: Uint8Array): ArrayBuffer => {
    // A view of part of a buffer (a pooled Buffer, say) is copied: transferring would take the rest.
    const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.buffer instanceof ArrayBuffer;
    const buffer = whole ? (value.buffer as ArrayBuffer) : value.slice().buffer;
    transfer.push(buffer);
    return buffer;
  };
  for (const [key, value] of Object.entries(packed)) {
    if (value instanceof Uint8Array) packed[key] = pack(value);
    else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Uint8Array)) packed[key] = value.map(pack);
  }
  return { packed: packed as T, transfer };
}

/** The inverse of {@link packBytes}: ArrayBuffer fields become Uint8Arrays again. */
export function unpackBytes<T>(fields: T): T {
  if (!fields || typeof fields !== "object") return fields;
  const out = { ...fields } as Record<string, unknown>;
  for (const [key, value] of Object.entries(out)) {
    if (value instanceof ArrayBuffer) out[key] = new Uint8Array(value);
    else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof ArrayBuffer)) out[key] = value.map((v) => new Uint8Array(v));
  }
  return out as T;
}

/** Values of a start request's claim cell. */
export const CLAIM_STARTED = 1;
export const CLAIM_TIMED_OUT = 2;

/**
 * Layout of the SharedArrayBuffer each worker shares with the main thread: Int32 slots, then one
 * Float64. Heartbeat counter; 0 until the worker has booted, so the main thread can tell a worker
 * still loading its code from one that stopped beating.
 */
export const BEAT = 0;
/** Index (in the worker's slot table) of the process whose code runs now, or -1. */
export const CURRENT = 1;
/**
 * Set to 1 by a worker that finds it ran out of memory: its heap limit was raised (what a
 * runtime's near-heap-limit handler does before it ends the worker) or its old generation is past
 * `maxOldGenerationSizeMb`. Deno sometimes stops the allocating code but neither ends the worker
 * nor emits an error; the main thread then ends it.
 */
export const OUT_OF_MEMORY = 2;
/** What the CURRENT process is doing ({@link Activity}), so a stall can say where it got stuck. */
export const ACTIVITY = 3;
/** 1 while the worker is blocked because the node's lease may have lapsed: not a stall. */
export const LEASE_WAIT = 4;
/** Set by the main thread: the worker must never run process code again, only end. */
export const EVICTED = 5;
/** Float64 index: the lease deadline the worker last blocked under (-Infinity: never). */
export const WAITED_UNDER = 3;
/** Bytes of the shared buffer: six Int32 slots (bytes 0-23), then the Float64 (bytes 24-31). */
export const SHARED_BYTES = 32;

/** What a process's code is doing while it holds CURRENT. */
export const Activity = {
  none: 0,
  construct: 1,
  decode: 2,
  resume: 3,
  suspend: 4,
  run: 5,
  call: 6,
  describe: 7,
  /**
   * Ferry's own codec encoding or decoding a snapshot: no process code runs and it always ends,
   * but a state of hundreds of MiB keeps the thread busy for seconds. Not a stall.
   */
  serialize: 8,
  upgrade: 9,
} as const;
export type Activity = (typeof Activity)[keyof typeof Activity];

const stuckIn: Record<number, string> = {
  [Activity.construct]: "never returned from its constructor",
  [Activity.decode]: "never finished decoding its snapshot",
  [Activity.resume]: "never returned from resume()",
  [Activity.suspend]: "never returned from suspend()",
  [Activity.run]: "ran run() without yielding",
  [Activity.call]: "ran a method call without yielding",
  [Activity.describe]: "never returned from toString()",
  [Activity.upgrade]: "never returned from upgrade()",
};

/**
 * Completes a stall reason with where the culprit got stuck.
 *
 * @example
 * ```ts
 * stallDetail("busy", Activity.construct); // 'process "busy" never returned from its constructor'
 * ```
 */
export function stallDetail(name: string, activity: number): string {
  return `process "${name}" ${stuckIn[activity] ?? "did not yield"}`;
}
