import { test } from "uvu";
import * as assert from "uvu/assert";
import { defaultLogLimits, formatBytes, LogBucket } from "../../../daemon/executor/log-limit.ts";
import { moduleDir, poolPerTest, startReq, until } from "./harness.ts";

// Console rate limits: token buckets per process, applied inside the worker. The bucket is tested
// with an injected clock; the pool tests flood real workers.

const limits = { linesPerSecond: 10, lineBurst: 20, bytesPerSecond: 1000, byteBurst: 4000, maxLineBytes: 100 };

function clock(): { now(): number; advance(ms: number): void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test("admit() lets a burst of lines through, then the line rate, and report() counts the rest once", () => {
  const time = clock();
  const bucket = new LogBucket(limits, time.now);
  const admitted = Array.from({ length: 50 }, (_, i) => bucket.admit(() => `line ${i}`)).filter((t) => t !== undefined);
  assert.is(admitted.length, 20);
  assert.is(bucket.report(), "… 30 lines dropped (log rate limit 10 lines/s)");
  assert.is(bucket.report(), undefined, "the same drops were reported twice");
  time.advance(500); // 5 lines' worth of tokens
  const later = Array.from({ length: 10 }, () => bucket.admit(() => "x")).filter((t) => t !== undefined);
  assert.is(later.length, 5);
  assert.is(bucket.report(), "… 5 lines dropped (log rate limit 10 lines/s)");
});

test("admit() does not format a line it drops for the line rate", () => {
  const bucket = new LogBucket({ ...limits, lineBurst: 1 }, clock().now);
  let formatted = 0;
  bucket.admit(() => String(++formatted));
  bucket.admit(() => String(++formatted));
  assert.is(formatted, 1);
});

test("admit() drops lines past the byte budget and names the byte rate", () => {
  const bucket = new LogBucket({ ...limits, lineBurst: 1000 }, clock().now);
  const line = "y".repeat(99);
  const admitted = Array.from({ length: 60 }, () => bucket.admit(() => line)).filter((t) => t !== undefined);
  assert.is(admitted.length, 40); // 4000 bytes of burst, 99 bytes each
  assert.is(bucket.report(), "… 20 lines dropped (log rate limit 1000 B/s)");
  assert.is(new LogBucket(defaultLogLimits).admit(() => "ok"), "ok");
});

test("admit() truncates a long line at the byte limit with a marker, counting UTF-8 bytes", () => {
  const bucket = new LogBucket(limits, clock().now);
  const text = bucket.admit(() => "é".repeat(500))!;
  assert.is(text, `${"é".repeat(50)} … [line truncated at 100 B]`);
  assert.is(bucket.admit(() => "short"), "short");
});

test("formatBytes() writes sizes the way limits are written", () => {
  assert.is(formatBytes(256 * 1024), "256 KiB");
  assert.is(formatBytes(1024 * 1024), "1 MiB");
  assert.is(formatBytes(1500), "1500 B");
});

const modules = moduleDir({
  // Prints its whole flood in one synchronous stretch, then idles.
  "Flood.ts": `
export default class Flood {
  constructor(public args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    const [lines, size] = this.args.map(Number);
    const line = "z".repeat(size!);
    for (let i = 0; i < lines!; i++) console.log(line);
    while (!ctx.signal.aborted) await ctx.sleep(50);
  }
}`,
});
const openPool = poolPerTest(test, modules);

/** How many lines the drop reports of `name` account for. */
function droppedOf(logs: Array<{ name: string; text: string }>, name: string, limit: string): number {
  let sum = 0;
  for (const { text } of logs.filter((l) => l.name === name)) {
    const match = /^… (\d+) lines? dropped \(log rate limit (.+)\)$/.exec(text);
    if (match) {
      assert.is(match[2], limit);
      sum += Number(match[1]);
    }
  }
  return sum;
}

test("a console flood is cut to the line limit inside the worker, and every dropped line is accounted for", async () => {
  const made = openPool({ logLinesPerSecond: 50, logLineBurst: 100 });
  const pool = made.pool;
  await pool.start(startReq(modules.path("Flood"), "flood", { args: ["20000", "10"] }));
  const printed = () => made.seen.logs.filter((l) => l.name === "flood" && l.text === "z".repeat(10)).length;
  await until(() => printed() + droppedOf(made.seen.logs, "flood", "50 lines/s") === 20_000, "every line printed or reported dropped");
  // The burst plus whatever 50 lines/s refilled while the loop ran: far fewer than printed.
  assert.ok(printed() < 1000, `${printed()} lines got through a burst of 100`);
  assert.ok(printed() >= 100, `only ${printed()} lines got through a burst of 100`);
  const reports = made.seen.logs.filter((l) => l.text.startsWith("… "));
  assert.ok(reports.every((r) => r.stream === "err"));
});

test("a flood of long lines is cut to the byte limit, each line truncated with a marker", async () => {
  const made = openPool({ logBytesPerSecond: 1024, logByteBurst: 8192, logMaxLineBytes: 1024 });
  const pool = made.pool;
  await pool.start(startReq(modules.path("Flood"), "wide", { args: ["500", "100000"] }));
  const printed = () => made.seen.logs.filter((l) => l.name === "wide" && !l.text.startsWith("… ")).length;
  await until(() => printed() + droppedOf(made.seen.logs, "wide", "1 KiB/s") === 500, "every line printed or reported dropped");
  const lines = made.seen.logs.filter((l) => l.name === "wide" && !l.text.startsWith("… "));
  assert.ok(lines.length >= 8 && lines.length < 50, `${lines.length} lines of 1 KiB got through a burst of 8 KiB`);
  for (const { text } of lines) assert.is(text, `${"z".repeat(1024)} … [line truncated at 1 KiB]`);
});

test.run();
