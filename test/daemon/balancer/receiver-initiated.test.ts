import { test } from "uvu";
import * as assert from "uvu/assert";
import { ReceiverInitiated } from "../../../daemon/balancer/receiver-initiated.ts";
import type { BalancerView, NodeLoad } from "../../../daemon/balancer/policy.ts";

const settings = { policy: "receiver-initiated", intervalMs: 1000, minStayMs: 5000, minDifference: 2, goneAfterMs: 5000 };
const load = (node: string, processes: number, movable = processes): NodeLoad => ({ node, processes, utilization: 0, load: processes, movable });
const view = (self: string, ...nodes: NodeLoad[]): BalancerView => ({ self, nodes, candidates: [], settings });

test("a node under the mean asks the busiest node with something movable, when the difference reaches minDifference", () => {
  const policy = new ReceiverInitiated();
  const [move] = policy.propose(view("gamma", load("alpha", 5), load("beta", 4), load("gamma", 0)));
  assert.equal([move?.from, move?.to], ["alpha", "gamma"]);
  assert.equal(policy.propose(view("gamma", load("alpha", 2), load("gamma", 1))), [], "a difference of 1 would only swap who is busier");
  assert.equal(policy.propose(view("gamma", load("alpha", 5, 0), load("gamma", 0))), [], "nothing there may move");
  assert.equal(policy.propose(view("alpha", load("alpha", 5), load("gamma", 0))), [], "the busy node itself asks for nothing");
});

test("the asked node gives only while the difference still holds against its load now", () => {
  const policy = new ReceiverInitiated();
  assert.ok(policy.grants({ to: "gamma", load: 0 }, view("alpha", load("alpha", 3), load("gamma", 0))));
  // The first asker's process already counts as gone: 2 here against the second asker's 1.
  assert.not.ok(policy.grants({ to: "delta", load: 1 }, view("alpha", load("alpha", 2), load("delta", 1))));
  assert.not.ok(policy.grants({ to: "delta", load: 1 }, view("alpha", load("delta", 1))), "no load of its own to weigh: no");
});

test.run();
