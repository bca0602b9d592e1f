/**
 * A keyed work queue in the style of controller-runtime: names are enqueued (deduplicated), a
 * bounded number are reconciled at once, never two for the same name, and a reconcile that asks
 * to be requeued comes back after its delay (or at once). One that throws a retryable error comes
 * back with exponential backoff; a terminal result or a non-retryable error is reported and not
 * requeued (the next edit or resync brings the name back).
 *
 * @example
 * ```ts
 * const queue = new WorkQueue({ reconcile: async () => done() }, { concurrency: 32 });
 * queue.add("counter");
 * ```
 * @module
 */
import { isFerryError, isRetryable } from "../errors.ts";
import type { Reconciler, ReconcileResult } from "./reconciler.ts";

export interface WorkQueueOptions {
  /** Names reconciled at once. @default 32 */
  concurrency?: number;
  /** First retry delay after an error, doubled per consecutive error. @default 100 */
  baseBackoffMs?: number;
  /** @default 10000 */
  maxBackoffMs?: number;
  /** A reconcile threw, or ended terminal (then `terminal` is true). */
  onError?: (name: string, error: unknown, terminal: boolean) => void;
  /** A reconcile succeeded after errors: the reason shown for the name is over. */
  onRecovered?: (name: string) => void;
}

export class WorkQueue {
  readonly #reconciler: Reconciler;
  readonly #concurrency: number;
  readonly #base: number;
  readonly #max: number;
  readonly #onError: (name: string, error: unknown, terminal: boolean) => void;
  readonly #onRecovered: (name: string) => void;
  readonly #ready = new Set<string>();
  readonly #active = new Set<string>();
  /** Names added while being reconciled: run again right after. */
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #due = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  readonly #idle = new Set<() => void>();
  #closed = false;

  constructor(reconciler: Reconciler, options: WorkQueueOptions = {}) {
    this.#reconciler = reconciler;
    this.#concurrency = options.concurrency ?? 32;
    this.#base = options.baseBackoffMs ?? 100;
    this.#max = options.maxBackoffMs ?? 10000;
    this.#onError = options.onError ?? (() => {});
    this.#onRecovered = options.onRecovered ?? (() => {});
  }

  /** Enqueues `name` now, or after `delayMs` (of two pending delays, the sooner wins). */
  add(name: string, delayMs = 0): void {
    if (this.#closed) return;
    if (delayMs > 0) {
      const due = Date.now() + delayMs;
      const pending = this.#timers.get(name);
      if (pending && (this.#due.get(name) ?? Infinity) <= due) return;
      if (pending) clearTimeout(pending);
      this.#due.set(name, due);
      this.#timers.set(name, setTimeout(() => {
        this.#timers.delete(name);
        this.#due.delete(name);
        this.add(name);
      }, delayMs));
      return;
    }
    const timer = this.#timers.get(name);
    if (timer) {
      clearTimeout(timer);
      this.#timers.delete(name);
      this.#due.delete(name);
    }
    if (this.#active.has(name)) this.#dirty.add(name);
    else this.#ready.add(name);
    this.#pump();
  }

  /**
   * Enqueues `name` unless it already waits on a timer (a requeue or an error's backoff) or is
   * being reconciled (which ends in a requeue, a backoff or done of its own): what a periodic
   * resync uses, so that it never cuts a backoff short. A name marked again while it runs goes
   * again at once, backoff or not; a resync brings no news that would warrant that.
   */
  nudge(name: string): void {
    if (this.#timers.has(name) || this.#active.has(name)) return;
    this.add(name);
  }

  /** True when nothing is queued, running or waiting on a timer. */
  get idle(): boolean {
    return !this.#ready.size && !this.#active.size && !this.#timers.size;
  }

  /** Resolves once nothing is queued or running (timers may still be pending). */
  drained(): Promise<void> {
    if (!this.#ready.size && !this.#active.size) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#ready.clear();
  }

  #pump(): void {
    while (!this.#closed && this.#active.size < this.#concurrency && this.#ready.size) {
      const name = this.#ready.values().next().value as string;
      this.#ready.delete(name);
      this.#active.add(name);
      void this.#run(name);
    }
  }

  async #run(name: string): Promise<void> {
    /** -1: not requeued; 0: requeued at once; >0: after that many ms. */
    let delay = -1;
    try {
      const result: ReconcileResult = await this.#reconciler.reconcile(name);
      if (result.kind === "terminal") {
        this.#onError(name, result.error, true);
      } else {
        if (this.#failures.delete(name)) this.#onRecovered(name);
        if (result.kind === "requeue") delay = result.afterMs;
        if (result.kind === "requeue-now") delay = 0;
      }
    } catch (error) {
      // A bug (not a FerryError) is retried too: it may be a race that the next look avoids.
      const retry = isRetryable(error) || !isFerryError(error);
      if (retry) {
        const failures = (this.#failures.get(name) ?? 0) + 1;
        this.#failures.set(name, failures);
        delay = Math.min(this.#max, this.#base * 2 ** (failures - 1));
      }
      this.#onError(name, error, !retry);
    }
    this.#active.delete(name);
    if (this.#dirty.delete(name) || delay === 0) this.add(name);
    else if (delay > 0) this.add(name, delay);
    this.#pump();
    if (!this.#ready.size && !this.#active.size) {
      for (const fn of this.#idle) fn();
      this.#idle.clear();
    }
  }
}
