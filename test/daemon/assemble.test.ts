/**
 * Nodes assembled in one process and wired through their API handlers: the whole daemon but
 * sockets and file watching.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { InProcessCluster } from "../helpers/in-process.ts";
import { until } from "../helpers/cluster.ts";

const path = suite("a migration's path through the rooms");
let c: InProcessCluster;

path.before(async () => {
  c = await InProcessCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], processes: { t: "module: Tally, node: alpha" } });
  await c.start("alpha");
  await c.start("beta");
  await until(async () => (await c.client("alpha").post("locate", { name: "t" })).state === "running", "t running on alpha");
});
path.after(async () => c.close());

path("from the YAML edit to run() on the destination, each step is taken once, in order", async () => {
  await c.client("alpha").post("call", { name: "t", method: "note", args: ["before"] });
  for (const node of c.nodes.values()) node.state.trace.clear();
  c.writeConfig({ t: "module: Tally, node: beta" });
  await c.applyConfig();
  // Polled with ps, which names no process: the trace holds only the migration's own steps.
  await until(async () => (await c.client("beta").post("ps", {})).some((p) => p.name === "t" && p.state === "running"), "t running on beta");
  const marks = [...c.nodes.values()].flatMap((n) => n.state.trace.of("t")).sort((a, b) => a.at - b.at);
  assert.equal(marks.map((m) => `${m.node} ${m.room}: ${m.step}`), [
    "alpha config: changed",
    "beta config: changed",
    "beta reconcile: locate",
    "beta reconcile: pull",
    "beta handoff: request-begin",
    "alpha api: handoff.begin",
    "alpha handoff: suspend",
    "alpha executor: suspend",
    "alpha handoff: save-checkpoint",
    "alpha store: checkpoint at suspend",
    "beta handoff: store",
    "beta store: prepared",
    "beta executor: instantiate held",
    "beta handoff: request-commit",
    "alpha api: handoff.commit",
    "alpha handoff: journal-released",
    "alpha store: released",
    "beta handoff: activate",
    "beta executor: activate",
  ]);
  assert.equal((await c.client("beta").post("call", { name: "t", method: "history" })).value, ["before"]);
});

path.run();
