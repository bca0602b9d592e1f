import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until, violations } from "../helpers/cluster.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const big = suite("large state");
let c: TestCluster;
let dir: string;
const SIZE = 256 * 1024 * 1024;
const spec = (node: string) => ({ big: `module: Exclusive, node: ${node}, args: ["${dir}", "${SIZE}"]` });

big.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha", "beta"], settings: { checkpointIntervalMs: 600000, handoffTimeoutMs: 20000 } });
  dir = join(c.dir, "locks");
  mkdirSync(dir);
  c.writeConfig(spec("alpha"));
  await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ delayPerChunkMs: 10 }) });
  await c.start("beta");
  await c.waitRunningOn("big", "alpha", 30000);
});
big.after(async () => c.close());

big("destination killed mid-transfer of a 256 MiB state: the source resumes it intact, then it moves", async () => {
  c.writeConfig(spec("beta"));
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === "big" && p.state === "migrating"), "big migrating", 30000, 5);
  await c.stop("beta", "SIGKILL");
  const p = await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((q) => q.name === "big" && q.state === "running" && q.error?.includes("disconnected")), "rollback after the kill", 30000);
  assert.match(p.error ?? "", /rolled back/);
  assert.is(await c.call("alpha", "big", "verify"), SIZE);
  await c.start("beta");
  const moved = await c.waitRunningOn("big", "beta", 60000).catch(async (e) => { console.log(JSON.stringify(await c.ps()), c.logs.alpha, c.logs.beta); throw e; });
  assert.is(moved.generation, 1);
  assert.is(moved.lastTransferBytes! > SIZE, true);
  assert.is(await c.call("beta", "big", "verify"), SIZE);
  assert.equal(violations(dir), []);
});

big.run();

const many = suite("many processes");
let m: TestCluster;
const N = 1000;
const all = (node: string) => Object.fromEntries(Array.from({ length: N }, (_, i) => [`p${i}`, `module: Idle, node: ${node}`]));

many.before(async () => {
  m = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Idle"], settings: { checkpointIntervalMs: 5000 } });
  m.writeConfig(all("alpha"));
  await m.start("alpha");
  await m.start("beta");
  await until(async () => (await m.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === N, `${N} running on alpha`, 60000, 200);
});
many.after(async () => m.close());

many("1,000 processes moved by one edit all arrive, each exactly once", async () => {
  const t0 = Date.now();
  m.writeConfig(all("beta"));
  await until(async () => (await m.post<ProcessInfo[]>("beta", "ps", {})).filter((p) => p.state === "running").length === N, `${N} running on beta`, 60000, 100);
  const elapsed = Date.now() - t0;
  const alpha = await m.post<ProcessInfo[]>("alpha", "ps", {});
  const beta = await m.post<ProcessInfo[]>("beta", "ps", {});
  assert.is(alpha.length, 0);
  assert.is(new Set(beta.map((p) => p.name)).size, N);
  assert.ok(beta.every((p) => p.generation === 1 && p.migrations === 1));
  console.log(`moved ${N} processes in ${elapsed} ms`);
});

many.run();
