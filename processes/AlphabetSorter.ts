/**
 * The classic IO process: reads lines of shuffled alphabets one character at a time and writes
 * each line sorted. Its state is the two file streams (path + offset), the characters of the
 * current line read so far and a line count, so it can be suspended between any two characters,
 * moved, and go on with the next one — the output ends up with every line exactly once.
 *
 * Args: `<input> <output> [delayMs=100]` (paths relative to the directory holding cluster.yaml);
 * it waits `delayMs` after each line it writes.
 *
 * @example
 * ```yaml
 * sorter:
 *   module: AlphabetSorter
 *   args: [data/input.txt, data/output.txt, "100"]
 *   node: beta
 * ```
 */
import { type ProcessContext, TransactionalFileReader, TransactionalFileWriter } from "ferry/sdk";

export default class AlphabetSorter {
  readonly args: string[];
  readonly input: TransactionalFileReader;
  readonly output: TransactionalFileWriter;
  readonly delayMs: number;
  /** The characters of the current line read so far. */
  line = "";
  linesWritten = 0;
  done = false;

  constructor(args: string[]) {
    const [input, output, delay = "100"] = args;
    const delayMs = Number(delay);
    if (!input || !output || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new Error(`Usage: AlphabetSorter <input> <output> [delayMs=100], got ${JSON.stringify(args)}`);
    }
    this.args = args;
    this.input = new TransactionalFileReader(input);
    this.output = new TransactionalFileWriter(output);
    this.delayMs = delayMs;
  }

  async run(ctx: ProcessContext): Promise<void> {
    // Every await below sits after a complete step (a character taken into `line`, or a line
    // written and `line` cleared), so whatever point a suspend lands on, the fields agree.
    while (!ctx.signal.aborted) {
      const char = this.input.readChar();
      if (char === null) return this._finish();
      if (char === "\n") {
        if (this._writeLine()) await ctx.sleep(this.delayMs);
        continue;
      }
      if (char !== "\r") this.line += char;
      // A safe point per character, so a suspend may come mid-line (the partial line migrates).
      await ctx.sleep(0);
    }
  }

  /** `ferry call sorter progress` */
  progress(_args: string[]): { linesWritten: number; partial: string; bytesRead: number; bytesWritten: number; done: boolean } {
    return { linesWritten: this.linesWritten, partial: this.line, bytesRead: this.input.offset, bytesWritten: this.output.offset, done: this.done };
  }

  toString(): string {
    return `AlphabetSorter(${this.args.join(", ")})`;
  }

  // Not `#private`: a restored instance is made from the prototype, without the constructor, so
  // it would lack the private brand. The `_` keeps these out of `ferry call`.

  /** Writes the current line sorted; false for a blank line, which is skipped. */
  _writeLine(): boolean {
    if (this.line === "") return false;
    this.output.writeLine([...this.line].sort().join(""));
    this.line = "";
    this.linesWritten++;
    return true;
  }

  _finish(): void {
    this._writeLine(); // a last line without a newline
    this.output.flush();
    // run() is called again after a suspend that raced the end of input: report it once.
    if (this.done) return;
    this.done = true;
    console.log("JOB COMPLETED");
  }
}
