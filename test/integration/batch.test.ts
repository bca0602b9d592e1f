// Many processes moved by one edit of cluster.yaml, between real daemons: the hand-offs travel in
// batches and share journal fsyncs, yet each process is handed off on its own. It runs exactly
// once (the Exclusive fixture's lock files catch two copies running at once), keeps its state (a
// note taken before the move), and one that cannot move rolls back alone. Either side killed with
// kill -9 in the middle of a batch loses nothing and runs nothing twice.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import { FrameReader } from "../../daemon/handoff/batch.ts";
import { SECRET, TestCluster, until, violations } from "../helpers/cluster.ts";

const N = 200;
const names = Array.from({ length: N }, (_, i) => `b${i}`);

function setup(c: TestCluster): { locks: string; spec: (node: string, extra?: Record<string, string>) => Record<string, string> } {
  const locks = join(c.dir, "locks");
  mkdirSync(locks);
  const spec = (node: string, extra: Record<string, string> = {}) => ({
    ...Object.fromEntries(names.map((name) => [name, `module: Exclusive, node: ${node}, args: ["${locks}"]`])),
    ...extra,
  });
  return { locks, spec };
}

/** Runs `work` for every name, a few at a time. */
async function each(work: (name: string, i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < names.length; i += 25) await Promise.all(names.slice(i, i + 25).map((name, j) => work(name, i + j)));
}

async function psOf(c: TestCluster, node: string): Promise<ProcessInfo[]> {
  return await c.post<ProcessInfo[]>(node, "ps", {});
}

/** Gives every process a state of its own before the move: a note only it holds. */
async function noteAll(c: TestCluster, node: string): Promise<void> {
  await until(async () => (await psOf(c, node)).filter((p) => names.includes(p.name) && p.state === "running").length === N, `${N} running on ${node}`, 60000, 100);
  await each((name, i) => c.call(node, name, "note", [`state of ${name} #${i}`]));
}

/** Every process runs on `node` and nowhere else, with exactly the state it had before. */
async function allMovedWithState(c: TestCluster, node: string, locks: string): Promise<void> {
  await until(async () => {
    const running = await c.running();
    return names.every((name) => running.get(name)?.length === 1 && running.get(name)![0] === node);
  }, `all ${N} running on ${node} only`, 90000, 100);
  await each(async (name, i) => assert.equal(await c.call(node, name, "history"), [`state of ${name} #${i}`], name));
  const running = await c.running();
  for (const name of names) assert.equal(running.get(name), [node], name);
  assert.equal(violations(locks), [], "two copies of a process ran at once");
}

async function fsyncs(c: TestCluster, node: string): Promise<number> {
  const res = await fetch(`${c.url(node)}/metrics`, { headers: { authorization: `Bearer ${SECRET}` } });
  const line = (await res.text()).split("\n").find((l) => l.startsWith("ferry_journal_fsync_seconds_count"));
  return Number(line?.split(" ").pop() ?? NaN);
}

test(`one edit moves ${N} processes in batches, each exactly once with its state; one whose suspend times out rolls back alone`, async () => {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Exclusive", "Stubborn"], settings: { checkpointIntervalMs: 60000, suspendDeadlineMs: 500 } });
  try {
    const { locks, spec } = setup(c);
    c.writeConfig(spec("alpha", { stuck: "module: Stubborn, node: alpha" }));
    await Promise.all(["alpha", "beta"].map((n) => c.start(n)));
    await noteAll(c, "alpha");
    // Like every message: the cluster secret, then a body the schema accepts.
    const commit = { type: "handoff.commit", body: { name: "b0", generation: 0, handoffId: "not-a-pending-one" } };
    const send = (body: unknown, secret?: string) =>
      fetch(`${c.url("alpha")}/v1/handoff.batch`, { method: "POST", headers: { "content-type": "application/json", ...(secret ? { authorization: `Bearer ${secret}` } : {}) }, body: JSON.stringify(body) });
    assert.is((await send({ items: [commit] })).status, 401);
    assert.is((await send({ items: [commit] }, "wrong")).status, 401);
    assert.is((await send({ items: [{ type: "call", body: { name: "b0", method: "get" } }] }, SECRET)).status, 400);
    const answered = await send({ items: [commit] }, SECRET);
    assert.is(answered.status, 200);
    const frames = new FrameReader().push(new Uint8Array(await answered.arrayBuffer()));
    assert.equal(frames.map((f) => [f.head.i, f.head.error?.code]), [[0, "conflict"]], "a commit of no pending hand-off is refused on its own");
    const before = await fsyncs(c, "alpha");
    c.writeConfig(spec("beta", { stuck: "module: Stubborn, node: beta" }));
    await c.post("beta", "reconcile", { reload: true });
    await allMovedWithState(c, "beta", locks);
    // Each moved process cost the holder a checkpoint at suspend and a release: grouped, they
    // share far fewer fsyncs than one each.
    const spent = (await fsyncs(c, "alpha")) - before;
    assert.ok(spent < N, `${spent} fsyncs on the holder for ${N} hand-offs`);
    const stuck = await until(async () => (await psOf(c, "alpha")).find((p) => p.name === "stuck" && p.state === "running" && /Hand-off to "beta" failed/.test(p.error ?? "")), "stuck rolled back on alpha");
    assert.match(stuck.error!, /safe point|suspend/i);
    assert.not.ok((await psOf(c, "beta")).some((p) => p.name === "stuck" && p.state === "running"), "the stuck process never ran on beta");
  } finally {
    await c.close();
  }
});

