// Hot upgrade across a cluster of real daemons: an upgrade racing a migration converges on one
// copy with its state, many processes of one module each take the new code with their own state,
// and file streams write every line exactly once across an upgrade and a failed one.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECRET, TestCluster, until } from "../helpers/cluster.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";
import { counterSource, linesProblem, linesSource } from "../helpers/modules.ts";

const cluster = suite("hot upgrade in a cluster");
let c: TestCluster;

cluster.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: [] });
  mkdirSync(join(c.dir, "data"));
  c.writeConfig({});
  await Promise.all([c.start("alpha"), c.start("beta")]);
});
cluster.after(async () => c.close());

const write = (module: string, text: string) => writeFileSync(join(c.dir, "processes", `${module}.ts`), text);
const countOf = (answer: string) => Number(answer.split(":")[1]);
const events = async (node: string) => (await (await fetch(`${c.url(node)}/v1/events`, { headers: { authorization: `Bearer ${SECRET}` } })).text())
  .trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as FerryEvent);
const holder = async (name: string) => (await c.ps()).filter((p) => p.name === name && p.state !== "starting");

cluster("an upgrade racing a migration converges: one copy, on the new node, new code, state kept", async () => {
  write("Racer", counterSource("r1").replace("class Ticker", "class Racer"));
  c.writeConfig({ racer: "module: Racer, node: alpha" });
  await c.waitRunningOn("racer", "alpha", 20000);
  await until(async () => countOf(await c.call<string>("alpha", "racer", "get")) > 10, "racer to count");
  const before = countOf(await c.call<string>("alpha", "racer", "get"));
  // The file and the placement change at once.
  write("Racer", counterSource("r2", "upgrade() { this.count += 1000; }").replace("class Ticker", "class Racer"));
  c.writeConfig({ racer: "module: Racer, node: beta" });
  await c.waitRunningOn("racer", "beta", 30000);
  const answer = await until(async () => { const a = await c.call<string>("beta", "racer", "get"); return a.startsWith("r2:") && a; }, "racer on the new code");
  assert.ok(countOf(answer) >= before + 1000, `state kept and upgraded once: ${answer} (was ${before})`);
  assert.ok(countOf(answer) < before + 2000, `upgrade() applied once: ${answer}`);
  const [only, ...others] = await holder("racer");
  assert.equal([only?.node, others.length, only?.pendingVersion], ["beta", 0, undefined]);
});

cluster("20 processes of one module are upgraded, each keeping its own count and counting on", async () => {
  write("Many", counterSource("n1").replace("class Ticker", "class Many"));
  const names = Array.from({ length: 20 }, (_, i) => `many${i}`);
  c.writeConfig(Object.fromEntries(names.map((n, i) => [n, `module: Many, node: ${i % 2 ? "beta" : "alpha"}`])));
  const nodeOf = (i: number) => (i % 2 ? "beta" : "alpha");
  await until(async () => (await c.ps()).filter((p) => p.name.startsWith("many") && p.state === "running").length === 20, "20 running", 30000);
  await until(async () => (await Promise.all(names.map((n, i) => c.call<string>(nodeOf(i), n, "get")))).every((a) => countOf(a) > 3), "all counting");
  const before = await Promise.all(names.map((n, i) => c.call<string>(nodeOf(i), n, "get").then(countOf)));
  write("Many", counterSource("n2").replace("class Ticker", "class Many"));
  const after = await until(async () => {
    const answers = await Promise.all(names.map((n, i) => c.call<string>(nodeOf(i), n, "get")));
    return answers.every((a) => a.startsWith("n2:")) && answers.map(countOf);
  }, "all 20 on the new code", 60000);
  after.forEach((count, i) => assert.ok(count >= before[i]!, `${names[i]} kept its count: ${count} >= ${before[i]}`));
  await until(async () => (await Promise.all(names.map((n, i) => c.call<string>(nodeOf(i), n, "get").then(countOf)))).every((count, i) => count > after[i]!), "each to count on");
  const upgraded = [...(await events("alpha")), ...(await events("beta"))].filter((e) => e.type === "upgraded" && e.process?.startsWith("many"));
  assert.equal(upgraded.map((e) => e.process).sort(), [...names].sort());
  assert.ok(upgraded.every((e) => typeof e.ms === "number"), "each swap's downtime is reported");
  const ps = (await c.ps()).filter((p): p is ProcessInfo => p.name.startsWith("many"));
  assert.is(new Set(ps.map((p) => p.moduleVersion)).size, 1);
  c.writeConfig({});
  await until(async () => !(await c.ps()).some((p) => p.name.startsWith("many")), "the 20 removed");
});

cluster("file streams write every line exactly once across an upgrade and a failed one", async () => {
  write("Lines", linesSource("a"));
  c.writeConfig({ lines: "module: Lines, node: alpha" });
  await c.waitRunningOn("lines", "alpha", 20000);
  await until(async () => countOf(await c.call<string>("alpha", "lines", "get")) > 20, "lines to write");
  // New code that writes through the stream, then refuses: the old code goes on from its offset.
  write("Lines", linesSource("x", "upgrade() { this.out.writeLine('junk from a failed upgrade'); throw new Error('x refuses'); }"));
  await until(async () => (await holder("lines"))[0]?.error?.includes("x refuses"), "the failed upgrade to show");
  const mid = countOf(await c.call<string>("alpha", "lines", "get"));
  await until(async () => countOf(await c.call<string>("alpha", "lines", "get")) > mid + 10, "the old code to write on");
  write("Lines", linesSource("b"));
  await until(async () => (await c.call<string>("alpha", "lines", "get")).startsWith("b:"), "lines on the new code");
  await until(async () => countOf(await c.call<string>("alpha", "lines", "get")) > mid + 30, "the new code to write on");
  await c.call<number>("alpha", "lines", "finish");
  await until(async () => (await holder("lines"))[0]?.state === "completed", "lines completed");
  const text = readFileSync(join(c.dir, "data/lines.txt"), "utf8");
  assert.not.ok(text.includes("junk"), "the failed upgrade's output was cut");
  assert.is(linesProblem(text, "a", "b"), undefined);
});

cluster.run();
