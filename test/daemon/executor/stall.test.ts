import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeState } from "../../../daemon/snapshot/mod.ts";
import { call, moduleDir, poolPerTest, rejection, settlesWithin, startReq, until } from "./harness.ts";

// Stall detection on real worker threads: whatever process code never yields — from the first
// line of run(), in a constructor, in resume() — is caught after stallMs and blamed by name.

const modules = moduleDir({
  "Busy.ts": `export default class Busy { constructor(_a: string[]) {} async run() { for (;;) {} } }`,
  "BusyCtor.ts": `export default class BusyCtor { constructor(_a: string[]) { for (;;) {} } async run() {} }`,
  "BusyResume.ts": `
export default class BusyResume {
  constructor(_a: string[]) {}
  resume() { for (;;) {} }
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) { while (!ctx.signal.aborted) await ctx.sleep(10); }
}`,
  "Big.ts": `
export default class Big {
  rows: number[][] = [];
  constructor(_a: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) { while (!ctx.signal.aborted) await ctx.sleep(10); }
  size() { return this.rows.length; }
}`,
  "Counter.ts": `
export default class Counter {
  count = 0;
  constructor(_a: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) { this.count++; await ctx.sleep(10); }
  }
  get() { return this.count; }
}`,
});
const openPool = poolPerTest(test, modules);

test("a run() that spins from its first line on a fresh worker is caught after stallMs and blamed, its neighbour lost with it", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  // Both queued before the worker has booted: it spins before its first timer-driven heartbeat.
  const counter = pool.start(startReq(modules.path("Counter"), "counter"));
  const busy = pool.start(startReq(modules.path("Busy"), "busy"));
  await busy; // run() starts after the reply, so the start itself succeeds
  // The counter's start may or may not finish before the spin: either way it is not left hanging,
  // and the counter is among the lost (to be started again by the node).
  await counter.catch((error: { code: string }) => assert.is(error.code, "executor_failed"));
  await until(() => made.seen.lost.length, "the lost event", 15_000);
  const [report] = made.seen.lost;
  assert.equal(report!.names.sort(), ["busy", "counter"]);
  assert.is(report!.culprit, "busy");
  assert.match(report!.reason, /did not yield for 300 ms: process "busy" ran run\(\) without yielding/);
  assert.not.ok(pool.has("busy"));
  // The replacement worker runs processes again.
  await pool.start(startReq(modules.path("Counter"), "counter"));
  await until(async () => (await call<number>(pool, "counter", "get")) >= 2, "the counter to count on the replacement worker");
  assert.is(made.seen.lost.length, 1, "reported lost more than once");
});

test("encoding and decoding a large state takes longer than stallMs without counting as a stall", async () => {
  const made = openPool({ stallMs: 100 });
  const pool = made.pool;
  // Built here, so the only heavy work in the worker is Ferry's codec: decode, then encode.
  const rows = Array.from({ length: 400000 }, (_, i) => [i, i * 2, i * 3]);
  await pool.start(startReq(modules.path("Big"), "big", { snapshot: encodeState({ className: "Big", fields: { rows } }) }));
  const started = performance.now();
  const { snapshot } = await pool.request({ type: "suspend", name: "big", deadlineMs: 5000 });
  const encodeMs = performance.now() - started;
  await pool.request({ type: "discard", name: "big" });
  const again = performance.now();
  await pool.start(startReq(modules.path("Big"), "big", { snapshot }));
  const decodeMs = performance.now() - again;
  assert.ok(Math.max(encodeMs, decodeMs) > 100, `the state was too small to prove anything (${encodeMs.toFixed(0)} / ${decodeMs.toFixed(0)} ms)`);
  assert.is(await call<number>(pool, "big", "size"), 400000);
  assert.equal(made.seen.lost, []);
});

test("a constructor that never returns fails its own start with the reason and is not reported lost; its neighbour is", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  await pool.start(startReq(modules.path("Counter"), "counter"));
  await until(async () => (await call<number>(pool, "counter", "get")) >= 1, "the counter to count");
  const error = await rejection(pool.start(startReq(modules.path("BusyCtor"), "stuck")));
  assert.is(error.code, "process_failed");
  assert.match(error.message, /Process "stuck" was stopped: its executor did not yield for 300 ms: process "stuck" never returned from its constructor/);
  assert.not.ok(pool.has("stuck"));
  await until(() => made.seen.lost.length, "the lost event");
  assert.equal(made.seen.lost, [{ names: ["counter"], reason: made.seen.lost[0]!.reason, culprit: "stuck" }]);
  // Nothing restarts it: the replacement worker hosts the neighbour again, and no second loss follows.
  await pool.start(startReq(modules.path("Counter"), "counter"));
  await until(async () => (await call<number>(pool, "counter", "get")) >= 2, "the counter to count on the replacement worker");
  assert.is(made.seen.lost.length, 1);
  assert.equal(made.seen.exits, []);
});

test("a resume() that never returns while starting from a snapshot fails that start, blamed on resume()", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  const snapshot = encodeState({ className: "BusyResume", fields: {} });
  const error = await rejection(pool.start(startReq(modules.path("BusyResume"), "resumer", { snapshot })));
  assert.is(error.code, "process_failed");
  assert.match(error.message, /process "resumer" never returned from resume\(\)/);
  assert.equal(made.seen.lost, [], "a process that never finished starting was reported lost");
});

test("a resume() that never returns on activate is blamed on resume(), and the process is reported lost", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  await pool.start(startReq(modules.path("BusyResume"), "resumer", { hold: true }));
  const activated = rejection(pool.request({ type: "activate", name: "resumer", generation: 0, run: true }));
  assert.is((await activated).code, "executor_failed");
  await until(() => made.seen.lost.length, "the lost event");
  assert.equal(made.seen.lost[0]!.names, ["resumer"]);
  assert.is(made.seen.lost[0]!.culprit, "resumer");
  assert.match(made.seen.lost[0]!.reason, /never returned from resume\(\)/);
});

test("inspect() answers for its module even when the worker it asked is lost to another process's stall", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  const stuck = rejection(pool.start(startReq(modules.path("BusyCtor"), "stuck")));
  const inspected = pool.inspect(modules.path("Counter"), "v1");
  assert.is((await stuck).code, "process_failed");
  assert.equal((await inspected).methods, ["get"]);
});

test("close() returns within its bound while a worker spins", async () => {
  const made = openPool({ stallMs: 60_000 });
  const pool = made.pool;
  await pool.start(startReq(modules.path("Busy"), "busy"));
  const waiting = rejection(pool.request({ type: "capture", name: "busy" }));
  const closed = pool.close();
  assert.ok(await settlesWithin(closed, 20_000), "close() did not return");
  assert.is((await waiting).code, "executor_failed");
  assert.equal(made.seen.lost, []);
});

test.run();
