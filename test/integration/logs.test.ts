// `ferry logs` against real daemons: a process's lines from every node it ran on, in order, each
// once, and a follower started before a migration reads on across it without a gap or a repeat.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import process from "node:process";
import type { LogRecord } from "../../schemas/api.schema.ts";
import { repo, SECRET, TestCluster, until } from "../helpers/cluster.ts";
import { OwnedChild } from "../helpers/child.ts";

const ticksOf = (records: LogRecord[]) => records.filter((r) => r.stream === "out").map((r) => Number(/^tick (\d+)$/.exec(r.text)?.[1]));
const parse = (ndjson: string) => ndjson.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as LogRecord);

/** Every tick from 1 to the last, once each, in order. */
function assertConsecutive(ticks: number[], what: string): void {
  assert.ok(ticks.length > 0, `${what}: no ticks`);
  ticks.forEach((t, i) => assert.is(t, i + 1, `${what}: tick ${i + 1} is ${t} (${ticks.join(",")})`));
}

test("logs show a process's lines from alpha then beta, with its hand-off, each once; a follower reads across the migration", async () => {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Chatter"], processes: { chatter: "module: Chatter, node: alpha" } });
  try {
    await c.start("alpha");
    await c.start("beta");
    await c.waitRunningOn("chatter", "alpha");
    const follower = OwnedChild.spawn(process.execPath, [join(repo, "cli/bin.mjs"), "logs", "chatter", "-f", "--json", "--config", c.file], { cwd: c.dir });
    try {
      await until(() => ticksOf(parse(follower.stdout)).length >= 5, "the follower to show alpha's ticks", 20000);
      const moved = await c.cli(["migrate", "chatter", "beta"]);
      assert.is(moved.code, 0, moved.stderr);
      await until(() => parse(follower.stdout).filter((r) => r.node === "beta" && r.stream === "out").length >= 5, "the follower to show beta's ticks", 20000);
    } finally {
      await follower.stop("SIGINT");
    }
    const followed = parse(follower.stdout);
    assertConsecutive(ticksOf(followed), "followed");
    const keys = followed.map((r) => `${r.node}#${r.seq}`);
    assert.is(new Set(keys).size, keys.length, "a followed record was shown twice");

    const read = await c.cli(["logs", "chatter", "--json"]);
    assert.is(read.code, 0, read.stderr);
    const records = parse(read.stdout);
    assertConsecutive(ticksOf(records), "read");
    const out = records.filter((r) => r.stream === "out");
    const firstBeta = out.findIndex((r) => r.node === "beta");
    assert.ok(firstBeta > 0, "ticks from alpha come first, then beta's");
    assert.ok(out.slice(firstBeta).every((r) => r.node === "beta" && r.generation === 1), "after the move every tick is beta's, generation 1");
    assert.ok(out.slice(0, firstBeta).every((r) => r.node === "alpha" && r.generation === 0));
    const at = (node: string, pattern: RegExp) => records.findIndex((r) => r.node === node && r.stream === "event" && pattern.test(r.text));
    const suspended = at("alpha", /^suspended for a hand-off to beta/);
    const resumed = at("beta", /^resumed, from alpha/);
    assert.ok(suspended >= 0 && resumed > suspended, `lifecycle lines in order: ${records.filter((r) => r.stream === "event").map((r) => `${r.node} ${r.text}`).join(" / ")}`);
    assert.ok(records.indexOf(out[firstBeta - 1]!) < suspended + 2 && records.indexOf(out[firstBeta]!) > resumed, "alpha's last tick before the hand-off, beta's first after it");
    // The follower saw what the read shows, up to where it stopped.
    assert.equal(ticksOf(followed), ticksOf(records).slice(0, ticksOf(followed).length));

    const human = await c.cli(["logs", "chatter", "--lines", "3"]);
    const lines = human.stdout.trimEnd().split("\n");
    assert.is(lines.length, 3, human.stdout);
    for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z beta\s+chatter\[g1\] out\s+\| tick \d+$/);

    // A read-only command: it works while cluster.yaml has errors, with a warning.
    c.writeRaw(c.readConfig().replace("processes:", "processes: [oops"));
    const broken = await c.cli(["logs", "chatter", "--lines", "1", "--json"]);
    assert.is(broken.code, 0, broken.stderr);
    assert.match(broken.stderr, /has errors/);
    assert.is(parse(broken.stdout).length, 1);
  } finally {
    await c.close();
  }
});

test("a follow with nothing to send yet still answers at once: the follower knows it is connected", async () => {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Chatter"], processes: {} });
  try {
    await c.start("alpha");
    const stop = new AbortController();
    // Nothing was ever written for "quiet": the status line and headers must not wait for a record.
    const response = await fetch(`${c.url("alpha")}/v1/logs.follow`, {
      method: "POST",
      headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
      body: JSON.stringify({ process: "quiet" }),
      // Bounded, so a node that holds its answer back fails the test instead of hanging it.
      signal: AbortSignal.any([stop.signal, AbortSignal.timeout(15_000)]),
    });
    assert.is(response.status, 200);
    assert.is(response.headers.get("content-type"), "application/x-ndjson");
    stop.abort();
    await response.body?.cancel().catch(() => {});
  } finally {
    await c.close();
  }
});

test("logs of a process nobody knows fails with process_not_found", async () => {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Chatter"] });
  try {
    await c.start("alpha");
    const r = await c.cli(["logs", "ghost"]);
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, /No process "ghost"/);
  } finally {
    await c.close();
  }
});

test.run();
