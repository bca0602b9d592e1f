// What a node tells the balancers of its peers about its load while it has granted a process away,
// and when it grants one: real daemon, real API.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { BalanceGrant, NodeLoad } from "../../schemas/api.schema.ts";

/**
 * alpha running three unpinned processes, all movable at once. beta is declared but never
 * started: nobody pulls what alpha grants it, so a grant stands until `handoffTimeoutMs`.
 */
async function alphaWithThreeMovable(handoffTimeoutMs: number): Promise<TestCluster> {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Idle"], settings: { handoffTimeoutMs, balancer: { intervalMs: 60000, minStayMs: 0 } } });
  try {
    c.writeConfig({ u1: "module: Idle", u2: "module: Idle", u3: "module: Idle" });
    await c.start("alpha");
    await until(async () => (await c.post<NodeLoad>("alpha", "load", {})).movable === 3, "three running, movable, on alpha", 20000);
    return c;
  } catch (error) {
    await c.close();
    throw error;
  }
}

test("a process granted to a peer no longer counts in the holder's load, until the grant expires unused", async () => {
  const c = await alphaWithThreeMovable(1500);
  try {
    const grant = await c.post<BalanceGrant>("alpha", "balance.request", { to: "beta" });
    assert.ok(grant.name, "alpha granted one of its processes");
    const during = await c.post<NodeLoad>("alpha", "load", {});
    assert.is(during.processes, 2, "the granted process is not counted while the grant stands");
    assert.is(during.movable, 2);
    await until(async () => (await c.post<NodeLoad>("alpha", "load", {})).processes === 3, "the expired grant's process counted again", 20000);
  } finally {
    await c.close();
  }
});

test("a node asked for a process gives it only while the askers' difference still holds against its load now", async () => {
  // The grants stand, unused, for the whole test.
  const c = await alphaWithThreeMovable(60000);
  try {
    const first = await c.post<BalanceGrant>("alpha", "balance.request", { to: "beta", load: 0 });
    assert.ok(first.name, "3 here against 0: given");
    // Asked at the same moment by a node that saw alpha at 3: with one granted away, 2 against 1.
    const second = await c.post<BalanceGrant>("alpha", "balance.request", { to: "beta", load: 1 });
    assert.is(second.name, null, "2 here against 1 would leave alpha the less loaded");
    const { balancer } = await c.post<{ balancer: { decisions: string[] } }>("alpha", "status", {});
    // Its load is its processes plus its executors' utilization, a few hundredths when idle.
    assert.ok(balancer.decisions.some((d) => /beta asked for a process; not given: load 2\.\d\d here against 1\.00 there/.test(d)), balancer.decisions.join("\n"));
    // A node of an older release sends no load: it is given one, as before.
    const older = await c.post<BalanceGrant>("alpha", "balance.request", { to: "beta" });
    assert.ok(older.name && older.name !== first.name);
  } finally {
    await c.close();
  }
});

test.run();
