// What a node tells the balancers of its peers about its load while it has granted a process away:
// real daemon, real API.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { BalanceGrant, NodeLoad } from "../../schemas/api.schema.ts";

test("a process granted to a peer no longer counts in the holder's load, until the grant expires unused", async () => {
  // beta is declared but never started: nobody pulls what alpha grants it.
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Idle"], settings: { handoffTimeoutMs: 1500, balancer: { intervalMs: 60000, minStayMs: 0 } } });
  try {
    c.writeConfig({ u1: "module: Idle", u2: "module: Idle", u3: "module: Idle" });
    await c.start("alpha");
    await until(async () => (await c.post<NodeLoad>("alpha", "load", {})).movable === 3, "three running, movable, on alpha", 20000);
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

test.run();
