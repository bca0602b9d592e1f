/**
 * Pre-copy between real daemons: a large state that keeps changing moves with only its last
 * delta in the downtime; a state that changes faster than it moves rolls back (strict) or goes
 * ahead saying what downtime to expect; kill -9 of either side during a round leaves one copy
 * running, with its state.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until, violations } from "../helpers/cluster.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";

const MiB = 1024 * 1024;
const STATE_MIB = 24;

async function eventsOf(c: TestCluster, node: string): Promise<FerryEvent[]> {
  const events: FerryEvent[] = [];
  for await (const e of c.client(node).events(false)) events.push(e);
  return events;
}

/** Waits until the holder knows the process's state size (a periodic checkpoint was taken). */
async function sized(c: TestCluster, node: string, name: string): Promise<number> {
  return until(async () => (await c.post<{ stateBytes?: number }>(node, "locate", { name })).stateBytes, `${node} to know the size of ${name}`);
}

const moves = suite("pre-copy");
let c: TestCluster;
let locks: string;
const drifter = (name: string, node: string, extra = "", rate = "1048576") => `module: Drifter, node: ${node}, args: ["${STATE_MIB}", "${rate}", "${locks}"]${extra}`;
moves.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Drifter"], settings: { checkpointIntervalMs: 300, handoffTimeoutMs: 10000 } });
  locks = join(c.dir, "locks");
  mkdirSync(locks);
  c.writeConfig({ d: drifter("d", "alpha") });
  await c.start("alpha");
  await c.start("beta");
  await c.waitRunningOn("d", "alpha");
});
moves.after(async () => c.close());

moves("a changing 24 MiB state moves with only its last delta in the downtime, and arrives intact with its latest changes", async () => {
  assert.ok((await sized(c, "alpha", "d")) >= STATE_MIB * MiB);
  await c.call("alpha", "d", "note", ["before"]);
  const seqBefore = await c.call<number>("alpha", "d", "get");
  c.writeConfig({ d: drifter("d", "beta") });
  await c.waitRunningOn("d", "beta", 30000);
  assert.is(await c.call("beta", "d", "verify"), STATE_MIB * MiB);
  assert.ok((await c.call<number>("beta", "d", "get")) > seqBefore);
  assert.equal(await c.call("beta", "d", "history"), ["before"]);
  const precopied = (await eventsOf(c, "alpha")).find((e) => e.type === "precopied" && e.process === "d");
  assert.ok(precopied, "no precopied event on the holder");
  assert.match(precopied!.message ?? "", /pre-copied in \d+ rounds; expected downtime \d+ ms/);
  const arrived = (await eventsOf(c, "beta")).find((e) => e.type === "transferred" && e.process === "d");
  assert.ok(arrived && arrived.bytes! < (STATE_MIB * MiB) / 4, `the switchover moved ${arrived?.bytes} bytes`);
  const resumed = (await eventsOf(c, "beta")).find((e) => e.type === "resumed" && e.process === "d");
  assert.type(resumed?.ms, "number");
  assert.equal(violations(locks), []);
});

