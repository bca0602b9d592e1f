/**
 * Messages between the daemon's main thread and its executor workers. In-process only: they cross
 * a `postMessage` boundary (structured clone), never the network, so they are plain TS types.
 * @module
 */

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
    moduleVersion: number;
    args: string[];
    snapshot?: Uint8Array;
    generation: number;
    hold: boolean;
  }
  /** Run a held or suspended process: resume() hook, then run() (unless it had completed). */
  | { type: "activate"; name: string; generation: number; run: boolean }
  /** Stop at a safe point, call suspend(), capture. The instance stays for a rollback. */
  | { type: "suspend"; name: string; deadlineMs: number }
  /** Capture without stopping (periodic checkpoint). Snapshot is absent when unchanged. */
  | { type: "capture"; name: string }
  | { type: "discard"; name: string }
  | { type: "call"; name: string; method: string; args: string[] }
  | { type: "inspect"; modulePath: string; moduleVersion: number };

export type RequestType = Request["type"];

export type ReplyValue = {
  start: { methods: string[]; description: string };
  activate: null;
  suspend: { snapshot: Uint8Array };
  capture: { snapshot: Uint8Array };
  discard: null;
  call: { value: Uint8Array };
  inspect: { methods: string[] };
};

export type ToWorker = Request & { id: number };

export type FromWorker =
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: WireError }
  | { type: "exit"; name: string; outcome: "completed" | "failed"; error?: WireError }
  | { type: "log"; name: string; stream: "out" | "err"; text: string };

/**
 * Bytes (snapshots, call results) cross the worker boundary as whole, transferred ArrayBuffers
 * rather than Uint8Arrays: Deno's node:worker_threads visits every own key of a received message
 * looking for ports, which for a typed array means every index (~0.1 s per MiB, and a RangeError
 * past ~128 MiB). `packBytes` swaps the Uint8Array fields of a message (or of a reply's value) for
 * ArrayBuffers and lists them for transfer; `unpackBytes` swaps them back on the other side.
 */
export function packBytes<T>(fields: T): { packed: T; transfer: ArrayBuffer[] } {
  if (!fields || typeof fields !== "object") return { packed: fields, transfer: [] };
  const packed = { ...fields } as Record<string, unknown>;
  const transfer: ArrayBuffer[] = [];
  for (const [key, value] of Object.entries(packed)) {
    if (!(value instanceof Uint8Array)) continue;
    // A view of part of a buffer (a pooled Buffer, say) is copied: transferring would take the rest.
    const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.buffer instanceof ArrayBuffer;
    const buffer = whole ? (value.buffer as ArrayBuffer) : value.slice().buffer;
    packed[key] = buffer;
    transfer.push(buffer);
  }
  return { packed: packed as T, transfer };
}

/** The inverse of {@link packBytes}: ArrayBuffer fields become Uint8Arrays again. */
export function unpackBytes<T>(fields: T): T {
  if (!fields || typeof fields !== "object") return fields;
  const out = { ...fields } as Record<string, unknown>;
  for (const [key, value] of Object.entries(out)) if (value instanceof ArrayBuffer) out[key] = new Uint8Array(value);
  return out as T;
}

/** Layout of the SharedArrayBuffer each worker shares with the main thread. */
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
/** Int32 slots in the shared buffer. */
export const SHARED_SLOTS = 3;
