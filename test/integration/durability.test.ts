import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";

const durability = suite("durability");
const clusters: TestCluster[] = [];
durability.after.each(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

/** A one-node cluster running a Tally, each test its own. */
async function tally(settings: Record<string, unknown> = {}): Promise<TestCluster> {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Tally", "Heavy"], settings: { checkpointIntervalMs: 200, ...settings }, processes: { tally: "module: Tally, node: alpha" } });
  clusters.push(c);
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {}))[0]?.state === "running", "tally running");
  return c;
}

const find = async (c: TestCluster, name: string) => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === name);

/** Waits for a checkpoint that holds `note` (the journal records every checkpoint it takes). */
async function checkpointed(c: TestCluster, note: string): Promise<void> {
  await until(() => {
    const journal = readFileSync(join(c.dir, ".ferry/alpha/journal.ndjson"), "utf8");
    return journal.split("\n").some((l) => l.includes('"checkpoint"') && l.includes('"tally"') && Buffer.from(JSON.parse(l).data ?? "", "base64").includes(note));
  }, `a checkpoint holding "${note}"`);
}

durability("a graceful stop checkpoints, and the restart resumes from exactly that state", async () => {
  const c = await tally({ checkpointIntervalMs: 60000 });
  await c.call("alpha", "tally", "note", ["before-stop"]);
  const counted = await c.call<number>("alpha", "tally", "get");
  await c.stop("alpha", "SIGTERM");
  await c.start("alpha");
  const p = await until(async () => { const t = await find(c, "tally"); return t?.state === "running" && t; }, "tally resumed");
  assert.is(p.generation, 0);
  assert.equal(await c.call("alpha", "tally", "history"), ["before-stop"]);
  assert.ok((await c.call<number>("alpha", "tally", "get")) >= counted);
  assert.match(c.logs.alpha ?? "", /1 processes restored/);
});

durability("kill -9 then restart resumes from the latest checkpoint, once", async () => {
  const c = await tally();
  await c.call("alpha", "tally", "note", ["before-kill"]);
  await checkpointed(c, "before-kill");
  await c.stop("alpha", "SIGKILL");
  await c.start("alpha");
  await until(async () => (await find(c, "tally"))?.state === "running", "tally resumed");
  const ps = await c.post<ProcessInfo[]>("alpha", "ps", {});
  assert.is(ps.filter((p) => p.name === "tally").length, 1);
  assert.equal(await c.call("alpha", "tally", "history"), ["before-kill"]);
});

durability("a process removed while its daemon was down is stopped on restart", async () => {
  const c = await tally();
  await c.stop("alpha", "SIGTERM");
  c.writeConfig({});
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).length === 0, "tally gone");
});

durability("a checkpoint file deleted while the daemon was down fails the process, naming the file", async () => {
  const c = await tally();
  c.writeConfig({ tally: "module: Tally, node: alpha", heavy: "module: Heavy, node: alpha, args: ['1']" });
  await until(async () => (await find(c, "heavy"))?.state === "running", "heavy running");
  await c.stop("alpha", "SIGTERM");
  const snap = join(c.dir, ".ferry/alpha/checkpoints/heavy@0.snap");
  rmSync(snap);
  await c.start("alpha");
  const heavy = await until(async () => { const p = await find(c, "heavy"); return p?.state === "failed" && p; }, "heavy failed");
  assert.match(heavy.error ?? "", /heavy@0\.snap.*missing|missing.*heavy@0\.snap/);
  assert.is((await find(c, "tally"))?.state, "running");
});

durability("a corrupted checkpoint file fails the process, naming the file", async () => {
  const c = await tally();
  c.writeConfig({ tally: "module: Tally, node: alpha", heavy: "module: Heavy, node: alpha, args: ['1']" });
  await until(async () => (await find(c, "heavy"))?.state === "running", "heavy running");
  await c.stop("alpha", "SIGTERM");
  const snap = join(c.dir, ".ferry/alpha/checkpoints/heavy@0.snap");
  const bytes = readFileSync(snap);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  writeFileSync(snap, bytes);
  await c.start("alpha");
  const heavy = await until(async () => { const p = await find(c, "heavy"); return p?.state === "failed" && p; }, "heavy failed");
  assert.match(heavy.error ?? "", /heavy@0\.snap.*corrupt/);
});

durability("an unreadable journal line in the middle is skipped and reported in status and the log", async () => {
  const c = await tally();
  await c.stop("alpha", "SIGTERM");
  const journal = join(c.dir, ".ferry/alpha/journal.ndjson");
  const lines = readFileSync(journal, "utf8").split("\n");
  lines.splice(1, 0, '{"op":"own","name":"half');
  writeFileSync(journal, lines.join("\n"));
  await c.start("alpha");
  const status = await c.post<{ storage: string[] }>("alpha", "status", {});
  assert.match(status.storage.join("\n"), /journal\.ndjson:2: unreadable record skipped/);
  assert.match(c.logs.alpha ?? "", /journal\.ndjson:2: unreadable record skipped/);
  assert.is((await find(c, "tally"))?.state, "running");
});

durability("a restart says how old the state it restored is", async () => {
  const c = await tally();
  await c.call("alpha", "tally", "note", ["aged"]);
  await checkpointed(c, "aged");
  await c.stop("alpha", "SIGKILL");
  await c.start("alpha");
  await until(async () => (await find(c, "tally"))?.state === "running", "tally resumed");
  const events: FerryEvent[] = [];
  for await (const e of c.client("alpha").events(false)) events.push(e);
  const restored = events.find((e) => e.type === "restored" && e.process === "tally");
  assert.match(restored?.reason ?? "", /checkpoint taken .* ago/);
});

durability.run();
