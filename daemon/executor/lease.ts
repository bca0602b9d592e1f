/**
 * The node's liveness-lease deadline, in one SharedArrayBuffer that the main thread and every
 * executor worker share. Self-fencing reads it before every turn of process code, so reading must
 * be cheap and never torn: the main thread is the only writer and publishes under a sequence
 * number (a seqlock: odd while writing), which is also what a blocked worker `Atomics.wait`s on.
 *
 * @example
 * ```ts
 * const lease = new LeaseCell();            // main thread: no lease (Infinity)
 * lease.publish(Date.now() + 10_000);
 * const inWorker = new LeaseCell(lease.buffer);
 * if (inWorker.deadline() <= Date.now()) inWorker.wait(1000); // until the next publish
 * ```
 * @module
 */

/** Int32 index of the sequence number. */
const SEQ = 0;
/** Float64 index of the deadline (bytes 8-15). */
const DEADLINE = 1;

export class LeaseCell {
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;
  #seenSeq = -1;
  #seenDeadline = Infinity;

  /** A new cell holding no lease (`Infinity`), or a view of an existing cell's buffer. */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(16);
    this.#ints = new Int32Array(this.buffer, 0, 2);
    this.#floats = new Float64Array(this.buffer, 0, 2);
    if (!buffer) this.#floats[DEADLINE] = Infinity;
  }

  /** Sets the deadline (ms since the epoch) and wakes every thread waiting on the cell. Single writer. */
  publish(deadline: number): void {
    Atomics.add(this.#ints, SEQ, 1);
    this.#floats[DEADLINE] = deadline;
    Atomics.add(this.#ints, SEQ, 1);
    Atomics.notify(this.#ints, SEQ);
  }

  /** Wakes every thread waiting on the cell without changing it (they re-check their reasons). */
  wake(): void {
    Atomics.notify(this.#ints, SEQ);
  }

  /** The deadline now: two atomic loads when it has not changed since the last read. */
  deadline(): number {
    for (;;) {
      const seq = Atomics.load(this.#ints, SEQ);
      if (seq === this.#seenSeq) return this.#seenDeadline;
      if (seq & 1) continue; // the writer is between its two increments
      const deadline = this.#floats[DEADLINE]!;
      if (Atomics.load(this.#ints, SEQ) !== seq) continue;
      this.#seenSeq = seq;
      this.#seenDeadline = deadline;
      return deadline;
    }
  }

  /**
   * Blocks the calling worker thread until the cell changes or is woken (or `ms` pass), unless it
   * changed since the last {@link deadline} read. Not on a main thread, where Atomics.wait throws.
   */
  wait(ms: number): void {
    Atomics.wait(this.#ints, SEQ, this.#seenSeq, ms);
  }
}
