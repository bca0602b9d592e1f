import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { repo, TestCluster, until } from "../helpers/cluster.ts";
import type { FerryEvent, NodeStatus, ProcessInfo } from "../../schemas/api.schema.ts";

/** Waits until every node has run `n` more balancer rounds than now. */
async function rounds(c: TestCluster, n: number, timeoutMs = 60000): Promise<void> {
  const now = await Promise.all(NODES.map(async (node) => (await c.post<NodeStatus>(node, "status", {})).balancer.rounds));
  await until(async () => {
    const later = await Promise.all(NODES.map(async (node) => (await c.post<NodeStatus>(node, "status", {})).balancer.rounds));
    return later.every((r, i) => r >= now[i]! + n);
  }, `${n} balancer rounds on every node`, timeoutMs, 200);
}

async function eventsOf(c: TestCluster, node: string): Promise<FerryEvent[]> {
  const out: FerryEvent[] = [];
  for await (const e of c.client(node).events(false)) out.push(e);
  return out;
}

const NODES = ["alpha", "beta", "gamma"];
const burners = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`b${i}`, "module: Burner"]));
const pinned = { pin1: "module: Idle, node: alpha", pin2: "module: Idle, node: alpha" };

async function spread(c: TestCluster): Promise<Record<string, number>> {
  const counts: Record<string, number> = Object.fromEntries(NODES.map((n) => [n, 0]));
  for (const p of await c.ps()) if (p.name.startsWith("b") && p.state === "running") counts[p.node]!++;
  return counts;
}
const balanced = (counts: Record<string, number>) => Object.values(counts).every((n) => n >= 3 && n <= 5) && Object.values(counts).reduce((a, b) => a + b, 0) === 12;

const receiver = suite("receiver-initiated balancing");
let c: TestCluster;
receiver.before(async () => {
  c = await TestCluster.create({
    nodes: NODES,
    modules: ["Burner", "Idle"],
    settings: { executors: 2, balancer: { intervalMs: 300, minStayMs: 1500, goneAfterMs: 8000 } },
  });
  c.writeConfig({ ...burners(12), ...pinned });
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === 14, "all 14 running on alpha", 20000);
});
receiver.after(async () => c.close());

receiver("unpinned processes started on one node spread 4/4/4 (±1) once new daemons join, then stay put", async () => {
  const ps = await c.post<ProcessInfo[]>("alpha", "ps", {});
  assert.is(ps.find((p) => p.name === "b0")?.placedBy, "balancer");
  assert.is(ps.find((p) => p.name === "pin1")?.placedBy, "config");
  await c.start("beta");
  await c.start("gamma");
  await until(async () => balanced(await spread(c)), "a 4/4/4 (±1) spread", 40000, 200);
  // Converged: no move for 3 s (within ±1 a last move may still even it out).
  const placement = async () => JSON.stringify((await c.ps()).map((p) => `${p.name}:${p.node}@${p.generation}`).sort());
  let last = await placement();
  let since = Date.now();
  await until(async () => {
    const now = await placement();
    if (now !== last) [last, since] = [now, Date.now()];
    return Date.now() - since > 3000;
  }, "placements to settle", 30000, 250);
  const settled = await spread(c);
  assert.ok(balanced(settled), JSON.stringify(settled));
  const generations = new Map((await c.ps()).map((p) => [p.name, `${p.node}@${p.generation}`]));
  // Stay put: every node's balancer looks again, many times over, and moves nothing.
  await rounds(c, 25);
  const after = new Map((await c.ps()).map((p) => [p.name, `${p.node}@${p.generation}`]));
  assert.equal([...after].sort(), [...generations].sort(), "processes kept moving after the spread");
});

receiver("pinned processes never move", async () => {
  const pins = (await c.ps()).filter((p) => p.name.startsWith("pin"));
  assert.equal(pins.map((p) => [p.name, p.node, p.generation]).sort(), [["pin1", "alpha", 0], ["pin2", "alpha", 0]]);
});

