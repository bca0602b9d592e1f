/**
 * A keyed work queue in the style of controller-runtime: names are enqueued (deduplicated), a
 * bounded number are reconciled at once, never two for the same name, and a reconcile that asks
 * to be requeued or throws comes back after a delay (exponential backoff for errors).
 *
 * @example
 * ```ts
 * const queue = new WorkQueue(async (name) => ({ done: true }), { concurrency: 32 });
 * queue.add("counter");
 * ```
 * @module
 */

export type ReconcileResult = { done: true } | { requeueAfterMs: number };

export interface WorkQueueOptions {
  /** Names reconciled at once. @default 32 */
  concurrency?: number;
  /** First retry delay after an error, doubled per consecutive error. @default 100 */
  baseBackoffMs?: number;
  /** @default 10000 */
  maxBackoffMs?: number;
  onError?: (name: string, error: unknown) => void;
}

export class WorkQueue {
  readonly #reconcile: (name: string) => Promise<ReconcileResult>;
  readonly #concurrency: number;
  readonly #base: number;
  readonly #max: number;
  readonly #onError: (name: string, error: unknown) => void;
  readonly #ready = new Set<string>();
  readonly #active = new Set<string>();
  /** Names added while being reconciled: run again right after. */
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #due = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  readonly #idle = new Set<() => void>();
  #closed = false;

  constructor(reconcile: (name: string) => Promise<ReconcileResult>, options: WorkQueueOptions = {}) {
    this.#reconcile = reconcile;
    this.#concurrency = options.concurrency ?? 32;
    this.#base = options.baseBackoffMs ?? 100;
    this.#max = options.maxBackoffMs ?? 10000;
    this.#onError = options.onError ?? (() => {});
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
    let delay = 0;
    try {
      const result = await this.#reconcile(name);
      this.#failures.delete(name);
      if ("requeueAfterMs" in result) delay = result.requeueAfterMs;
    } catch (error) {
      const failures = (this.#failures.get(name) ?? 0) + 1;
      this.#failures.set(name, failures);
      delay = Math.min(this.#max, this.#base * 2 ** (failures - 1));
      this.#onError(name, error);
    }
    this.#active.delete(name);
    if (this.#dirty.delete(name)) this.add(name);
    else if (delay > 0) this.add(name, delay);
    this.#pump();
    if (!this.#ready.size && !this.#active.size) {
      for (const fn of this.#idle) fn();
      this.#idle.clear();
    }
  }
}
