import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeState } from "../../../daemon/snapshot/mod.ts";
import { call, moduleDir, poolPerTest, recordingPool, rejection, sleep, startReq, until } from "./harness.ts";

// Every request has a timeout: a process awaiting something that never settles costs its caller
// a clear `timeout` error, never a hang, while its executor (alive and beating) is left alone.

const modules = moduleDir({
  "Hanger.ts": `
export default class Hanger {
  count = 0;
  constructor(_a: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) { this.count++; await ctx.sleep(10); }
  }
  resume() { return new Promise(() => {}); }
  hang() { return new Promise(() => {}); }
  get() { return this.count; }
}`,
  // resume() marks that it began and returns once the test creates "go"; run() marks that it ran:
  // a start that timed out meanwhile must never get as far as run().
  "SlowResume.ts": `
import { existsSync, writeFileSync } from "node:fs";
export default class SlowResume {
  dir = "";
  constructor(_a: string[]) {}
  async resume() {
    writeFileSync(this.dir + "/resumed", "");
    while (!existsSync(this.dir + "/go")) await new Promise((r) => setTimeout(r, 10));
    writeFileSync(this.dir + "/resume-returned", "");
  }
  async run() { writeFileSync(this.dir + "/ran", ""); }
}`,
});
const openPool = poolPerTest(test, modules);

test("a call that never settles rejects with timeout naming the process and the method; the process keeps answering", async () => {
  const made = openPool();
  const pool = made.pool;
  await pool.start(startReq(modules.path("Hanger"), "hanger"));
  const error = await rejection(pool.request({ type: "call", name: "hanger", method: "hang", args: [] }, { timeoutMs: 200 }));
  assert.is(error.code, "timeout");
  assert.match(error.message, /hanger\.hang\(\) got no answer within 200 ms/);
  const before = await call<number>(pool, "hanger", "get");
  await until(async () => (await call<number>(pool, "hanger", "get")) > before, "the process to keep running");
  assert.equal(made.seen.lost, []);
});

test("a request without its own timeout gets the pool's timeout for its type", async () => {
  const made = openPool({ timeouts: { activate: 200 } });
  const pool = made.pool;
  await pool.start(startReq(modules.path("Hanger"), "hanger", { hold: true }));
  const error = await rejection(pool.request({ type: "activate", name: "hanger", generation: 0, run: true }));
  assert.is(error.code, "timeout");
  assert.match(error.message, /Request "activate" to process "hanger" got no answer within 200 ms/);
});

test("a start that times out is dropped by its worker: run() never starts, and the name can be started again", async () => {
  const made = openPool();
  const pool = made.pool;
  const snapshot = encodeState({ className: "SlowResume", fields: { dir: modules.dir } });
  // Long enough for an idle worker to reach resume() first, which the test awaits.
  const started = rejection(pool.start(startReq(modules.path("SlowResume"), "slow", { snapshot }), undefined, { timeoutMs: 4000 }));
  await until(() => existsSync(join(modules.dir, "resumed")), "the start to reach resume()");
  const error = await started;
  assert.is(error.code, "timeout");
  assert.match(error.message, /Request "start" to process "slow" got no answer within 4000 ms/);
  assert.not.ok(pool.has("slow"));
  writeFileSync(join(modules.dir, "go"), "");
  await until(() => existsSync(join(modules.dir, "resume-returned")), "the timed-out start's resume() to return");
  // Observation window: had the worker kept the process, run() would start right after resume().
  await sleep(300);
  assert.not.ok(existsSync(join(modules.dir, "ran")), "run() of a timed-out start ran");
  const again = encodeState({ className: "Hanger", fields: { count: 0 } });
  await pool.start(startReq(modules.path("Hanger"), "slow", { snapshot: again, hold: true }));
  assert.ok(pool.has("slow"));
});

test("a suspend's timeout comes on top of its own deadline", async () => {
  const made = openPool({ timeouts: { suspend: 100 } });
  const pool = made.pool;
  await pool.start(startReq(modules.path("Hanger"), "hanger"));
  // run() returns at once, then suspend() has no hook; the capture answers well within 1.1 s.
  const { snapshot } = await pool.request({ type: "suspend", name: "hanger", deadlineMs: 1000 });
  assert.ok(snapshot.byteLength > 0);
});

test("close() fails the requests still waiting instead of leaving them pending", async () => {
  const made = openPool();
  const pool = made.pool;
  await pool.start(startReq(modules.path("Hanger"), "hanger"));
  const waiting = rejection(pool.request({ type: "call", name: "hanger", method: "hang", args: [] }));
  await pool.close();
  const error = await waiting;
  assert.is(error.code, "executor_failed");
  assert.match(error.message, /closed before the "call" request was answered/);
});

test("the pool refuses options it cannot honour", async () => {
  const error = await rejection((async () => recordingPool({ logLinesPerSecond: 0 }))());
  assert.is(error.code, "config_invalid");
  assert.match(error.message, /"logLinesPerSecond" must be a positive number, got "0"/);
  const timeout = await rejection((async () => recordingPool({ timeouts: { call: -1 } }))());
  assert.match(timeout.message, /"timeouts.call"/);
});

test.run();
