import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogRecord } from "../../../schemas/api.schema.ts";
import { ProcessLogs } from "../../../daemon/logs/process-logs.ts";

const limits = () => ({ maxFileBytes: 1 << 20, files: 3 });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ferry-plogs-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("read() sees buffered and flushed records of one process, in order, with increasing seq", () =>
  withDir(async (dir) => {
    const logs = await ProcessLogs.open({ node: "alpha", dir, limits });
    logs.write("counter", 0, "out", "one");
    logs.write("other", 0, "out", "not counter's");
    await logs.flush();
    logs.write("counter", 1, "event", "resumed");
    const { records, seq } = await logs.read({ process: "counter" });
    assert.equal(records.map((r) => [r.text, r.generation, r.stream, r.node]), [["one", 0, "out", "alpha"], ["resumed", 1, "event", "alpha"]]);
    assert.ok(records[0]!.seq < records[1]!.seq);
    assert.is(seq, logs.seq);
    assert.is(readFileSync(join(dir, "counter.log"), "utf8").trim().split("\n").length, 1, "only the flushed record is on disk");
    assert.equal((await logs.read({ process: "counter", after: records[0]!.seq })).records.map((r) => r.text), ["resumed"]);
    assert.equal((await logs.read({ process: "counter", lines: 1 })).records.map((r) => r.text), ["resumed"]);
    await logs.close();
  }));

test("sequence numbers continue above the last one on disk after a reopen", () =>
  withDir(async (dir) => {
    const clock = () => 1_000; // a clock stepped far back: the disk is what keeps seq increasing
    const first = await ProcessLogs.open({ node: "alpha", dir, limits, now: () => Date.now() });
    const before = first.write("counter", 0, "out", "before")!;
    await first.close();
    const second = await ProcessLogs.open({ node: "alpha", dir, limits, now: clock });
    const after = second.write("counter", 0, "out", "after")!;
    assert.ok(after.seq > before.seq, `${after.seq} > ${before.seq}`);
    assert.equal((await second.read({ process: "counter" })).records.map((r) => r.text), ["before", "after"]);
    await second.close();
  }));

test("follow() yields the selected records, then new ones, each once, none missed while it read", () =>
  withDir(async (dir) => {
    const logs = await ProcessLogs.open({ node: "alpha", dir, limits });
    for (let i = 1; i <= 5; i++) logs.write("counter", 0, "out", `tick ${i}`);
    await logs.flush();
    const stop = new AbortController();
    const seen: LogRecord[] = [];
    const reading = (async () => {
      for await (const record of logs.follow({ process: "counter", lines: 2 }, stop.signal)) {
        seen.push(record);
        if (record.text === "tick 5") for (let i = 6; i <= 8; i++) logs.write("counter", 0, "out", `tick ${i}`);
        if (record.text === "tick 8") stop.abort();
      }
    })();
    // Written while the follower reads the files: delivered once, after the backlog.
    logs.write("other", 0, "out", "not followed");
    await reading;
    assert.equal(seen.map((r) => r.text), ["tick 4", "tick 5", "tick 6", "tick 7", "tick 8"]);
    await logs.close();
  }));

test("the runnable appends buffered records without being asked", () =>
  withDir(async (dir) => {
    const logs = await ProcessLogs.open({ node: "alpha", dir, limits, flushMs: 10 });
    const stop = new AbortController();
    const running = logs.start(stop.signal);
    logs.write("counter", 0, "out", "soon on disk");
    const deadline = Date.now() + 10_000;
    let text = "";
    while (!text.includes("soon on disk") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        text = readFileSync(join(dir, "counter.log"), "utf8");
      } catch {
        // not written yet
      }
    }
    assert.match(text, /"text":"soon on disk"/);
    stop.abort();
    await running;
    await logs.close();
  }));

test.run();
