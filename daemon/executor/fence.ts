/**
 * Self-fencing inside an executor worker. Once the node's lease may have lapsed another node may
 * have adopted its processes, so no process code may take one more step here — not a timer, not
 * the continuation of an await — until the node renews the lease. {@link Fence.pass} is called
 * before every turn of process code; it returns at once while the lease holds, and otherwise
 * blocks the whole thread in `Atomics.wait` (flagging LEASE_WAIT, so the main thread does not take
 * the silence for a stall) until the deadline moves past now. A worker evicted meanwhile never
 * runs the turn: it ends itself, because Deno's `terminate()` neither interrupts `Atomics.wait`
 * nor stops a thread that is woken afterwards.
 *
 * @example
 * ```ts
 * const fence = new Fence(new LeaseCell(leaseBuffer), shared, () => process.exit(0));
 * fence.pass(); // before running a process's callback
 * ```
 * @module
 */
import type { LeaseCell } from "./lease.ts";
import { EVICTED, LEASE_WAIT, WAITED_UNDER } from "./protocol.ts";

/** How long one wait lasts before the worker looks again, in case a wake-up went astray. */
const RECHECK_MS = 1000;

export class Fence {
  readonly #lease: LeaseCell;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;
  readonly #end: () => void;

  /** `end` must stop the thread (it may return only if it could not). */
  constructor(lease: LeaseCell, shared: SharedArrayBuffer, end: () => void) {
    this.#lease = lease;
    this.#ints = new Int32Array(shared);
    this.#floats = new Float64Array(shared);
    this.#end = end;
  }

  /** Returns when process code may run; blocks while the lease has lapsed; never returns once evicted. */
  pass(): void {
    if (Atomics.load(this.#ints, EVICTED) === 0 && this.#lease.deadline() > Date.now()) return;
    this.#block();
  }

  #block(): void {
    Atomics.store(this.#ints, LEASE_WAIT, 1);
    try {
      for (;;) {
        if (Atomics.load(this.#ints, EVICTED)) {
          this.#end();
          // Still here: park for good; the thread ends with the process.
          for (;;) Atomics.wait(this.#ints, EVICTED, 1);
        }
        const deadline = this.#lease.deadline();
        if (deadline > Date.now()) return;
        this.#floats[WAITED_UNDER] = deadline;
        this.#lease.wait(RECHECK_MS);
      }
    } finally {
      Atomics.store(this.#ints, LEASE_WAIT, 0);
    }
  }
}
