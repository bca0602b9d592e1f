// Process modules written by the upgrade tests: one source per version, so an edit is a new version.

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
