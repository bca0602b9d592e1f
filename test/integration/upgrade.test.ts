// Hot upgrade with real daemons: editing a module's file moves the processes running it onto the
// new code in place, with their state; any failure leaves them on the old code with the reason.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECRET, TestCluster, until } from "../helpers/cluster.ts";
import { counterSource } from "../helpers/modules.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";

const upgrade = suite("hot upgrade");
let c: TestCluster;

upgrade.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha"], modules: [] });
});
upgrade.after(async () => c.close());

const write = (module: string, text: string) => writeFileSync(join(c.dir, "processes", `${module}.ts`), text);
const find = async (name: string) => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === name);
const events = async () => (await (await fetch(`${c.url("alpha")}/v1/events`, { headers: { authorization: `Bearer ${SECRET}` } })).text())
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
  const loaded = new RegExp(`^Ticker\\s+alpha\\s+${after.moduleVersion}\\s+yes$`, "m");
  await until(async () => loaded.test((await c.cli(["status"])).stdout), "status to show the version the node loaded");
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

upgrade("upgrade: manual waits for `ferry upgrade`; --dry-run tries the new code without touching the process", async () => {
  write("Manual", counterSource("m1").replace("class Ticker", "class Manual"));
  c.writeConfig({ t1: "module: Ticker, node: alpha", m: "module: Manual, node: alpha, upgrade: manual" });
  await until(async () => (await find("m"))?.state === "running", "m running");
  write("Manual", counterSource("m2", "upgrade(from: string) { this.count += 1000; }").replace("class Ticker", "class Manual"));
  const pending = await until(async () => { const p = await find("m"); return p?.pendingVersion && p; }, "the new version to show as pending");
  // Given time in which an automatic upgrade would have happened, it still runs the old code.
  const window = Date.now() + 1500;
  while (Date.now() < window) assert.match(await c.call<string>("alpha", "m", "get"), /^m1:/);

  const dry = await c.cli(["upgrade", "m", "--dry-run", "--json"]);
  assert.is(dry.code, 0, dry.stderr);
  const tried = JSON.parse(dry.stdout);
  assert.equal([tried.ok, tried.changed, tried.dryRun, tried.from, tried.to], [true, false, true, pending.moduleVersion, pending.pendingVersion]);
  assert.match(await c.call<string>("alpha", "m", "get"), /^m1:/);

  const before = countOf(await c.call<string>("alpha", "m", "get"));
  const done = await c.cli(["upgrade", "m"]);
  assert.is(done.code, 0, done.stderr);
  assert.match(done.stdout, new RegExp(`m on alpha: ${pending.moduleVersion} → ${pending.pendingVersion} \\(downtime`));
  const answer = await c.call<string>("alpha", "m", "get");
  assert.match(answer, /^m2:/);
  assert.ok(countOf(answer) >= before + 1000, `state kept: ${answer}`);
  assert.is((await find("m"))?.pendingVersion, undefined);

  write("Manual", counterSource("m3", "upgrade() { throw new Error('m3 refuses'); }").replace("class Ticker", "class Manual"));
  await until(async () => (await find("m"))?.pendingVersion, "m3 pending");
  const wouldFail = await c.cli(["upgrade", "m", "--dry-run"]);
  assert.is(wouldFail.code, 1);
  assert.match(wouldFail.stderr, /^ferry: Upgrade of "m" to version "[0-9a-f]{12}" would fail: .*m3 refuses/);
  const all = await c.cli(["upgrade", "--all"]);
  assert.is(all.code, 1);
  assert.match(all.stdout, /m on alpha: .* failed, it keeps running/);
  const after = await find("m");
  assert.equal([after?.state, after?.moduleVersion], ["running", pending.pendingVersion]);
  assert.match(await c.call<string>("alpha", "m", "get"), /^m2:/);
});

upgrade("a checkpoint keeps its version: restored after the file changed, the new code's upgrade() takes it over", async () => {
  write("Durable", counterSource("d1").replace("class Ticker", "class Durable"));
  c.writeConfig({ t1: "module: Ticker, node: alpha", d: "module: Durable, node: alpha" });
  await until(async () => (await find("d"))?.state === "running" && countOf(await c.call<string>("alpha", "d", "get")) > 5, "d counting");
  await c.stop("alpha"); // graceful: checkpointed at stop, with the version of its state
  write("Durable", counterSource("d2", "upgrade(from: string) { this.count += 1000; }").replace("class Ticker", "class Durable"));
  await c.start("alpha");
  const answer = await until(async () => { const a = await c.call<string>("alpha", "d", "get").catch(() => ""); return a.startsWith("d2:") && a; }, "d restored on the new code");
  assert.ok(countOf(answer) > 1005, `state restored and upgraded: ${answer}`);
  assert.ok(countOf(answer) < 2000, `upgraded once: ${answer}`);
  const event = (await events()).find((e) => e.type === "upgraded" && e.process === "d");
  assert.match(event?.reason ?? "", /older version/);
});

upgrade.run();
