/**
 * The node's lifecycle events: a bounded in-memory history plus live subscribers, served by
 * `GET /v1/events` and merged across nodes by `ferry events`.
 *
 * @example
 * ```ts
 * const events = new EventLog("alpha");
 * events.emit({ type: "started", process: "counter", generation: 0 });
 * for await (const e of events.follow(signal)) console.log(e.type);
 * ```
 * @module
 */
import type { FerryEvent } from "../schemas/api.schema.ts";

export type EventInput = Omit<FerryEvent, "seq" | "time" | "node">;

export class EventLog {
  readonly #node: string;
  readonly #history: FerryEvent[] = [];
  readonly #limit: number;
  readonly #subscribers = new Set<(e: FerryEvent) => void>();
  #seq = 0;

  constructor(node: string, limit = 2000) {
    this.#node = node;
    this.#limit = limit;
  }

  emit(input: EventInput): FerryEvent {
    const event = { seq: ++this.#seq, time: new Date().toISOString(), node: this.#node, ...input } as FerryEvent;
    this.#history.push(event);
    if (this.#history.length > this.#limit) this.#history.splice(0, this.#history.length - this.#limit);
    for (const fn of this.#subscribers) fn(event);
    return event;
  }

  /**
   * Calls `fn` with every event from now on, synchronously as it is emitted (a throwing `fn` is
   * its own problem: it is caught and ignored). Returns the unsubscribe function.
   *
   * @example
   * ```ts
   * const past = events.recent();
   * const stop = events.subscribe((e) => count(e));
   * ```
   */
  subscribe(fn: (event: FerryEvent) => void): () => void {
    const safe = (event: FerryEvent) => {
      try {
        fn(event);
      } catch {
        // An observer (metrics, logs) must not break the emitter.
      }
    };
    this.#subscribers.add(safe);
    return () => this.#subscribers.delete(safe);
  }

  /** Events still in memory, oldest first. */
  recent(): FerryEvent[] {
    return [...this.#history];
  }

  /** The history, then every new event until `signal` aborts. */
  async *follow(signal: AbortSignal): AsyncGenerator<FerryEvent> {
    const queue: FerryEvent[] = [...this.#history];
    let wake: (() => void) | undefined;
    const push = (e: FerryEvent) => {
      queue.push(e);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.#subscribers.add(push);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        while (queue.length && !signal.aborted) yield queue.shift()!;
        if (signal.aborted) break;
        // Aborting while the consumer held an event finds no waker; the check above covers it.
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#subscribers.delete(push);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
