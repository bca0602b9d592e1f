/**
 * Receiving a large snapshot while it streams in: each batch of pieces, as they came off the
 * socket, is written to the checkpoint file (one writev), then handed — transferred, not copied —
 * to the executor, which decodes it into the buffers the state will live in. The network, the disk and the decoding overlap, and no whole copy of
 * the state is held besides the one being built. The checkpoint is durable (fsync'd) and the
 * executor has verified the snapshot's CRC before the copy counts as held.
 *
 * @example
 * ```ts
 * const { process, error } = await hostStreamed(parts, identity, { length, chunks });
 * ```
 * @module
 */
import { FerryError, isFerryError } from "../errors.ts";
import type { SnapshotFeed } from "../executor/mod.ts";
import type { ManagedProcess, ProcessIdentity } from "./process.ts";
import type { NodeParts, ResolvedModule } from "./parts.ts";
import { SNAPSHOT_CHUNK_BYTES } from "./snapshot-stream.ts";

/** A snapshot arriving from a peer: its announced length and its bytes in chunks of any size. */
export interface SnapshotInflow {
  length: number;
  chunks: AsyncIterable<Uint8Array>;
}

/** Batches written to disk but not yet taken by the executor, at most (bounds the memory in between). */
const QUEUED_BATCHES = 4;

/**
 * A bounded hand-over of items from one producer to one consumer that iterates it. `put` waits
 * while it is full and rejects once the consumer stopped or the queue failed.
 *
 * @example
 * ```ts
 * const queue = new BlockQueue<Uint8Array[]>(4);
 * void (async () => { await queue.put([chunk]); queue.close(); })();
 * for await (const batch of queue) console.log(batch.length);
 * ```
 */
export class BlockQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #closed = false;
  #error: unknown;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  async put(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity && this.#error === undefined) await new Promise<void>((r) => (this.#wakeProducer = r));
    if (this.#error !== undefined) throw this.#error;
    this.#items.push(item);
    this.#wake();
  }

  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** Ends it with `error`: the consumer's iteration throws it, a waiting `put` rejects with it. */
  fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = error ?? new Error("failed");
    this.#items.length = 0;
    this.#wake();
  }

  #wake(): void {
    const consumer = this.#wakeConsumer;
    const producer = this.#wakeProducer;
    this.#wakeConsumer = this.#wakeProducer = undefined;
    consumer?.();
    producer?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        if (this.#error !== undefined) throw this.#error;
        if (this.#items.length) {
          const item = this.#items.shift()!;
          this.#wake();
          yield item;
        } else if (this.#closed) return;
        else await new Promise<void>((r) => (this.#wakeConsumer = r));
      }
    } finally {
      // The consumer stopped (or finished): a producer still putting learns it.
      this.fail(new FerryError("unavailable", "the executor stopped taking the snapshot"));
    }
  }
}

/**
 * Instantiates `identity` (held, not running) from a snapshot streaming in, writing its
 * checkpoint on the way. Resolves with the process (failed when the executor refused it) and the
 * transfer's or the disk's error if either broke; on any failure the partial checkpoint is gone.
 */
export async function hostStreamed(parts: NodeParts, identity: ProcessIdentity, inflow: SnapshotInflow, module?: Promise<ResolvedModule>): Promise<{ process: ManagedProcess; error?: unknown }> {
  const file = parts.checkpoints.openStream(identity.name, identity.generation);
  const queue = new BlockQueue<Uint8Array[]>(QUEUED_BATCHES);
  const pump = (async () => {
    let received = 0;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = async () => {
      const full = batch;
      batch = [];
      batchBytes = 0;
      // To disk first: the pieces' buffers move to the executor after.
      await file.write(full);
      await queue.put(full);
    };
    try {
      for await (const piece of inflow.chunks) {
        received += piece.byteLength;
        if (received > inflow.length) throw new FerryError("snapshot_corrupt", `Snapshot is corrupt: longer than the ${inflow.length} bytes announced`);
        batch.push(piece);
        batchBytes += piece.byteLength;
        if (batchBytes >= SNAPSHOT_CHUNK_BYTES) await flush();
      }
      if (received < inflow.length) throw new FerryError("unreachable", `Transfer broke off after ${received} of ${inflow.length} bytes`);
      if (batch.length) await flush();
      queue.close();
      await file.commit();
    } catch (error) {
      queue.fail(error);
      await file.abort();
      throw error;
    }
  })();
  pump.catch(() => {});
  const feed: SnapshotFeed = { length: inflow.length, chunks: queue };
  // Quiet: a transfer that broke is the hand-off's failure, not the process's (the caller reports).
  const process = await parts.host(identity, feed, { hold: true, quiet: true, ...(module ? { module } : {}) });
  if (process.state === "failed") {
    queue.fail(new FerryError("module_invalid", process.error ?? "the executor refused the snapshot"));
    const error = await pump.then(() => undefined, (e: unknown) => e);
    // The transfer's own failure says more than the executor's report of it.
    return error !== undefined && !(isFerryError(error) && error.code === "module_invalid") ? { process, error } : { process };
  }
  try {
    await pump;
    return { process };
  } catch (error) {
    return { process, error };
  }
}
