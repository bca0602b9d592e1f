/**
 * A balancer move takes a large state the way a move by an edit does: pre-copied while the
 * process runs, then the last delta at the switchover; the state arrives whole.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";

let c: TestCluster | undefined;
test.after.each(async () => {
  await c?.close();
  c = undefined;
});

async function eventsOf(cluster: TestCluster, node: string): Promise<FerryEvent[]> {
  const out: FerryEvent[] = [];
  for await (const e of cluster.client(node).events(false)) out.push(e);
  return out;
}

test("a process the balancer moves to an idle node is pre-copied when its state is large, and arrives whole", async () => {
  const heavy = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`h${i}`, `module: Heavy, args: ["2"]`]));
  c = await TestCluster.create({
    nodes: ["alpha", "beta"],
    modules: ["Heavy"],
    settings: { checkpointIntervalMs: 200, balancer: { intervalMs: 300, minStayMs: 1500, goneAfterMs: 1500 } },
    processes: heavy,
  });
  const cluster = c;
  // Beta is not up yet: once it has been silent for goneAfterMs, alpha starts all four.
  await cluster.start("alpha");
  for (const name of Object.keys(heavy)) await cluster.waitRunningOn(name, "alpha");
  await cluster.start("beta");
  const moved = await until(async () => (await cluster.ps()).find((p: ProcessInfo) => p.node === "beta" && p.state === "running"), "the balancer to move a process to beta", 60_000, 100);
  const precopied = (await eventsOf(cluster, "alpha")).filter((e) => e.type === "precopied" && e.process === moved.name);
  assert.is(precopied.length, 1, `the move of ${moved.name} was not pre-copied`);
  assert.is((precopied[0] as { to?: string }).to, "beta");
  assert.is(await cluster.call("beta", moved.name, "verify"), 2 * 1024 * 1024, "the state did not arrive whole");
});

test.run();
