/**
 * Background work under one owner, in the manner of controller-runtime's manager: every loop
 * of a daemon is a {@link Runnable} started with one AbortSignal and stopped with it, and every
 * piece of fire-and-forget work is spawned into a {@link TaskGroup} that reports its failure
 * instead of leaving an unhandled rejection. Stopping aborts the signal and waits for all of it.
 *
 * @example
 * ```ts
 * const manager = new Manager((source, error) => log.error(source, error));
 * manager.add(every("checkpoints", 5000, () => node.checkpointAll()));
 * manager.start();
 * await manager.stop();
 * ```
 * @module
 */
import { describeError } from "./errors.ts";

/** A loop run by the manager until its signal aborts. Its promise settles when it has stopped. */
export interface Runnable {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
}

/** Where failures of background work go (a log line and an event, in the daemon). */
export type FailureReporter = (source: string, error: unknown) => void;

/**
 * Fire-and-forget work that is still accounted for: failures are reported, and `drain()` waits
 * for whatever is still running (so shutdown does not race it).
 *
 * @example
 * ```ts
 * tasks.spawn("discard counter", pool.discard("counter", "handed over"));
 * await tasks.drain();
 * ```
 */
export class TaskGroup {
  readonly #running = new Set<Promise<unknown>>();
  readonly #report: FailureReporter;

  constructor(report: FailureReporter) {
    this.#report = report;
  }

  /** Tracks `work`; a rejection is reported under `name`, never thrown. */
  spawn(name: string, work: Promise<unknown> | (() => Promise<unknown>)): void {
    let promise: Promise<unknown>;
    try {
      promise = typeof work === "function" ? work() : work;
    } catch (error) {
      this.#report(name, error);
      return;
    }
    const tracked = promise.then(() => undefined, (error: unknown) => this.#report(name, error));
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
  }

  /** How many tasks are still running. */
  get size(): number {
    return this.#running.size;
  }

  /** Resolves once every task spawned so far (and any they spawn meanwhile) has settled. */
  async drain(): Promise<void> {
    while (this.#running.size) await Promise.all([...this.#running]);
  }
}

/**
 * A runnable that calls `tick` every `intervalMs` (never two at once; the next one is timed
 * from the end of the last), reporting a failed tick and carrying on.
 *
 * @example
 * ```ts
 * manager.add(every("resync", 2000, () => node.enqueueAll()));
 * ```
 */
export function every(name: string, intervalMs: number | (() => number), tick: () => unknown, report?: FailureReporter): Runnable {
  return {
    name,
    async start(signal) {
      while (!signal.aborted) {
        await delay(typeof intervalMs === "function" ? intervalMs() : intervalMs, signal);
        if (signal.aborted) break;
        try {
          await tick();
        } catch (error) {
          report?.(name, error);
          if (!report) throw error;
        }
      }
    },
  };
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts (never rejects).
 *
 * @example
 * ```ts
 * await delay(100, signal);
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Starts runnables together and stops them together. A runnable that fails (its promise
 * rejects before the stop) is reported; the others keep running.
 */
export class Manager {
  readonly #runnables: Runnable[] = [];
  readonly #running: Promise<void>[] = [];
  readonly #controller = new AbortController();
  readonly #report: FailureReporter;
  readonly tasks: TaskGroup;
  #started = false;
  #stopping?: Promise<void>;

  constructor(report: FailureReporter) {
    this.#report = report;
    this.tasks = new TaskGroup(report);
  }

  /** Aborted when the manager stops; long-lived components take it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Adds a runnable; one added after `start()` starts at once. */
  add(runnable: Runnable): void {
    this.#runnables.push(runnable);
    if (this.#started) this.#launch(runnable);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const r of this.#runnables) this.#launch(r);
  }

  #launch(runnable: Runnable): void {
    const signal = this.#controller.signal;
    this.#running.push(
      Promise.resolve()
        // A stop() right after start() aborts before this runs: such a runnable never starts.
        .then(() => (signal.aborted ? undefined : runnable.start(signal)))
        .then(
          () => {
            if (!signal.aborted) this.#report(runnable.name, new Error(`${runnable.name} stopped by itself`));
          },
          (error: unknown) => this.#report(runnable.name, error),
        ),
    );
  }

  /** Aborts every runnable and waits for them and for spawned tasks. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#controller.abort();
      await Promise.all(this.#running);
      await this.tasks.drain();
    })();
    return this.#stopping;
  }
}

/** A one-line description of a background failure, for logs. */
export function describeFailure(source: string, error: unknown): string {
  return `${source}: ${describeError(error)}`;
}
