/**
 * A call whose answer is lost is retried by its caller with the same call id, and the process
 * answers it again instead of running it twice: on the node that ran it, on the node it moved
 * to, and after that node was killed and restored the process from its checkpoint.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster } from "../helpers/cluster.ts";

const clusters: TestCluster[] = [];
test.after.each(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(nodes: string[]): Promise<TestCluster> {
  const c = await TestCluster.create({ nodes, modules: ["Tally"], processes: { t: "module: Tally, node: alpha" } });
  clusters.push(c);
  return c;
}

test("`ferry call` whose answer is lost after the method ran retries, prints the first answer, and the method ran once", async () => {
  const c = await cluster(["alpha"]);
  await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ dropCallAnswers: 1 }) });
  await c.waitRunningOn("t", "alpha");
  const called = await c.cli(["call", "t", "note", "deposit-1"]);
  assert.is(called.code, 0, called.stderr);
  assert.is(called.stdout.trim(), "1", "the retry was not answered with the call's own answer");
  assert.equal(await c.call("alpha", "t", "history"), ["deposit-1"], "the call ran twice (or never)");
  // The fault dropped one answer only: a new call runs as usual.
  const next = await c.cli(["call", "t", "note", "deposit-2"]);
  assert.is(next.stdout.trim(), "2", next.stderr);
});

test("a call retried with its id on the node the process moved to, and again after that node was killed, is answered and not run again", async () => {
  const c = await cluster(["alpha", "beta"]);
  await c.start("alpha");
  await c.start("beta");
  await c.waitRunningOn("t", "alpha");
  const call = (node: string) => c.post<{ value: unknown; node: string }>(node, "call", { name: "t", method: "note", args: ["once"], callId: "test-call-0001" });
  assert.is((await call("alpha")).value, 1);
  c.writeConfig({ t: "module: Tally, node: beta" });
  await c.post("beta", "reconcile", { names: ["t"], reload: true });
  await c.waitRunningOn("t", "beta");
  const moved = await call("beta");
  assert.is(moved.value, 1, "the node the process moved to did not answer the retry with the kept answer");
  assert.is(moved.node, "beta");
  await c.stop("beta", "SIGKILL");
  await c.start("beta");
  await c.waitRunningOn("t", "beta");
  assert.is((await call("beta")).value, 1, "after a restart the retry ran again");
  assert.equal(await c.call("beta", "t", "history"), ["once"]);
  const other = await c.post<{ value: unknown }>("beta", "call", { name: "t", method: "note", args: ["twice"], callId: "test-call-0002" });
  assert.is(other.value, 2);
});

test.run();
