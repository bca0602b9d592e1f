import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ExecutorPool } from "../../../daemon/executor/pool.ts";
import { moduleDir, poolPerTest, rejection, sleep, startReq, until } from "./harness.ts";

// Self-fencing on real worker threads: processes append one byte per step to a file of their own,
// so a file's size is the number of steps taken. Once the lease lapses no step may run until it is
// renewed; an evicted executor never runs one again.

const modules = moduleDir({
  // args: [file, "sleep" | "timer" | "spin", ms?]: waits through ctx.sleep(), or through plain timers
  // that Ferry sees only via the async context, or spins and then yields.
  "Stepper.ts": `
import { appendFileSync } from "node:fs";
export default class Stepper {
  constructor(public args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) {
      appendFileSync(this.args[0]!, ".");
      const ms = Number(this.args[2] ?? 5);
      if (this.args[1] === "spin") {
        for (const until = Date.now() + ms; Date.now() < until;);
        // Node fences every continuation; Deno only turns of the event loop (a timer's).
        if ("Deno" in globalThis) await new Promise((r) => setTimeout(r, 0));
        else await Promise.resolve();
      } else if (this.args[1] === "timer") await new Promise((r) => setTimeout(r, ms));
      else await ctx.sleep(ms);
    }
  }
  steps() { return 0; }
}`,
});
let n = 0;
const openPool = poolPerTest(test, modules);

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
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  pool.setLease(Date.now() + HOUR);
  const sleeper = await stepper(pool, "sleeper", "sleep");
  const timer = await stepper(pool, "timer", "timer");
  await stepsMoreThan(sleeper, 3, "the ctx.sleep() stepper to step");
  await stepsMoreThan(timer, 3, "the plain-timer stepper to step");
  assert.not.ok(pool.leaseWaiting("sleeper"));

  pool.setLease(Date.now() - 1);
  await until(() => pool.leaseWaiting("sleeper") && pool.leaseWaiting("timer"), "the executor to block on the lease");
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
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  pool.setLease(Date.now() - 1);
  const file = join(modules.dir, `late-${n++}.steps`);
  const started = pool.start(startReq(modules.path("Stepper"), "late", { args: [file, "sleep"] }), 128);
  await until(() => pool.leaseWaiting("late"), "the new executor to block on the lease");
  await sleep(500); // observation window: not even the constructor runs
  assert.is(stepsOf(file), 0);
  pool.setLease(Date.now() + HOUR);
  await started;
  await stepsMoreThan(file, 3, "the process to step after renewal");
  assert.equal(made.seen.lost, []);
});

test("evict() ends a lease-blocked executor: the evicted process never steps again, its neighbour is reported lost", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  pool.setLease(Date.now() + HOUR);
  const victim = await stepper(pool, "victim", "timer");
  const neighbour = await stepper(pool, "neighbour", "sleep");
  await stepsMoreThan(victim, 3, "the victim to step");
  await stepsMoreThan(neighbour, 3, "the neighbour to step");
  pool.setLease(Date.now() - 1);
  await until(() => pool.leaseWaiting("victim"), "the executor to block on the lease");
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

test("stopAdopted() once the lease has lapsed evicts at once, even while the executor is mid-turn: no stale turn runs after renewal", async () => {
  const made = openPool({ stallMs: 10_000, timeouts: { discard: 500 } });
  const pool = made.pool;
  pool.setLease(Date.now() + HOUR);
  const file = join(modules.dir, `spin-${n++}.steps`);
  // Each turn spins 300 ms and then awaits: the lease lapses mid-turn, and the continuation
  // blocks on it before the executor reads any message (a discard would wait behind it).
  await pool.start(startReq(modules.path("Stepper"), "spinner", { args: [file, "spin", "300"] }));
  await stepsMoreThan(file, 0, "the first step");
  pool.setLease(Date.now() - 1);
  const steps = stepsOf(file);
  await pool.stopAdopted("spinner", "adopted elsewhere");
  assert.not.ok(pool.has("spinner"));
  pool.setLease(Date.now() + HOUR);
  await sleep(1000); // observation window: the blocked continuation would have stepped by now
  assert.is(stepsOf(file), steps, "the adopted process stepped after the lease was renewed");
});

test("stopAdopted() while the lease holds discards the process and keeps its executor", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
  pool.setLease(Date.now() + HOUR);
  const file = await stepper(pool, "held", "sleep");
  const neighbour = await stepper(pool, "neighbour", "sleep");
  await stepsMoreThan(file, 3, "the process to step");
  const workers = pool.workers;
  await pool.stopAdopted("held", "adopted elsewhere");
  assert.not.ok(pool.has("held"));
  assert.ok(pool.has("neighbour"));
  assert.is(pool.workers, workers);
  const after = stepsOf(neighbour);
  await stepsMoreThan(neighbour, after + 3, "the neighbour to go on stepping");
  assert.equal(made.seen.lost, []);
});

test("discard() that the executor does not confirm in time ends the executor: the process takes no further step", async () => {
  const made = openPool({ stallMs: 10_000, timeouts: { discard: 300 } });
  const pool = made.pool;
  const file = join(modules.dir, `busy-${n++}.steps`);
  // Each turn spins 1.5 s, so the worker reads the discard only after its timeout.
  await pool.start(startReq(modules.path("Stepper"), "busy", { args: [file, "spin", "1500"] }));
  await stepsMoreThan(file, 0, "the first step");
  const workers = pool.workers;
  await pool.discard("busy", "handed over");
  assert.not.ok(pool.has("busy"));
  const steps = stepsOf(file);
  await until(() => pool.workers === workers, "the executor to be replaced");
  await sleep(2000); // observation window past the next turn
  assert.is(stepsOf(file), steps, "the discarded process stepped on");
});

test("evict() of the only process of a dedicated executor forgets it without any report", async () => {
  const made = openPool({ stallMs: 300 });
  const pool = made.pool;
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
  const made = openPool();
  const pool = made.pool;
  assert.throws(() => pool.setLease(Number.NaN), /Lease deadline must be a number/);
});

test.run();