for (const killed of ["alpha", "beta"] as const) {
  const role = killed === "alpha" ? "source" : "destination";
  test(`the ${role} killed with kill -9 in the middle of a batch: every process runs exactly once, on beta, with its state`, async () => {
    const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Exclusive"], settings: { checkpointIntervalMs: 60000, handoffTimeoutMs: 8000 } });
    try {
      const { locks, spec } = setup(c);
      c.writeConfig(spec("alpha"));
      await c.start("alpha");
      // The destination waits after `prepared`, before its commits: the batch is caught with its
      // snapshots sent and none of it decided.
      await c.start("beta", { FERRY_FAULTS: JSON.stringify({ delayBeforeCommitMs: 2000 }) });
      await noteAll(c, "alpha");
      // A graceful restart checkpoints every process: the notes are durable before the move, so
      // a process the kill catches before its suspend has its note to come back with, too.
      await c.stop("alpha");
      await c.start("alpha");
      await until(async () => (await psOf(c, "alpha")).filter((p) => names.includes(p.name) && p.state === "running").length === N, "all restored", 60000, 100);
      c.writeConfig(spec("beta"));
      await c.post("beta", "reconcile", { reload: true });
      await until(async () => (await psOf(c, "alpha")).filter((p) => p.state === "migrating").length >= N / 2, "half the batch sent, awaiting commit", 30000, 20);
      await c.stop(killed, "SIGKILL");
      assert.ok((await psOf(c, killed === "alpha" ? "beta" : "alpha")).filter((p) => p.state === "running" && names.includes(p.name)).length < N, "killed before the batch finished");
      await c.start(killed);
      await allMovedWithState(c, "beta", locks);
    } finally {
      await c.close();
    }
  });
}

test("the source killed with kill -9 when a batch's commits are half done: the released run on, the others come back and move again", async () => {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Exclusive"], settings: { checkpointIntervalMs: 60000, handoffTimeoutMs: 8000 } });
  try {
    const { locks, spec } = setup(c);
    c.writeConfig(spec("alpha"));
    // The holder handles the commits of b1, b10–b19 and b100–b199 only after a long pause.
    const held = (name: string) => /^b1/.test(name);
    await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ delayBatchCommitMs: 60000, delayBatchCommitOf: "^b1" }) });
    await c.start("beta");
    await noteAll(c, "alpha");
    await c.stop("alpha");
    await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ delayBatchCommitMs: 60000, delayBatchCommitOf: "^b1" }) });
    await until(async () => (await psOf(c, "alpha")).filter((p) => names.includes(p.name) && p.state === "running").length === N, "all restored", 60000, 100);
    c.writeConfig(spec("beta"));
    await c.post("beta", "reconcile", { reload: true });
    const released = names.filter((name) => !held(name));
    await until(async () => {
      const onBeta = new Set((await psOf(c, "beta")).filter((p) => p.state === "running").map((p) => p.name));
      return released.every((name) => onBeta.has(name));
    }, "the commits not held done", 60000, 20);
    const migrating = (await psOf(c, "alpha")).filter((p) => p.state === "migrating").map((p) => p.name);
    assert.ok(migrating.length > 0 && migrating.every(held), "the held ones await their commit on the holder");
    await c.stop("alpha", "SIGKILL");
    await c.start("alpha");
    await allMovedWithState(c, "beta", locks);
  } finally {
    await c.close();
  }
});

test.run();
