// Hot upgrade with real daemons: editing a module's file moves the processes running it onto the
// new code in place, with their state; any failure leaves them on the old code with the reason.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";

/** A counter whose `get` answers `<tag>:<count>`; `extra` is spliced into the class body. */
export function counterSource(tag: string, extra = ""): string {
  return `export default class Ticker {
  count = 0;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) { this.count++; await ctx.sleep(20); }
  }
  get() { return "${tag}:" + this.count; }
  ${extra}
}
`;
}

const upgrade = suite("hot upgrade");
let c: TestCluster;

upgrade.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha"], modules: [] });
});
upgrade.after(async () => c.close());

const write = (module: string, text: string) => writeFileSync(join(c.dir, "processes", `${module}.ts`), text);
const find = async (name: string) => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === name);
const events = async () => (await (await fetch(`${c.url("alpha")}/v1/events`, { headers: { authorization: "Bearer test-secret" } })).text())
  .trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as FerryEvent);
const countOf = (answer: string) => Number(answer.split(":")[1]);

upgrade("editing the module upgrades the running process in place: new code, old state, upgrade(fromVersion) called", async () => {
  write("Ticker", counterSource("v1"));
  c.writeConfig({ t1: "module: Ticker, node: alpha" });
  await c.start("alpha");
  const before = await until(async () => { const p = await find("t1"); return p?.state === "running" && p.moduleVersion && p; }, "t1 running");
  await until(async () => countOf(await c.call<string>("alpha", "t1", "get")) > 5, "t1 to count");
  write("Ticker", counterSource("v2", "from = ''; upgrade(fromVersion: string) { this.from = fromVersion; this.count += 1000; } origin() { return this.from; }"));
  const answer = await until(async () => { const a = await c.call<string>("alpha", "t1", "get"); return a.startsWith("v2:") && a; }, "t1 to answer with the new code");
  assert.ok(countOf(answer) > 1005, `state kept and upgrade() applied: ${answer}`);
  const after = (await find("t1"))!;
  assert.is.not(after.moduleVersion, before.moduleVersion);
  assert.is(after.pendingVersion, undefined);
  assert.is(after.generation, before.generation);
  const origin = await c.call<string>("alpha", "t1", "origin");
  assert.ok(before.moduleVersion!.startsWith(origin.slice(0, 12)) || origin.startsWith(before.moduleVersion!), `upgrade() got the old version: ${origin}`);
  const upgraded = (await events()).find((e) => e.type === "upgraded" && e.process === "t1");
  assert.ok(upgraded, "an upgraded event");
  assert.is(upgraded!.from, before.moduleVersion);
  assert.is(upgraded!.to, after.moduleVersion);
  assert.type(upgraded!.ms, "number");
});

upgrade("upgrade() throwing leaves the old code running from its state, with the reason in ps and events", async () => {
  const version = (await find("t1"))!.moduleVersion;
  const first = countOf(await c.call<string>("alpha", "t1", "get"));
  write("Ticker", counterSource("v3", "upgrade() { throw new Error('cannot convert the count'); }"));
  const failed = await until(async () => { const p = await find("t1"); return p?.error?.includes("cannot convert the count") && p; }, "the failure in ps");
  assert.is(failed.state, "running");
  assert.is(failed.moduleVersion, version);
  assert.ok(failed.pendingVersion && failed.pendingVersion !== version, "the version not taken shows as pending");
  const answer = await c.call<string>("alpha", "t1", "get");
  assert.match(answer, /^v2:/);
  assert.ok(countOf(answer) >= first, "nothing lost");
  await until(async () => countOf(await c.call<string>("alpha", "t1", "get")) > countOf(answer), "the old code to keep counting");
  const event = (await events()).find((e) => e.type === "upgrade-failed" && e.process === "t1");
  assert.match(event?.reason ?? "", /cannot convert the count/);
});

upgrade("a syntax error in the new file changes nothing: the process keeps running and says why", async () => {
  write("Ticker", counterSource("v2", "from = ''; upgrade(fromVersion: string) { this.from = fromVersion; } origin() { return this.from; }"));
  await until(async () => (await c.call<string>("alpha", "t1", "get")).startsWith("v2:") && (await find("t1"))?.error === null, "t1 on a good version again");
  const good = (await find("t1"))!;
  const seen = (await events()).length;
  write("Ticker", "export default class Ticker {\n  run( {\n}\n");
  const p = await until(async () => { const p = await find("t1"); return p?.error?.startsWith("Upgrade to") && p; }, "the load failure in ps");
  assert.is(p.state, "running");
  assert.is(p.moduleVersion, good.moduleVersion);
  assert.match(p.error ?? "", /Ticker\.ts/);
  const later = (await events()).slice(seen);
  assert.not.ok(later.some((e) => e.process === "t1" && (e.type === "suspended" || e.type === "upgraded")), "never suspended");
  assert.match(await c.call<string>("alpha", "t1", "get"), /^v2:/);
});

upgrade.run();