moves("strict: a state that changes faster than it moves rolls back with the reason; not strict: it goes ahead and says the downtime to expect", async () => {
  c.writeConfig({ d: drifter("d", "beta"), f: drifter("f", "beta", ", maxDowntimeMs: 1, strict: true", "all") });
  await c.waitRunningOn("f", "beta");
  await sized(c, "beta", "f");
  c.writeConfig({ d: drifter("d", "beta"), f: drifter("f", "alpha", ", maxDowntimeMs: 1, strict: true", "all") });
  const p = await until(async () => (await c.post<ProcessInfo[]>("beta", "ps", {})).find((q) => q.name === "f" && q.state === "running" && q.error?.includes("rolled back")), "a strict rollback", 30000);
  assert.match(p.error ?? "", /pre-copy does not converge: .*maxDowntimeMs 1\); strict: true/);
  const rolled = (await eventsOf(c, "beta")).find((e) => e.type === "rolled-back" && e.process === "f");
  assert.match(rolled?.reason ?? "", /does not converge/);
  assert.ok((await c.post<ProcessInfo[]>("alpha", "ps", {})).every((q) => q.name !== "f" || q.state !== "running"));
  assert.is(await c.call("beta", "f", "verify"), STATE_MIB * MiB);

  c.writeConfig({ d: drifter("d", "beta"), f: drifter("f", "alpha", ", maxDowntimeMs: 1, strict: false", "all") });
  await c.waitRunningOn("f", "alpha", 60000);
  const ahead = (await eventsOf(c, "beta")).find((e) => e.type === "precopied" && e.process === "f");
  assert.match(ahead?.message ?? "", /expected downtime \d+ ms: pre-copy does not converge/);
  assert.type(ahead?.ms, "number");
  const resumed = (await eventsOf(c, "alpha")).find((e) => e.type === "resumed" && e.process === "f");
  assert.type(resumed?.ms, "number");
  assert.is(await c.call("alpha", "f", "verify"), STATE_MIB * MiB);
  assert.equal(violations(locks), []);
});

moves.run();

const crashes = suite("pre-copy: kill -9 during a round");
let k: TestCluster;
let klocks: string;
const slowRound = { FERRY_FAULTS: JSON.stringify({ delayPrecopyRoundMs: 3000 }) };
const drift = (node: string) => `module: Drifter, node: ${node}, args: ["${STATE_MIB}", "1048576", "${klocks}"]`;
crashes.before(async () => {
  k = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Drifter"], settings: { checkpointIntervalMs: 300, handoffTimeoutMs: 10000 } });
  klocks = join(k.dir, "locks");
  mkdirSync(klocks);
  k.writeConfig({ d: drift("alpha") });
  await k.start("alpha", slowRound);
  await k.start("beta");
  await k.waitRunningOn("d", "alpha");
});
crashes.after(async () => k.close());

const precopying = (node: string, from: string) =>
  until(async () => (await k.post<ProcessInfo[]>(node, "ps", {})).find((q) => q.name === "d" && q.error?.includes(`Pre-copying from "${from}"`)), `${node} pre-copying from ${from}`, 20000, 10);

/** The newest checkpoint of "d" on `node` was written after `since` (ms since the epoch). */
/**
 * Waits until the node's journal records a checkpoint of d taken after `since`: only a journalled
 * checkpoint is current (a file being written, or written but not yet recorded, is not), and a
 * line written to the journal survives a kill -9.
 */
const checkpointedAfter = (node: string, since: number) =>
  until(() => {
    const lines = readFileSync(join(k.dir, ".ferry", node, "journal.ndjson"), "utf8").split("\n");
    return lines.some((line) => {
      if (!line.includes('"op":"checkpoint"')) return false;
      const record = JSON.parse(line) as { name?: string; at?: number };
      return record.name === "d" && (record.at ?? 0) > since;
    });
  }, `a journalled checkpoint of d on ${node} after the note`);

crashes("destination killed during a round: the process never stops on its holder, and moves once the destination is back", async () => {
  await sized(k, "alpha", "d");
  await k.call("alpha", "d", "note", ["x"]);
  k.writeConfig({ d: drift("beta") });
  await precopying("beta", "alpha");
  await k.stop("beta", "SIGKILL");
  const seq = await k.call<number>("alpha", "d", "get");
  await until(async () => (await k.call<number>("alpha", "d", "get")) > seq, "d to go on changing on alpha");
  const row = (await k.post<ProcessInfo[]>("alpha", "ps", {})).find((q) => q.name === "d");
  assert.is(row?.state, "running");
  await k.start("beta");
  await k.waitRunningOn("d", "beta", 30000);
  assert.is(await k.call("beta", "d", "verify"), STATE_MIB * MiB);
  assert.equal(await k.call("beta", "d", "history"), ["x"]);
  assert.equal((await k.ps()).filter((q) => q.name === "d" && q.state === "running").map((q) => q.node), ["beta"]);
  assert.equal(violations(klocks), []);
});

