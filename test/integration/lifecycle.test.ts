import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sleep, TestCluster, until } from "../helpers/cluster.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const lifecycle = suite("single node lifecycle");
let c: TestCluster;

lifecycle.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha"], processes: { tally: "module: Tally, node: alpha" } });
  await c.start("alpha");
});
lifecycle.after(async () => c.close());

const find = async (name: string) => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === name);

lifecycle("a process placed on the node runs and answers calls", async () => {
  const p = await until(async () => (await find("tally"))?.state === "running" && find("tally"), "tally running");
  assert.is(p.module, "Tally");
  assert.is(p.generation, 0);
  assert.equal(p.methods.includes("get"), true);
  const first = await c.call<number>("alpha", "tally", "get");
  await until(async () => (await c.call<number>("alpha", "tally", "get")) > first, "count to grow");
});

lifecycle("a process added to cluster.yaml starts within a second", async () => {
  c.writeConfig({ tally: "module: Tally, node: alpha", extra: "module: Tally, node: alpha, args: [x]" });
  const t0 = Date.now();
  await until(async () => (await find("extra"))?.state === "running", "extra running", 5000, 10);
  assert.ok(Date.now() - t0 < 1000, `started after ${Date.now() - t0} ms`);
});

lifecycle("a process removed from cluster.yaml stops", async () => {
  c.writeConfig({ tally: "module: Tally, node: alpha" });
  await until(async () => (await find("extra")) === undefined, "extra gone", 5000, 10);
  assert.is((await find("tally"))?.state, "running");
});

lifecycle("a module dropped into processes/ later is usable without a restart", async () => {
  writeFileSync(join(c.dir, "processes/Late.ts"), "export default class Late { constructor(a: string[]) {} async run(ctx: { sleep(ms: number): Promise<void>, signal: AbortSignal }) { while (!ctx.signal.aborted) await ctx.sleep(50); } hello() { return 'hi from Late'; } }\n");
  await until(async () => (await c.post<{ modules: Array<{ name: string; ok: boolean }> }>("alpha", "status", {})).modules.some((m) => m.name === "Late" && m.ok), "Late to load");
  c.writeConfig({ tally: "module: Tally, node: alpha", late: "module: Late, node: alpha" });
  await until(async () => (await find("late"))?.state === "running", "late running", 5000);
  assert.is(await c.call("alpha", "late", "hello"), "hi from Late");
});

lifecycle("a module that fails to load is reported and affects nothing else", async () => {
  writeFileSync(join(c.dir, "processes/Broken.ts"), "export default class Broken {\n  run( {\n}\n");
  await until(async () => (await c.post<{ modules: Array<{ name: string; ok: boolean }> }>("alpha", "status", {})).modules.some((m) => m.name === "Broken" && !m.ok), "Broken to be inspected");
  c.writeConfig({ tally: "module: Tally, node: alpha", broken: "module: Broken, node: alpha" });
  const p = await until(async () => { const b = await find("broken"); return b?.state === "failed" && b; }, "broken failed", 5000);
  assert.match(p.error ?? "", /Broken/);
  assert.is((await find("tally"))?.state, "running");
  const status = await c.post<{ modules: Array<{ name: string; ok: boolean; error?: string }> }>("alpha", "status", {});
  const broken = await until(async () => (await c.post<typeof status>("alpha", "status", {})).modules.find((m) => m.name === "Broken" && !m.ok), "status to report Broken");
  assert.match(broken.error ?? "", /Broken\.ts:\d+:\d+/);
});

lifecycle("a fixed module restarts its failed process", async () => {
  writeFileSync(join(c.dir, "processes/Broken.ts"), "export default class Broken { constructor(a: string[]) {} async run(ctx: { signal: AbortSignal, sleep(ms: number): Promise<void> }) { while (!ctx.signal.aborted) await ctx.sleep(50); } }\n");
  await until(async () => (await find("broken"))?.state === "running", "broken running after the fix", 8000);
});

lifecycle("a process whose run() throws is failed with the reason; the daemon goes on", async () => {
  c.writeConfig({ tally: "module: Tally, node: alpha", thrower: "module: Thrower, node: alpha" });
  const p = await until(async () => { const t = await find("thrower"); return t?.state === "failed" && t; }, "thrower failed");
  assert.match(p.error ?? "", /exploded on purpose/);
  assert.is((await find("tally"))?.state, "running");
});

lifecycle("an invalid edit keeps the last good config running", async () => {
  const good = c.readConfig();
  c.writeRaw(good.replace("processes:", "processes:\n  bad: { module: Tally, node: nowhere }"));
  await until(async () => (await c.post<{ configError: string | null }>("alpha", "status", {})).configError, "config error reported");
  const status = await c.post<{ configError: string }>("alpha", "status", {});
  assert.match(status.configError, /cluster\.yaml:\d+:\d+: Unknown node "nowhere"/);
  assert.is((await find("tally"))?.state, "running");
  assert.is(await find("bad"), undefined);
  // Read again with the same mistake (as an editor's second write does), then with another: each
  // problem is logged once. The daemon logs in order, so once the second is in, so is any repeat.
  await c.post("alpha", "reconcile", { names: [], reload: true });
  c.writeRaw(good.replace("processes:", "processes:\n  bad: { module: Tally, node: elsewhere }"));
  await until(() => /Unknown node "elsewhere"/.test(c.logs["alpha"]!), "the second mistake logged");
  assert.is(c.logs["alpha"]!.match(/Unknown node "nowhere".*keeping the last good config/g)?.length, 1, c.logs["alpha"]);
  c.writeRaw(good);
  await until(async () => (await c.post<{ configError: string | null }>("alpha", "status", {})).configError === null, "config error cleared");
});

lifecycle.run();

const isolation = suite("isolation");
let d: TestCluster;
isolation.before(async () => {
  d = await TestCluster.create({
    nodes: ["alpha"],
    settings: { executors: 2, stallMs: 1000 },
    processes: { tally: "module: Tally, node: alpha" },
  });
  await d.start("alpha");
  await until(async () => (await d.post<ProcessInfo[]>("alpha", "ps", {}))[0]?.state === "running", "tally running");
});
isolation.after(async () => d.close());

isolation("a busy-looping process does not stop ps from answering, and is stopped; neighbours keep running", async () => {
  d.writeConfig({ tally: "module: Tally, node: alpha", spin: "module: Spinner, node: alpha" });
  await until(async () => (await d.post<ProcessInfo[]>("alpha", "ps", {})).some((p) => p.name === "spin"), "spin started");
  for (let i = 0; i < 10; i++) {
    const t0 = Date.now();
    await d.post("alpha", "ps", {});
    assert.ok(Date.now() - t0 < 1000, "ps answered slowly");
    await sleep(50);
  }
  const spin = await until(async () => (await d.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === "spin" && p.state === "failed"), "spin failed");
  assert.match(spin.error ?? "", /did not yield/);
  const before = await d.call<number>("alpha", "tally", "get");
  await until(async () => (await d.call<number>("alpha", "tally", "get")) > before, "tally still counting");
});

isolation("a process exhausting its memory limit fails alone", async () => {
  d.writeConfig({ tally: "module: Tally, node: alpha", hog: "module: Hog, node: alpha, limits: { memoryMb: 64 }" });
  const hog = await until(async () => (await d.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === "hog" && p.state === "failed"), "hog failed", 30000);
  assert.match(hog.error ?? "", /memory/);
  const before = await d.call<number>("alpha", "tally", "get");
  await until(async () => (await d.call<number>("alpha", "tally", "get")) > before, "tally still counting");
});

isolation.run();
