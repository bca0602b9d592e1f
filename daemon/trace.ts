/**
 * Where a piece of work went inside a node: each room of the daemon (config, reconcile, handoff,
 * api, node, executor, store) marks the steps it takes for a process. Kept in a small ring in
 * memory; tests read it to pin a migration's path (each step once, no detour), and it is cheap
 * enough to stay on in production.
 *
 * @example
 * ```ts
 * trace.mark("handoff", "pull", "counter");
 * trace.of("counter").map((m) => `${m.room}:${m.step}`);
 * ```
 * @module
 */

export type Room = "config" | "reconcile" | "handoff" | "api" | "node" | "executor" | "store";

export interface Mark {
  room: Room;
  step: string;
  process: string;
  node: string;
  /** performance.now() of this process: orders marks of one node. */
  at: number;
}

export class Trace {
  readonly #node: string;
  readonly #limit: number;
  readonly #marks: Mark[] = [];

  constructor(node: string, limit = 4096) {
    this.#node = node;
    this.#limit = limit;
  }

  mark(room: Room, step: string, process: string): void {
    this.#marks.push({ room, step, process, node: this.#node, at: performance.now() });
    if (this.#marks.length > this.#limit) this.#marks.splice(0, this.#marks.length - this.#limit);
  }

  /** The marks of one process, oldest first. */
  of(process: string): Mark[] {
    return this.#marks.filter((m) => m.process === process);
  }

  clear(): void {
    this.#marks.length = 0;
  }
}
