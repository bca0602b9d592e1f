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
  /** A ring: once full, the oldest mark is overwritten (a thousand hand-offs mark a lot). */
  readonly #marks: Mark[] = [];
  #next = 0;

  constructor(node: string, limit = 4096) {
    this.#node = node;
    this.#limit = limit;
  }

  mark(room: Room, step: string, process: string): void {
    const mark = { room, step, process, node: this.#node, at: performance.now() };
    if (this.#marks.length < this.#limit) this.#marks.push(mark);
    else this.#marks[this.#next] = mark;
    this.#next = (this.#next + 1) % this.#limit;
  }

  /** The marks of one process, oldest first. */
  of(process: string): Mark[] {
    const full = this.#marks.length === this.#limit;
    const ordered = full ? [...this.#marks.slice(this.#next), ...this.#marks.slice(0, this.#next)] : this.#marks;
    return ordered.filter((m) => m.process === process);
  }

  clear(): void {
    this.#marks.length = 0;
    this.#next = 0;
  }
}
