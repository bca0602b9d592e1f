/**
 * A suspended process's snapshot, either whole (a small state: its bytes) or streamed (a large
 * one: read chunk by chunk from the executor that holds the suspended instance, by two independent
 * readers — the hand-off's answer and the checkpoint at suspend — so neither waits for the other
 * and no whole copy of the state is made on this side).
 *
 * @example
 * ```ts
 * const snapshot = streamedSnapshot(pool, "big", 268_435_484);
 * for await (const chunk of snapshotChunks(snapshot, "send")) socket.write(chunk);
 * ```
 * @module
 */
import type { ExecutorPool } from "../executor/mod.ts";
import type { CheckpointStore } from "../store/mod.ts";

/** Bytes per chunk read from the executor or sent on the wire. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;

/**
 * Snapshots longer than this are streamed rather than returned whole (at most one chunk: a
 * smaller state gains nothing from streaming and would pay its round trips).
 */
export const STREAM_ABOVE_BYTES = 1 << 20;

/** A snapshot read from the executor as it is sent. */
export interface StreamedSnapshot {
  /** Its whole length, trailer included (what `Content-Length` announces). */
  readonly byteLength: number;
  /** Settles once the `send` reader stopped, all read or not. */
  readonly sent: Promise<void>;
  /** Its chunks in order, for `reader` (each reader reads it once, at its own pace). */
  chunks(reader: "send" | "save"): AsyncIterable<Uint8Array>;
}

/** A suspended process's snapshot: its bytes, or a stream of them. */
export type Snapshot = Uint8Array | StreamedSnapshot;

/**
 * The streamed snapshot of `name`, suspended in `pool` with a snapshot of `length` bytes.
 *
 * @example
 * ```ts
 * const { snapshot, streamed } = await pool.request({ type: "suspend", name, deadlineMs, streamAbove: STREAM_ABOVE_BYTES });
 * const whole: Snapshot = streamed === undefined ? snapshot : streamedSnapshot(pool, name, streamed);
 * ```
 */
export function streamedSnapshot(pool: Pick<ExecutorPool, "request">, name: string, length: number): StreamedSnapshot {
  let sendStopped!: () => void;
  const sent = new Promise<void>((resolve) => (sendStopped = resolve));
  return {
    byteLength: length,
    sent,
    async *chunks(reader) {
      const read = () => pool.request({ type: "read", name, reader, maxBytes: SNAPSHOT_CHUNK_BYTES });
      try {
        // One read ahead: the executor copies the next chunk while this one is written out.
        let next = read();
        for (;;) {
          const { chunk } = await next;
          if (!chunk) return;
          next = read();
          next.catch(() => {}); // a consumer that stops here leaves it unawaited
          yield chunk;
        }
      } finally {
        if (reader === "send") sendStopped();
      }
    },
  };
}

/**
 * The chunks of `snapshot` for `reader`: slices of the bytes, or the executor's stream.
 *
 * @example
 * ```ts
 * for await (const chunk of snapshotChunks(new Uint8Array(3 << 20), "send")) console.log(chunk.byteLength); // 1048576 ×3
 * ```
 */
export async function* snapshotChunks(snapshot: Snapshot, reader: "send" | "save"): AsyncIterable<Uint8Array> {
  if (!(snapshot instanceof Uint8Array)) return yield* snapshot.chunks(reader);
  for (let offset = 0; offset < snapshot.byteLength; offset += SNAPSHOT_CHUNK_BYTES) {
    yield snapshot.subarray(offset, Math.min(offset + SNAPSHOT_CHUNK_BYTES, snapshot.byteLength));
  }
}

/**
 * Writes a streamed snapshot to the checkpoint store once it has been sent: durable once it
 * resolves; on failure the partial file is gone and the previous checkpoint stays current. It
 * waits for the send so as not to take CPU and disk from the transfer (and from the
 * destination's own write and fsync, which the downtime waits for); a crash of this node before
 * it landed falls back to the previous checkpoint, as the failure table says.
 *
 * @example
 * ```ts
 * await saveStreamed(checkpoints, "big", 3, snapshot);
 * ```
 */
export async function saveStreamed(checkpoints: CheckpointStore, name: string, generation: number, snapshot: StreamedSnapshot): Promise<boolean> {
  await snapshot.sent;
  const file = checkpoints.openStream(name, generation);
  try {
    for await (const chunk of snapshot.chunks("save")) await file.write(chunk);
  } catch (error) {
    await file.abort();
    throw error;
  }
  return file.commit();
}
