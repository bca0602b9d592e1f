/**
 * `ferry/sdk`: what a process module may import. Importing it is optional — Ferry runs any
 * default-exported class with a `run(ctx)` method — but it gives the context's type, the optional
 * base class and the transactional file streams.
 *
 * @example
 * ```ts
 * import { FerryProcess, type ProcessContext, TransactionalFileWriter } from "ferry/sdk";
 *
 * export default class Ticker extends FerryProcess {
 *   ticks = 0;
 *   out = new TransactionalFileWriter("data/ticks.txt");
 *   async run(ctx: ProcessContext) {
 *     while (!ctx.signal.aborted) { this.out.writeLine(String(++this.ticks)); await ctx.sleep(100); }
 *   }
 * }
 * ```
 * @module
 */
export type { ProcessContext, ProcessInstance } from "./context.ts";
export { FerryProcess } from "./context.ts";
export { TransactionalFileReader, TransactionalFileWriter } from "../io/mod.ts";
export type { StreamState } from "../io/mod.ts";
