// Process modules written by the upgrade tests: one source per version, so an edit is a new version.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repo } from "./cluster.ts";

/** A counter whose `get` answers `<tag>:<count>`; `extra` is spliced into the class body. */
export function counterSource(tag: string, extra = ""): string {
  return `export default class Ticker {
  count = 0;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) { this.count++; await ctx.sleep(20); }
  }
  get() { return "${tag}:" + this.count; }
  ${extra}
}
`;
}

/** Writes `<tag> <n>` lines until `finish()` is called; `extra` is spliced into the class body. */
export function linesSource(tag: string, extra = ""): string {
  const io = pathToFileURL(join(repo, "daemon/io/mod.ts")).href;
  return `import { TransactionalFileWriter } from ${JSON.stringify(io)};
export default class Lines {
  out = new TransactionalFileWriter("data/lines.txt");
  n = 0;
  limit = Infinity;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted && this.n < this.limit) { this.n++; this.out.writeLine("${tag} " + this.n); await ctx.sleep(5); }
  }
  get() { return "${tag}:" + this.n; }
  finish() { this.limit = this.n + 5; return this.limit; }
  ${extra}
}
`;
}

/**
 * Checks the output of {@link linesSource}: lines numbered 1.. without gap or repeat, the old
 * code's tag then the new one's, switching once; returns the problem, or undefined.
 */
export function linesProblem(text: string, oldTag: string, newTag: string): string | undefined {
  const lines = text.trimEnd().split("\n");
  for (const [i, line] of lines.entries()) {
    if (line !== `${oldTag} ${i + 1}` && line !== `${newTag} ${i + 1}`) return `line ${i + 1} is "${line}"`;
  }
  const switches = lines.filter((l, i) => i > 0 && l[0] !== lines[i - 1]![0]).length;
  if (lines[0]?.[0] !== oldTag || switches !== 1) return `expected "${oldTag}" lines then "${newTag}" lines, got ${switches} switches`;
  return undefined;
}
