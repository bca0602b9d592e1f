import { suite } from "uvu";
import * as assert from "uvu/assert";
import { sleep, TestCluster, until } from "../helpers/cluster.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const durability = suite("durability");
let c: TestCluster;

durability.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha"], settings: { checkpointIntervalMs: 200 }, processes: { tally: "module: Tally, node: alpha" } });
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {}))[0]?.state === "running", "tally running");
});
durability.after(async () => c.close());

durability("a graceful stop checkpoints, and the restart resumes from exactly that state", async () => {
  await c.call("alpha", "tally", "note", ["before-stop"]);
  await sleep(100);
  await c.stop("alpha", "SIGTERM");
  await c.start("alpha");
  const p = await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((x) => x.name === "tally" && x.state === "running"), "tally resumed");
  assert.is(p.generation, 0);
  assert.equal(await c.call("alpha", "tally", "history"), ["before-stop"]);
  assert.ok((await c.call<number>("alpha", "tally", "get")) > 0);
  assert.match(c.logs.alpha ?? "", /1 processes restored/);
});

durability("kill -9 then restart resumes from the latest checkpoint, once", async () => {
  await c.call("alpha", "tally", "note", ["before-kill"]);
  const counted = await c.call<number>("alpha", "tally", "get");
  await sleep(600); // at least one checkpoint interval after the call
  await c.stop("alpha", "SIGKILL");
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((x) => x.name === "tally" && x.state === "running"), "tally resumed");
  const ps = await c.post<ProcessInfo[]>("alpha", "ps", {});
  assert.is(ps.filter((p) => p.name === "tally").length, 1);
  assert.equal(await c.call("alpha", "tally", "history"), ["before-stop", "before-kill"]);
  assert.ok((await c.call<number>("alpha", "tally", "get")) >= counted);
});

durability("a process removed while its daemon was down is stopped on restart", async () => {
  await c.stop("alpha", "SIGTERM");
  c.writeConfig({});
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).length === 0, "tally gone");
});

durability.run();
