/**
 * Transactional file streams: a reader and a writer a process keeps as fields. They migrate as a
 * path and a byte offset, so after a hand-off, a rollback or a restart from a checkpoint reading
 * and writing continue at the same offsets and output is neither lost nor duplicated.
 *
 * Importing this module registers both classes with the snapshot codec; the executor imports it
 * before decoding any snapshot.
 *
 * @example
 * ```ts
 * import { TransactionalFileReader, TransactionalFileWriter } from "ferry/sdk";
 *
 * export default class Copy {
 *   input = new TransactionalFileReader("data/in.txt");
 *   output = new TransactionalFileWriter("data/out.txt");
 *   async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
 *     // Check the signal before reading, so a line read is always a line written.
 *     while (!ctx.signal.aborted) {
 *       const line = this.input.readLine();
 *       if (line === null) return;
 *       this.output.writeLine(line);
 *       await ctx.sleep(10);
 *     }
 *   }
 * }
 * ```
 * @module
 */
export { READER_TAG, TransactionalFileReader } from "./reader.ts";
export type { StreamState } from "./reader.ts";
export { TransactionalFileWriter, WRITER_TAG } from "./writer.ts";