crashes("source killed during a round: the destination drops its base and runs nothing; the restarted source resumes from its checkpoint, then it moves", async () => {
  await k.stop("beta");
  await k.start("beta", slowRound);
  await k.waitRunningOn("d", "beta");
  await sized(k, "beta", "d");
  await k.call("beta", "d", "note", ["y"]);
  await checkpointedAfter("beta", Date.now());
  k.writeConfig({ d: drift("alpha") });
  await precopying("alpha", "beta");
  await k.stop("beta", "SIGKILL");
  // alpha must not run a copy while the holder might still hold it.
  await until(async () => (await k.post<ProcessInfo[]>("alpha", "ps", {})).find((q) => q.name === "d" && q.error && !q.error.includes("Pre-copying")), "alpha to give up this attempt", 20000);
  assert.not.ok((await k.post<ProcessInfo[]>("alpha", "ps", {})).some((q) => q.name === "d" && q.state === "running"));
  await k.start("beta");
  await k.waitRunningOn("d", "alpha", 30000);
  assert.is(await k.call("alpha", "d", "verify"), STATE_MIB * MiB);
  assert.equal(await k.call("alpha", "d", "history"), ["x", "y"]);
  assert.equal((await k.ps()).filter((q) => q.name === "d" && q.state === "running").map((q) => q.node), ["alpha"]);
  assert.equal(violations(klocks), []);
});

crashes("destination killed with a staged base on its disk: the file is deleted when it starts again, never read, and the move then completes", async () => {
  // d is on alpha now; beta pauses after staging, so it can be killed with the file there.
  await k.stop("beta");
  await k.start("beta", { FERRY_FAULTS: JSON.stringify({ delayAfterStagingMs: 5000 }) });
  await sized(k, "alpha", "d");
  const dir = join(k.dir, ".ferry", "beta", "checkpoints");
  k.writeConfig({ d: drift("beta") });
  const staged = await until(() => readdirSync(dir).find((f) => f.startsWith("d@") && f.endsWith(".precopy")), "beta to stage the base", 30000, 10);
  await k.stop("beta", "SIGKILL");
  const seq = await k.call<number>("alpha", "d", "get");
  await until(async () => (await k.call<number>("alpha", "d", "get")) > seq, "d to go on changing on alpha");
  await k.start("beta");
  assert.not.ok(readdirSync(dir).includes(staged), "the staged file outlived the restart");
  await k.waitRunningOn("d", "beta", 30000);
  assert.is(await k.call("beta", "d", "verify"), STATE_MIB * MiB);
  assert.equal(await k.call("beta", "d", "history"), ["x", "y"]);
  assert.equal((await k.ps()).filter((q) => q.name === "d" && q.state === "running").map((q) => q.node), ["beta"]);
  assert.equal(readdirSync(dir).filter((f) => f.endsWith(".precopy")), []);
  assert.equal(violations(klocks), []);
});

crashes.run();

const runtimes = suite("pre-copy between a Node and a Deno daemon");
let r: TestCluster;
const mixed = (node: string) => `module: Drifter, node: ${node}, args: ["${STATE_MIB}", "1048576"]`;
runtimes.before(async () => {
  r = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Drifter"], runtimes: { alpha: "node", beta: "deno" }, settings: { checkpointIntervalMs: 300, handoffTimeoutMs: 20000 } });
  r.writeConfig({ d: mixed("alpha") });
  await r.start("alpha");
  await r.start("beta");
  await r.waitRunningOn("d", "alpha", 30000);
});
runtimes.after(async () => r.close());

runtimes("a changing state is pre-copied from Node to Deno and back, intact", async () => {
  for (const [from, to] of [["alpha", "beta"], ["beta", "alpha"]] as const) {
    await sized(r, from, "d");
    r.writeConfig({ d: mixed(to) });
    await r.waitRunningOn("d", to, 60000);
    assert.is(await r.call(to, "d", "verify"), STATE_MIB * MiB);
    assert.ok((await eventsOf(r, from)).some((e) => e.type === "precopied" && e.process === "d"), `no pre-copy from ${from}`);
  }
});

runtimes.run();
