import { test } from "uvu";
import * as assert from "uvu/assert";
import type { LogRecord } from "../../schemas/api.schema.ts";
import { formatRecord, mergeRecords, parseSince } from "../../cli/log-records.ts";
import { selectRecords } from "../../daemon/logs/query.ts";
import { isFerryError } from "../../daemon/errors.ts";

const rec = (node: string, seq: number, ts: string, text: string): LogRecord => ({ seq, ts: `2026-11-27T03:${ts}Z`, node, process: "counter", generation: node === "alpha" ? 0 : 1, stream: "out", text });

test("parseSince() takes durations before now and ISO times; refuses anything else", () => {
  const now = Date.parse("2026-11-27T03:10:00.000Z");
  assert.is(parseSince("10m", now), "2026-11-27T03:00:00.000Z");
  assert.is(parseSince("2h", now), "2026-11-27T01:10:00.000Z");
  assert.is(parseSince("30s", now), "2026-11-27T03:09:30.000Z");
  assert.is(parseSince("1.5d", now), "2026-11-25T15:10:00.000Z");
  assert.is(parseSince("2026-11-27T02:00:00Z", now), "2026-11-27T02:00:00.000Z");
  for (const bad of ["yesterday", "10", "10 minutes", "-5m"]) {
    try {
      parseSince(bad, now);
      assert.unreachable(`"${bad}" was accepted`);
    } catch (error) {
      assert.ok(isFerryError(error) && error.code === "bad_request", String(error));
      assert.match((error as Error).message, `Invalid --since "${bad}"`);
    }
  }
});

test("mergeRecords() orders by time, then node order, then seq, drops repeats, keeps the last N", () => {
  const alpha = [rec("alpha", 1, "00:00.100", "a1"), rec("alpha", 2, "00:00.300", "a2"), rec("alpha", 3, "00:00.500", "same ms")];
  const beta = [rec("beta", 7, "00:00.200", "b1"), rec("beta", 8, "00:00.500", "same ms, beta"), rec("beta", 9, "00:00.600", "b3")];
  const merged = mergeRecords([beta, alpha, [alpha[1]!]], ["alpha", "beta"]);
  assert.equal(merged.map((r) => r.text), ["a1", "b1", "a2", "same ms", "same ms, beta", "b3"]);
  assert.equal(mergeRecords([alpha, beta], ["alpha", "beta"], { lines: 2 }).map((r) => r.text), ["same ms, beta", "b3"]);
  assert.equal(mergeRecords([alpha, beta], ["beta", "alpha"]).map((r) => r.text).slice(3, 5), ["same ms, beta", "same ms"], "node order breaks ties");
});

test("selectRecords() applies after and sinceTs before lines", () => {
  const records = [rec("alpha", 1, "00:00.000", "old"), rec("alpha", 2, "05:00.000", "mid"), rec("alpha", 3, "06:00.000", "new"), rec("alpha", 4, "07:00.000", "newest")];
  assert.equal(selectRecords(records, { sinceTs: "2026-11-27T03:05:00.000Z" }).map((r) => r.text), ["mid", "new", "newest"]);
  assert.equal(selectRecords(records, { sinceTs: "2026-11-27T03:05:00.000Z", lines: 2 }).map((r) => r.text), ["new", "newest"]);
  assert.equal(selectRecords(records, { after: 3, lines: 5 }).map((r) => r.text), ["newest"]);
  assert.equal(selectRecords(records, { lines: 10 }).length, 4);
});

test("formatRecord() prints time, node, process with generation, stream and text", () => {
  assert.is(formatRecord(rec("beta", 1, "12:00.123", "tick 4"), 5), "2026-11-27T03:12:00.123Z beta  counter[g1] out   | tick 4");
});

test.run();
