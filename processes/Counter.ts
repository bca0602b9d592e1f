/**
 * The classic non-IO process: counts every 100 ms. A plain class: it imports only a type from
 * Ferry, which vanishes at run time; its one field, `count`, is all the state that migrates.
 */
import type { ProcessContext } from "ferry/sdk";

export default class Counter {
  count = 0;
  readonly args: string[];

  constructor(args: string[]) {
    this.args = args;
  }

  async run(ctx: ProcessContext): Promise<void> {
    console.log(`run() begin, count = ${this.count + 1}`);
    while (!ctx.signal.aborted) {
      this.count++;
      await ctx.sleep(100);
    }
  }

  suspend(): void {
    console.log(`suspend(), count = ${this.count}`);
  }

  /** `ferry call counter get` */
  get(_args: string[]): number {
    return this.count;
  }

  /** `ferry call counter reset [n]` */
  reset(args: string[]): number {
    this.count = Number(args[0] ?? 0);
    return this.count;
  }

  toString(): string {
    return `Counter(${this.args.join(", ")})`;
  }
}