receiver("status shows each node's load and the balancer's decisions; events record them", async () => {
  const status = await c.post<NodeStatus>("beta", "status", {});
  assert.is(status.balancer.policy, "receiver-initiated");
  assert.ok(status.balancer.loads.length === 3);
  const all = await Promise.all(NODES.map((n) => c.post<NodeStatus>(n, "status", {})));
  assert.ok(all.some((s) => s.balancer.decisions.some((d) => /receiver-initiated/.test(d))), "no decision recorded");
  const events = (await Promise.all(NODES.map((n) => eventsOf(c, n)))).flat();
  assert.ok(events.some((e) => e.type === "balanced" && /receiver-initiated/.test(e.message ?? "")), "no balanced event");
});

receiver("balancer placements survive a daemon restart", async () => {
  const before = (await c.post<ProcessInfo[]>("gamma", "ps", {})).filter((p) => p.state === "running").map((p) => `${p.name}@${p.generation}`).sort();
  assert.ok(before.length > 0);
  await c.stop("gamma");
  await c.start("gamma");
  // Restored on gamma from its own journal, same generation: not re-placed. (Right after the
  // restart, before minStayMs passes, the balancer cannot have moved them yet.)
  const after = (await c.post<ProcessInfo[]>("gamma", "ps", {})).map((p) => `${p.name}@${p.generation}`).sort();
  const journal = () => readFileSync(join(c.dir, ".ferry/gamma/journal.ndjson"), "utf8").split("\n").filter((l) => !l.includes('"checkpoint"')).join("\n");
  for (const p of before) assert.ok(after.includes(p), `${p} not restored on gamma: ${after}\n${c.logs.gamma}\n${journal()}`);
});

receiver("a node that is gone has its unpinned processes adopted elsewhere from their checkpoints, once", async () => {
  const held = (await c.post<ProcessInfo[]>("gamma", "ps", {})).map((p) => p.name).sort();
  await c.stop("gamma", "SIGKILL");
  await until(async () => {
    const ps = await c.ps();
    return held.every((name) => ps.some((p) => p.name === name && p.state === "running"));
  }, "gamma's processes adopted", 30000, 200);
  const ps = await c.ps();
  for (const name of held) assert.is(ps.filter((p) => p.name === name && p.state === "running").length, 1, `${name} runs once`);
  await c.start("gamma");
  // The restarted gamma honours the fences: it restores none of the processes adopted meanwhile.
  const restarts = [...(c.logs.gamma ?? "").matchAll(/listening on \S+, (\d+) processes restored/g)];
  assert.is(restarts.at(-1)?.[1], "0", c.logs.gamma);
  // The balancer may now move some back to gamma; at no sample does one run twice, and each
  // ends up running exactly once.
  const doubles: string[] = [];
  await until(async () => {
    const ps = await c.ps();
    for (const name of held) {
      const running = ps.filter((p) => p.name === name && p.state === "running");
      if (running.length > 1 && new Set(running.map((p) => p.generation)).size < running.length) doubles.push(`${name}: ${JSON.stringify(running.map((p) => [p.node, p.generation]))}`);
    }
    return held.every((name) => ps.filter((p) => p.name === name && p.state === "running").length === 1);
  }, "every adopted process running once", 30000, 100);
  assert.equal(doubles, []);
});

receiver.run();

const custom = suite("custom policy");
let d: TestCluster;
custom.before(async () => {
  d = await TestCluster.create({
    nodes: NODES,
    modules: ["Idle"],
    settings: { balancer: { policy: join(repo, "docs/policies/round-robin.ts"), intervalMs: 300, minStayMs: 500 } },
  });
  d.writeConfig(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`b${i}`, "module: Idle"])));
  await d.start("alpha");
  await until(async () => (await d.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === 9, "9 running", 20000);
});
custom.after(async () => d.close());

custom("a policy module from docs/ swaps in by config and its moves go through the hand-off", async () => {
  await d.start("beta");
  await d.start("gamma");
  await until(async () => {
    const counts: Record<string, number> = {};
    for (const p of await d.ps()) if (p.state === "running") counts[p.node] = (counts[p.node] ?? 0) + 1;
    return NODES.every((n) => counts[n] === 3);
  }, "3/3/3", 30000, 200);
  const status = await d.post<NodeStatus>("alpha", "status", {});
  assert.match(status.balancer.policy, /round-robin\.ts$/);
  assert.ok(status.balancer.decisions.some((dec) => dec.includes("round-robin:")), status.balancer.decisions.join("\n"));
});

custom.run();
