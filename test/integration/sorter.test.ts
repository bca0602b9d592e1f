// The AlphabetSorter demo on real daemons: whatever happens to it mid-run (migrations, kill -9, a
// hand-off that rolls back), its output file ends up with every input line sorted, in order, once.
//
// The sorter is copied from processes/ into the cluster's temp folder with its import of
// "../daemon/io/mod.ts" rewritten to the repository's module by file URL: the copy then runs the
// demo's exact code, and shares the stream classes (and their snapshot tags) with the executor,
// which imports the same file.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import process from "node:process";
import { TestCluster, repo, shuffledAlphabet, until } from "../helpers/cluster.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import { decodeState } from "../../daemon/snapshot/mod.ts";
// A value import: it registers the stream classes, so checkpoints decode here too.
import { TransactionalFileWriter } from "../../daemon/io/mod.ts";

const NODES = ["alpha", "beta", "gamma"];
const HANDOFF_TIMEOUT_MS = 2500;

let c: TestCluster;
/** The processes section of cluster.yaml, rewritten whole on every edit. */
const placed: Record<string, string> = {};

/** Writes `lines` shuffled alphabets to data/<name>.in and declares sorter `name` on `node`. */
function addSorter(name: string, node: string, lines: number, delayMs: number): void {
  writeFileSync(join(c.dir, `data/${name}.in`), Array.from({ length: lines }, shuffledAlphabet).join("\n") + "\n");
  placed[name] = `module: AlphabetSorter, node: NODE, args: ["data/${name}.in", "data/${name}.out", "${delayMs}"]`;
  place(name, node);
}

function place(name: string, node: string): void {
  placed[name] = placed[name]!.replace(/node: \w+/, `node: ${node}`);
  c.writeConfig(placed);
}

function outputLines(name: string): string[] {
  const file = join(c.dir, `data/${name}.out`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
}

async function entries(name: string): Promise<ProcessInfo[]> {
  return (await c.ps()).filter((p) => p.name === name);
}

async function waitLines(name: string, atLeast: number, timeoutMs = 15000): Promise<number> {
  return until(() => {
    const n = outputLines(name).length;
    return n >= atLeast ? n : 0;
  }, `${atLeast} lines from ${name}`, timeoutMs);
}

/** Waits until `name` ran to completion, held by exactly one node; returns that entry. */
async function waitCompleted(name: string, timeoutMs = 20000): Promise<ProcessInfo> {
  return until(async () => {
    const held = await entries(name);
    const failed = held.find((p) => p.state === "failed");
    if (failed) throw new Error(`${name} failed on ${failed.node}: ${failed.error}`);
    return held.length === 1 && held[0]!.state === "completed" ? held[0] : undefined;
  }, `${name} completed`, timeoutMs);
}

/** The output is exactly the input's lines, each sorted, in order; the job finished once. */
function assertSortedOutput(name: string): void {
  const input = readFileSync(join(c.dir, `data/${name}.in`), "utf8").split("\n").filter((l) => l !== "");
  const expected = input.map((l) => [...l].sort().join(""));
  const actual = outputLines(name);
  assert.is(readFileSync(join(c.dir, `data/${name}.out`), "utf8"), expected.join("\n") + "\n", `${name}: ${actual.length} lines, expected ${expected.length}`);
  const completions = Object.values(c.logs).join("").split(`[${name}] JOB COMPLETED`).length - 1;
  assert.is(completions, 1, `${name} logged JOB COMPLETED ${completions} times`);
}

/** The writer offset of `name`'s latest checkpoint in `node`'s journal (inline checkpoints only). */
function checkpointedOffset(node: string, name: string): number | undefined {
  const file = join(c.dir, ".ferry", node, "journal.ndjson");
  if (!existsSync(file)) return undefined;
  let data: string | undefined;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    try {
      const record = JSON.parse(line) as { op?: string; name?: string; data?: string };
      if (record.op === "checkpoint" && record.name === name) data = record.data;
    } catch {
      // a torn last line
    }
  }
  if (!data) return undefined;
  // Decoded as the daemon would: the streams' relative paths resolve against cluster.yaml's folder.
  process.env.FERRY_CONFIG_DIR = c.dir;
  const { output } = decodeState(new Uint8Array(Buffer.from(data, "base64"))).fields as { output: unknown };
  return output instanceof TransactionalFileWriter ? output.offset : undefined;
}

function journalHas(node: string, op: string, name: string): boolean {
  const file = join(c.dir, ".ferry", node, "journal.ndjson");
  if (!existsSync(file)) return false;
  return readFileSync(file, "utf8").split("\n").some((line) => {
    try {
      const record = JSON.parse(line) as { op?: string; name?: string };
      return record.op === op && record.name === name;
    } catch {
      return false;
    }
  });
}

const sorter = suite("AlphabetSorter on real daemons");

