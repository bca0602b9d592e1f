/**
 * Large states stream through a hand-off (the source's executor → the wire → the destination's
 * checkpoint file and executor), between real daemons on loopback: the state arrives intact, and
 * a kill -9 of either side mid-stream leaves exactly one copy running, with its state.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { SECRET, TestCluster, until, violations } from "../helpers/cluster.ts";
import { decodeState } from "../../daemon/snapshot/mod.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const SIZE = 48 * 1024 * 1024;
const large = suite("large states");
const clusters: TestCluster[] = [];
large.after.each(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(): Promise<{ c: TestCluster; locks: string; place(node: string): void }> {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], settings: { checkpointIntervalMs: 600000, handoffTimeoutMs: 20000 } });
  clusters.push(c);
  const locks = join(c.dir, "locks");
  mkdirSync(locks);
  const place = (node: string) => c.writeConfig({ big: `module: Exclusive, node: ${node}, args: ["${locks}", "${SIZE}"]` });
  place("alpha");
  return { c, locks, place };
}

const on = async (c: TestCluster, node: string) => (await c.post<ProcessInfo[]>(node, "ps", {})).find((p) => p.name === "big");

/** Waits until the destination has received part, not all, of the snapshot. */
async function midStream(c: TestCluster, node: string): Promise<void> {
  await until(async () => {
    const t = (await on(c, node))?.transfer;
    return t !== undefined && t.received > 0 && t.received < t.total;
  }, `${node} receiving the snapshot`, 30000, 5);
}

function partialFiles(c: TestCluster, node: string): string[] {
  const dir = join(c.dir, `.ferry/${node}/checkpoints`);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".tmp")) : [];
}

large("a 48 MiB state moves there and back intact; the destination's checkpoint is a verified format-2 snapshot", async () => {
  const { c, locks, place } = await cluster();
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("big", "alpha", 30000);
  await c.call("alpha", "big", "note", ["before the move"]);
  place("beta");
  const there = await c.waitRunningOn("big", "beta", 60000);
  assert.is(there.generation, 1);
  assert.ok(there.lastTransferBytes! > SIZE && there.lastTransferBytes! < SIZE + 4096, `${there.lastTransferBytes} bytes moved`);
  assert.is(await c.call("beta", "big", "verify"), SIZE);
  assert.equal(await c.call("beta", "big", "history"), ["before the move"]);
  const file = readFileSync(join(c.dir, ".ferry/beta/checkpoints/big@1.snap"));
  assert.is(file[4], 2, "format 2");
  const saved = decodeState(new Uint8Array(file.buffer, file.byteOffset, file.byteLength));
  assert.is((saved.fields.payload as Uint8Array).byteLength, SIZE);
  assert.equal(saved.fields.calls, ["before the move"]);
  await c.call("beta", "big", "note", ["on beta"]);
  place("alpha");
  const back = await c.waitRunningOn("big", "alpha", 60000);
  assert.is(back.generation, 2);
  assert.is(await c.call("alpha", "big", "verify"), SIZE);
  assert.equal(await c.call("alpha", "big", "history"), ["before the move", "on beta"]);
  assert.equal(violations(locks), []);
});

large("destination killed -9 mid-stream: the source resumes at once with its state; the next attempt moves it", async () => {
  const { c, locks, place } = await cluster();
  await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ delayPerChunkMs: 30 }) });
  await c.start("beta");
  await c.waitRunningOn("big", "alpha", 30000);
  await c.call("alpha", "big", "note", ["kept"]);
  place("beta");
  await midStream(c, "beta");
  // Bytes are counted as they arrive; the file they go to is opened on the thread pool.
  await until(() => partialFiles(c, "beta").length > 0, "beta writing the snapshot's partial file", 30000, 5);
  await c.stop("beta", "SIGKILL");
  const resumed = await until(async () => {
    const p = await on(c, "alpha");
    return p?.state === "running" && p.error?.includes("disconnected") ? p : undefined;
  }, "the rollback on alpha", 15000);
  assert.match(resumed.error ?? "", /rolled back/);
  assert.is(resumed.generation, 0);
  assert.is(await c.call("alpha", "big", "verify"), SIZE);
  assert.equal(await c.call("alpha", "big", "history"), ["kept"]);
  // The restarted beta pulls again at once, and that attempt's partial file takes the same name:
  // the killed transfer's is told apart by an mtime no fresh write has.
  const stale = partialFiles(c, "beta");
  assert.ok(stale.length > 0, "the killed transfer left a partial file");
  for (const f of stale) utimesSync(join(c.dir, ".ferry/beta/checkpoints", f), 0, 0);
  await c.start("beta");
  const leftOver = partialFiles(c, "beta").filter((f) => {
    try {
      return statSync(join(c.dir, ".ferry/beta/checkpoints", f)).mtimeMs === 0;
    } catch {
      return false; // gone since it was listed
    }
  });
  assert.equal(leftOver, [], "the partial checkpoint of the killed transfer is cleared at start");
  const moved = await c.waitRunningOn("big", "beta", 60000);
  assert.is(moved.generation, 1);
  assert.is(await c.call("beta", "big", "verify"), SIZE);
  assert.equal(await c.call("beta", "big", "history"), ["kept"]);
  assert.equal(violations(locks), []);
});

