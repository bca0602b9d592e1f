// Hot upgrade on a daemon running on Deno: a TypeScript module whose state holds a file stream is
// upgraded in place, a failing upgrade leaves the old code writing, and every line is written once.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until } from "../helpers/cluster.ts";
import { linesProblem, linesSource } from "../helpers/modules.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const onDeno = suite("hot upgrade on Deno");
let c: TestCluster;

onDeno.before(async () => {
  c = await TestCluster.create({ nodes: ["delta"], runtimes: { delta: "deno" }, modules: [] });
  mkdirSync(join(c.dir, "data"));
});
onDeno.after(async () => c.close());

const write = (text: string) => writeFileSync(join(c.dir, "processes/Lines.ts"), text);
const find = async () => (await c.post<ProcessInfo[]>("delta", "ps", {})).find((p) => p.name === "lines");
const countOf = (answer: string) => Number(answer.split(":")[1]);
const get = () => c.call<string>("delta", "lines", "get");

onDeno("a TypeScript process with a file stream is upgraded in place with its state, once, on Deno", async () => {
  write(linesSource("a"));
  c.writeConfig({ lines: "module: Lines, node: delta" });
  await c.start("delta");
  await until(async () => (await find())?.state === "running" && countOf(await get()) > 20, "lines writing", 30000);
  const version = (await find())!.moduleVersion;
  write(linesSource("x", "upgrade() { this.out.writeLine('junk'); throw new Error('x refuses'); }"));
  const failed = await until(async () => { const p = await find(); return p?.error?.includes("x refuses") && p; }, "the failed upgrade to show");
  assert.equal([failed.state, failed.moduleVersion], ["running", version]);
  const mid = countOf(await get());
  await until(async () => countOf(await get()) > mid + 10, "the old code to write on");
  write(linesSource("b", "from = ''; upgrade(fromVersion: string) { this.from = fromVersion; } origin() { return this.from.slice(0, 12); }"));
  await until(async () => (await get()).startsWith("b:"), "lines on the new code", 30000);
  assert.is(await c.call<string>("delta", "lines", "origin"), version);
  await until(async () => countOf(await get()) > mid + 30, "the new code to write on");
  await c.call("delta", "lines", "finish");
  await until(async () => (await find())?.state === "completed", "lines completed");
  const text = readFileSync(join(c.dir, "data/lines.txt"), "utf8");
  assert.not.ok(text.includes("junk"));
  assert.is(linesProblem(text, "a", "b"), undefined);
});

onDeno.run();
