/**
 * What a process's `run(ctx)` receives. A plain class that imports nothing from Ferry works: it
 * only reads `ctx.signal` and calls `ctx.sleep()`.
 *
 * @example
 * ```ts
 * export default class Ticker {
 *   ticks = 0;
 *   constructor(_args: string[]) {}
 *   async run(ctx: ProcessContext) {
 *     while (!ctx.signal.aborted) { this.ticks++; await ctx.sleep(100); }
 *   }
 * }
 * ```
 * @module
 */

export interface ProcessContext {
  /** Aborted when Ferry asks the process to stop at a safe point (suspend or stop). */
  readonly signal: AbortSignal;
  /** The process's name in cluster.yaml. */
  readonly name: string;
  /** Hand-offs completed so far; +1 each time the process moves. */
  readonly generation: number;
  /** Resolves after `ms`, or at once when the signal aborts (it never rejects). */
  sleep(ms: number): Promise<void>;
}

/** The shape Ferry expects of a process instance; every member but `run` is optional. */
export interface ProcessInstance {
  run(ctx: ProcessContext): Promise<void> | void;
  suspend?(): Promise<void> | void;
  resume?(): Promise<void> | void;
  /**
   * Called once on an instance of a new module version restored with the fields of an older one,
   * before `resume()`; `fromVersion` is the older version's id (its content hash). Throwing keeps
   * the process on the old code.
   */
  upgrade?(fromVersion: string): Promise<void> | void;
  toString?(): string;
}

/**
 * An optional base class: keeps the original args for `toString()` and offers `log()`.
 *
 * @example
 * ```ts
 * export default class Hello extends FerryProcess {
 *   async run(ctx: ProcessContext) { this.log("hello", this.args[0]); }
 * }
 * ```
 */
export abstract class FerryProcess implements ProcessInstance {
  readonly args: string[];

  constructor(args: string[]) {
    this.args = args;
  }

  abstract run(ctx: ProcessContext): Promise<void>;

  /** Writes a line to the daemon's log, prefixed with the process name. */
  protected log(...parts: unknown[]): void {
    console.log(...parts);
  }

  toString(): string {
    return `${this.constructor.name}(${this.args.map((a) => JSON.stringify(a)).join(", ")})`;
  }
}
