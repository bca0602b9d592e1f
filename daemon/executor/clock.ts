/**
 * A clock the daemon's thread and its executors read alike, so an executor can say when something
 * happened to a process (run() told to stop, run() started again) rather than the daemon taking
 * the moment its answer arrived: the thread wake-ups on either side of a request are not time the
 * process spent stopped.
 *
 * @example
 * ```ts
 * // in an executor
 * const stoppedAt = sharedClockMs();
 * // in the daemon, around the request that brought `stoppedAt` back
 * const at = onThisThread(stoppedAt, sentAt, performance.now());
 * ```
 * @module
 */

/**
 * Milliseconds since the epoch at sub-millisecond resolution. `performance.timeOrigin` is taken
 * per thread but on one wall clock, so stamps of different threads of one process compare (Node
 * and Deno alike; `process.hrtime` does not on Deno, where each worker has its own origin).
 *
 * @example
 * ```ts
 * const at = sharedClockMs();
 * ```
 */
export function sharedClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * `stamp` (a {@link sharedClockMs} of another thread) on this thread's `performance.now()` scale,
 * held within `[from, to]`: the request that brought it back was sent at `from` and answered at
 * `to`, so whatever the clocks' disagreement, the moment lies between. No stamp (a peer executor
 * of an earlier version): `fallback`.
 *
 * @example
 * ```ts
 * const sentAt = performance.now();
 * const { runAt } = await pool.request({ type: "activate", name, generation, run: true });
 * const startedAt = onThisThread(runAt, sentAt, performance.now());
 * ```
 */
export function onThisThread(stamp: number | undefined, from: number, to: number, fallback = to): number {
  if (stamp === undefined || !Number.isFinite(stamp)) return fallback;
  return Math.min(to, Math.max(from, stamp - performance.timeOrigin));
}
