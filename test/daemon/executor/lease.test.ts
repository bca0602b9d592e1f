import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ExecutorPool } from "../../../daemon/executor/pool.ts";
import { moduleDir, recordingPool, rejection, sleep, startReq, until } from "./harness.ts";

// Self-fencing on real worker threads: processes append one byte per step to a file of their own,
// so a file's size is the number of steps taken. Once the lease lapses no step may run until it is
// renewed; an evicted executor never runs one again.

const modules = moduleDir({
  // args: [file, "sleep" | "timer"]: waits through ctx.sleep(), or through plain timers that Ferry
  // sees only via the async context.
  "Stepper.ts": `
import { appendFileSync } from "node:fs";
export default class Stepper {
  constructor(public args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) {
      appendFileSync(this.args[0]!, ".");
      if (this.args[1] === "timer") await new Promise((r) => setTimeout(r, 5));
      else await ctx.sleep(5);
    }
  }
  steps() { return 0; }
}`,
});
let pool: ExecutorPool | undefined;
let n = 0;

test.after.each(async () => {
  await pool?.close();
  pool = undefined;
});
test.after(() => modules.remove());

const HOUR = 3_600_000;
const stepsOf = (file: string) => (existsSync(file) ? statSync(file).size : 0);

/** Starts a Stepper named `name` writing to a fresh file, and returns the file. */
async function stepper(p: ExecutorPool, name: string, wait: "sleep" | "timer", memoryMb?: number): Promise<string> {
  const file = join(modules.dir, `${name}-${n++}.steps`);
  await p.start(startReq(modules.path("Stepper"), name, { args: [file, wait] }), memoryMb);
  return file;
}

async function stepsMoreThan(file: string, count: number, what: string): Promise<void> {
  await until(() => stepsOf(file) > count, what);
}

test("a lapsed lease stops every step until it is renewed, and a worker blocked on it is not taken for a stall", async () => {
  const made = recordingPool({ stallMs: 300 });
  pool = made.pool;
  pool.setLease(Date.now() + HOUR);
  const sleeper = await stepper(pool, "sleeper", "sleep");
  const timer = await stepper(pool, "timer", "timer");
  await stepsMoreThan(sleeper, 3, "the ctx.sleep() stepper to step");
  await stepsMoreThan(timer, 3, "the plain-timer stepper to step");
  assert.not.ok(pool.leaseWaiting("sleeper"));

  pool.setLease(Date.now() - 1);
  await until(() => pool!.leaseWaiting("sleeper") && pool!.leaseWaiting("timer"), "the executor to block on the lease");
  const frozen = [stepsOf(sleeper), stepsOf(timer)];
  const called = await rejection(pool.request({ type: "call", name: "sleeper", method: "steps", args: [] }, { timeoutMs: 300 }));
  assert.is(called.code, "timeout", "a call ran while the lease had lapsed");
  // Observation window, well past stallMs: no step, and no stall reported.
  await sleep(1200);
  assert.equal([stepsOf(sleeper), stepsOf(timer)], frozen, "a process stepped while the lease had lapsed");
  assert.equal(made.seen.lost, []);

  pool.setLease(Date.now() + HOUR);
  await stepsMoreThan(sleeper, frozen[0]! + 3, "the ctx.sleep() stepper to step again after renewal");
  await stepsMoreThan(timer, frozen[1]! + 3, "the plain-timer stepper to step again after renewal");
  assert.ok(pool.leaseWaiting("sleeper"), "forgot that the executor waited since the lease last lapsed");
  assert.equal(made.seen.lost, []);
});

test("a process started while the lease has lapsed takes no step until it is renewed, on a new executor too", async () => {
  const made = recordingPool({ stallMs: 300 });
  pool = made.pool;
  pool.setLease(Date.now() - 1);
  const file = join(modules.dir, `late-${n++}.steps`);
  const started = pool.start(startReq(modules.path("Stepper"), "late", { args: [file, "sleep"] }), 128);
  await until(() => pool!.leaseWaiting("late"), "the new executor to block on the lease");
  await sleep(500); // observation window: not even the constructor runs
  assert.is(stepsOf(file), 0);
  pool.setLease(Date.now() + HOUR);
  await started;
  await stepsMoreThan(file, 3, "the process to step after renewal");
  assert.equal(made.seen.lost, []);
});

test("evict() ends a lease-blocked executor: the evicted process never steps again, its neighbour is reported lost", async () => {
  const made = recordingPool({ stallMs: 300 });
  pool = made.pool;
  pool.setLease(Date.now() + HOUR);
  const victim = await stepper(pool, "victim", "timer");
  const neighbour = await stepper(pool, "neighbour", "sleep");
  await stepsMoreThan(victim, 3, "the victim to step");
  await stepsMoreThan(neighbour, 3, "the neighbour to step");
  pool.setLease(Date.now() - 1);
  await until(() => pool!.leaseWaiting("victim"), "the executor to block on the lease");
  const frozen = stepsOf(victim);

  pool.evict(["victim"], "adopted by another node while the lease had lapsed");
  assert.not.ok(pool.has("victim"));
  assert.not.ok(pool.has("neighbour"));
  // The evicted process is named as the cause, so the lone neighbour is not taken for it.
  assert.equal(made.seen.lost, [{ names: ["neighbour"], reason: "adopted by another node while the lease had lapsed", culprit: "victim" }]);

  pool.setLease(Date.now() + HOUR);
  // The renewal reached the executors: the neighbour, started again, steps on the replacement.
  const again = await stepper(pool, "neighbour", "sleep");
  await stepsMoreThan(again, 3, "the restarted neighbour to step");
  await sleep(300); // observation window for the evicted worker's pending timer
  assert.is(stepsOf(victim), frozen, "the evicted process stepped after the renewal");
  assert.equal(made.seen.exits, []);
  assert.is(made.seen.lost.length, 1);
});

test("evict() of the only process of a dedicated executor forgets it without any report", async () => {
  const made = recordingPool({ stallMs: 300 });
  pool = made.pool;
  const file = await stepper(pool, "alone", "sleep", 128);
  await stepsMoreThan(file, 3, "the process to step");
  const workers = pool.workers;
  pool.evict(["alone", "unknown"], "adopted elsewhere");
  assert.not.ok(pool.has("alone"));
  assert.is(pool.workers, workers - 1);
  await until(async () => {
    const a = stepsOf(file);
    await sleep(100);
    return stepsOf(file) === a;
  }, "the evicted process to stop stepping");
  assert.equal(made.seen.lost, []);
  assert.equal(made.seen.exits, []);
  assert.not.ok(pool.leaseWaiting("alone"));
});

test("setLease() refuses a deadline that is not a number", () => {
  const made = recordingPool();
  pool = made.pool;
  assert.throws(() => pool!.setLease(Number.NaN), /Lease deadline must be a number/);
});

test.run();