sorter.before(async () => {
  c = await TestCluster.create({
    nodes: NODES,
    modules: [],
    settings: { checkpointIntervalMs: 200, handoffTimeoutMs: HANDOFF_TIMEOUT_MS },
  });
  // Copied as it is, into a folder outside the install: its streams come from "ferry/sdk".
  const source = readFileSync(join(repo, "processes/AlphabetSorter.ts"), "utf8");
  assert.ok(source.includes('from "ferry/sdk"'), "AlphabetSorter no longer imports ferry/sdk");
  writeFileSync(join(c.dir, "processes/AlphabetSorter.ts"), source);
  mkdirSync(join(c.dir, "data"));
  await Promise.all(NODES.map((n) => c.start(n)));
});
sorter.after(async () => c.close());
// A failed test may leave a node down, which would stall the next ones (no fresh start while a
// peer is unreachable); bring it back so each test fails on its own.
sorter.after.each(async () => {
  for (const node of NODES) if (!c.children.has(node)) await c.start(node);
});

sorter("six migrations during one run: every line sorted exactly once", async () => {
  addSorter("sa", "alpha", 40, 50);
  await c.waitRunningOn("sa", "alpha");
  let lines = await waitLines("sa", 1);
  const route = ["beta", "gamma", "alpha", "beta", "gamma", "alpha"];
  for (const [i, node] of route.entries()) {
    place("sa", node);
    const p = await c.waitRunningOn("sa", node);
    assert.is(p.generation, i + 1);
    // Some work on each node before the next move, so the moves land at different points.
    lines = await waitLines("sa", lines + 1);
  }
  assert.ok(lines < 40, `the run ended before the last migration (${lines} lines)`);
  const done = await waitCompleted("sa");
  assert.is(done.migrations, route.length);
  assertSortedOutput("sa");
});

sorter("kill -9 of its daemon mid-run, then a restart: every line sorted exactly once", async () => {
  addSorter("sb", "beta", 30, 40);
  await c.waitRunningOn("sb", "beta");
  await waitLines("sb", 5);
  // Kill when the file has run ahead of the latest checkpoint, so the restart must cut that tail.
  const output = join(c.dir, "data/sb.out");
  const ahead = await until(() => {
    const offset = checkpointedOffset("beta", "sb");
    const size = statSync(output).size;
    return offset !== undefined && size > offset ? size - offset : 0;
  }, "output ahead of the checkpoint", 5000, 5);
  await c.stop("beta", "SIGKILL");
  const atKill = outputLines("sb").length;
  assert.ok(atKill < 30, "the run ended before the kill");
  await c.start("beta");
  const done = await waitCompleted("sb");
  assert.is(done.node, "beta");
  assertSortedOutput("sb");
  assert.ok(ahead > 0);
});

sorter("two sorters on one node, one migrated: both outputs complete and separate", async () => {
  addSorter("sc1", "alpha", 25, 40);
  addSorter("sc2", "alpha", 25, 40);
  await c.waitRunningOn("sc1", "alpha");
  await c.waitRunningOn("sc2", "alpha");
  await waitLines("sc1", 3);
  place("sc1", "gamma");
  await c.waitRunningOn("sc1", "gamma");
  assert.ok(outputLines("sc1").length < 25, "sc1 ended before it moved");
  const [one, two] = await Promise.all([waitCompleted("sc1"), waitCompleted("sc2")]);
  assert.equal([one.node, one.generation], ["gamma", 1]);
  assert.equal([two.node, two.generation], ["alpha", 0]);
  assertSortedOutput("sc1");
  assertSortedOutput("sc2");
});

sorter("a hand-off rolled back mid-run (destination killed after prepare): every line sorted exactly once", async () => {
  await c.stop("gamma");
  await c.start("gamma", { FERRY_FAULTS: JSON.stringify({ delayBeforeCommitMs: HANDOFF_TIMEOUT_MS + 2000 }) });
  addSorter("sd", "alpha", 30, 50);
  await c.waitRunningOn("sd", "alpha");
  await waitLines("sd", 3);
  place("sd", "gamma");
  await until(() => journalHas("gamma", "prepared", "sd"), "sd prepared on gamma", 10000, 5);
  await c.stop("gamma", "SIGKILL");
  const rolledBack = await until(async () => (await entries("sd")).find((p) => p.node === "alpha" && p.error?.includes("rolled back")), "the rollback on alpha");
  assert.match(rolledBack.error ?? "", /no commit/);
  assert.ok(outputLines("sd").length < 30, "sd ended before the rollback");
  // The retry after the destination is back may move it (or find it done): either way, once.
  await c.start("gamma");
  const done = await waitCompleted("sd");
  assert.is(done.state, "completed");
  assertSortedOutput("sd");
});

sorter("a missing input file fails the process with the path in ps; the daemon keeps serving", async () => {
  placed.sx = `module: AlphabetSorter, node: beta, args: ["data/missing.in", "data/sx.out", "10"]`;
  c.writeConfig(placed);
  const p = await until(async () => (await entries("sx")).find((q) => q.state === "failed"), "sx failed");
  assert.is(p.node, "beta");
  assert.ok(p.error?.startsWith('Cannot open "data/missing.in" for reading: no such file'), p.error ?? "no error");
  assert.ok(p.error?.includes(join(c.dir, "data/missing.in")), p.error ?? "no error");
  assert.equal((await entries("sb")).map((q) => q.state), ["completed"]);
});

sorter.run();