large("source killed -9 mid-stream: the destination keeps nothing, the source restarts from its checkpoint and the move completes once", async () => {
  const { c, locks, place } = await cluster();
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("big", "alpha", 30000);
  await c.call("alpha", "big", "note", ["checkpointed"]);
  // A graceful stop checkpoints every process: the state the restart must come back with.
  await c.stop("alpha", "SIGTERM");
  await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ delayPerChunkMs: 30 }) });
  await c.waitRunningOn("big", "alpha", 30000);
  place("beta");
  await midStream(c, "beta");
  await c.stop("alpha", "SIGKILL");
  // The broken stream leaves beta nothing: no held copy, no prepared record, no partial file (its
  // removal is the last step of giving up, a moment after the copy is dropped).
  await until(async () => {
    const held = await on(c, "beta");
    return (held === undefined || (held.state === "starting" && held.transfer === undefined)) && partialFiles(c, "beta").length === 0;
  }, "beta to give up the transfer and remove its partial file", 15000);
  assert.not.match(readFileSync(join(c.dir, ".ferry/beta/journal.ndjson"), "utf8"), /"op":"prepared"/);
  const events = await (await fetch(`${c.url("beta")}/v1/events`, { headers: { authorization: `Bearer ${SECRET}` } })).text();
  assert.not.match(events, /"type":"failed"/, "a broken transfer was announced as the process failing");
  await c.start("alpha");
  const moved = await c.waitRunningOn("big", "beta", 60000);
  assert.is(moved.generation, 1);
  assert.is(await c.call("beta", "big", "verify"), SIZE);
  assert.equal(await c.call("beta", "big", "history"), ["checkpointed"]);
  assert.is(await on(c, "alpha"), undefined);
  assert.equal(violations(locks), []);
});

large("a stream damaged on the way is refused by the destination before it is prepared; the source rolls back and keeps its state", async () => {
  const { c, locks, place } = await cluster();
  // Deep inside the state's bytes: only the trailing CRC can tell.
  await c.start("alpha", { FERRY_FAULTS: JSON.stringify({ flipByteAt: 20 * 1024 * 1024 }) });
  await c.start("beta");
  await c.waitRunningOn("big", "alpha", 30000);
  await c.call("alpha", "big", "note", ["intact"]);
  place("beta");
  const resumed = await until(async () => {
    const p = await on(c, "alpha");
    return p?.state === "running" && p.error?.includes("checksum") ? p : undefined;
  }, "the rollback on alpha", 30000);
  assert.match(resumed.error ?? "", /rolled back.*corrupt.*checksum does not match/);
  assert.is(resumed.generation, 0);
  assert.is(await c.call("alpha", "big", "verify"), SIZE);
  assert.equal(await c.call("alpha", "big", "history"), ["intact"]);
  const journal = readFileSync(join(c.dir, ".ferry/beta/journal.ndjson"), "utf8");
  assert.not.match(journal, /"op":"prepared"/);
  assert.equal(partialFiles(c, "beta"), []);
  assert.not.ok(existsSync(join(c.dir, ".ferry/beta/checkpoints/big@1.snap")));
  assert.equal(violations(locks), []);
});

large.run();
