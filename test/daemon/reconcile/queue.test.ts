import { test } from "uvu";
import * as assert from "uvu/assert";
import { WorkQueue } from "../../../daemon/reconcile/queue.ts";
import { done as doneResult, type ReconcileResult, requeueAfter, requeueNow, terminal } from "../../../daemon/reconcile/reconciler.ts";
import { FerryError } from "../../../daemon/errors.ts";

const queues: WorkQueue[] = [];

test.after.each(() => {
  for (const q of queues.splice(0)) q.close();
});

function queue(reconcile: (name: string) => Promise<ReconcileResult>, options: ConstructorParameters<typeof WorkQueue>[1] = {}): WorkQueue {
  const q = new WorkQueue({ reconcile }, options);
  queues.push(q);
  return q;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const done: ReconcileResult = doneResult();

/** A promise with its resolve exposed. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Polls until `check()` holds; fails after `ms`. */
async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}

test("add() of a name that is already queued does not queue it again", async () => {
  const busy = gate();
  const calls: string[] = [];
  const q = queue(
    async (name) => {
      calls.push(name);
      if (name === "blocker") await busy.promise;
      return done;
    },
    { concurrency: 1 },
  );
  q.add("blocker");
  q.add("a");
  q.add("b");
  q.add("a");
  q.add("a");
  busy.open();
  await q.drained();
  assert.equal(calls, ["blocker", "a", "b"]);
});

test("repeated add() while a name is being reconciled collapse into one re-run", async () => {
  const first = gate();
  let calls = 0;
  const q = queue(async () => {
    if (++calls === 1) await first.promise;
    return done;
  });
  q.add("a");
  for (let i = 0; i < 5; i++) q.add("a");
  first.open();
  await until(() => q.idle, "the queue to go idle");
  assert.is(calls, 2);
});

test("a name is never reconciled twice at once", async () => {
  let running = 0;
  let maxRunning = 0;
  let calls = 0;
  const q = queue(async () => {
    calls++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    await sleep(15);
    running--;
    return done;
  });
  q.add("a");
  await sleep(1);
  for (let i = 0; i < 5; i++) {
    q.add("a");
    await sleep(2);
  }
  await until(() => q.idle, "the queue to go idle");
  assert.is(maxRunning, 1);
  assert.ok(calls >= 2, `expected a re-run, got ${calls} calls`);
});

test("add() during a reconcile runs it once more right after, not concurrently", async () => {
  const first = gate();
  const log: string[] = [];
  let calls = 0;
  const q = queue(async () => {
    const n = ++calls;
    log.push(`start ${n}`);
    if (n === 1) await first.promise;
    log.push(`end ${n}`);
    return done;
  });
  q.add("a");
  await sleep(5);
  q.add("a");
  q.add("a");
  await sleep(5);
  assert.equal(log, ["start 1"]);
  first.open();
  await until(() => q.idle, "the queue to go idle");
  assert.equal(log, ["start 1", "end 1", "start 2", "end 2"]);
});

test("a reconcile returning requeueAfter() runs again after that delay", async () => {
  const times: number[] = [];
  const q = queue(async () => {
    times.push(Date.now());
    return times.length === 1 ? requeueAfter(60) : done;
  });
  q.add("a");
  await q.drained();
  assert.is(times.length, 1);
  assert.not.ok(q.idle, "a pending requeue should keep the queue from being idle");
  await until(() => times.length === 2, "the requeue");
  assert.ok(times[1]! - times[0]! >= 55, `requeued after ${times[1]! - times[0]!} ms`);
  await until(() => q.idle, "the queue to go idle");
  await sleep(80);
  assert.is(times.length, 2);
});

test("add() without delay runs a name waiting on a requeue timer at once, and cancels the timer", async () => {
  let calls = 0;
  const q = queue(async () => (++calls === 1 ? requeueAfter(150) : done));
  q.add("a");
  await q.drained();
  assert.is(calls, 1);
  q.add("a");
  await q.drained();
  assert.is(calls, 2, "the immediate add() waited for the timer");
  assert.ok(q.idle, "the requeue timer is still pending");
  await sleep(180);
  assert.is(calls, 2, "the cancelled timer still fired");
});

test("a throwing reconcile is retried with exponential backoff and reported to onError", async () => {
  const times: number[] = [];
  const errors: Array<[string, unknown]> = [];
  const q = queue(
    async () => {
      times.push(Date.now());
      if (times.length <= 3) throw new Error(`fail ${times.length}`);
      return done;
    },
    { baseBackoffMs: 20, maxBackoffMs: 1000, onError: (name, error) => errors.push([name, error]) },
  );
  q.add("a");
  await until(() => times.length === 4, "three retries", 5000);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  // Timers never fire early (allow 3 ms of clock granularity); a loaded machine may only make them late.
  assert.ok(gaps[0]! >= 17, `first retry after ${gaps[0]} ms, expected >= 20`);
  assert.ok(gaps[1]! >= 37, `second retry after ${gaps[1]} ms, expected >= 40`);
  assert.ok(gaps[2]! >= 77, `third retry after ${gaps[2]} ms, expected >= 80`);
  assert.equal(errors.map(([name, e]) => [name, (e as Error).message]), [["a", "fail 1"], ["a", "fail 2"], ["a", "fail 3"]]);
  await until(() => q.idle, "the queue to go idle");
});

test("backoff is capped at maxBackoffMs", async () => {
  const times: number[] = [];
  const q = queue(
    async () => {
      times.push(Date.now());
      if (times.length <= 5) throw new Error("nope");
      return done;
    },
    { baseBackoffMs: 10, maxBackoffMs: 20 },
  );
  q.add("a");
  await until(() => times.length === 6, "five retries", 5000);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  // Capped: 10, 20, 20, 20, 20 (uncapped the last three would be 40 + 80 + 160 = 280 ms).
  const tail = gaps[2]! + gaps[3]! + gaps[4]!;
  assert.ok(tail < 200, `last three retries took ${tail} ms: backoff not capped (${gaps.join(", ")})`);
});

test("backoff starts over at baseBackoffMs after a success", async () => {
  const times: number[] = [];
  let fail = true;
  const q = queue(
    async () => {
      times.push(Date.now());
      if (fail) throw new Error("nope");
      return done;
    },
    { baseBackoffMs: 30, maxBackoffMs: 10_000 },
  );
  q.add("a");
  // Gaps 30, 60, 120, 240: without the reset the next would be 480, far enough from 30 that a
  // loaded machine's late timers cannot blur the two.
  await until(() => times.length === 5, "four retries", 5000);
  fail = false;
  await until(() => times.length === 6 && q.idle, "a success", 5000);
  fail = true;
  q.add("a");
  await until(() => times.length === 8, "a retry after the next failure", 5000);
  const gap = times[7]! - times[6]!;
  assert.ok(gap >= 27 && gap < 400, `first retry after a success came after ${gap} ms, expected about 30`);
});

test("at most `concurrency` names are reconciled at once, and all of them eventually", async () => {
  let running = 0;
  let maxRunning = 0;
  const seen = new Set<string>();
  const q = queue(
    async (name) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(10);
      seen.add(name);
      running--;
      return done;
    },
    { concurrency: 3 },
  );
  for (let i = 0; i < 12; i++) q.add(`p${i}`);
  await q.drained();
  assert.is(maxRunning, 3);
  assert.is(seen.size, 12);
});

test("drained() resolves at once when idle and after the last running reconcile otherwise", async () => {
  const release = gate();
  let finished = false;
  const q = queue(async () => {
    await release.promise;
    finished = true;
    return done;
  });
  await q.drained();
  q.add("a");
  let drained = false;
  const waiting = q.drained().then(() => (drained = true));
  await sleep(10);
  assert.not.ok(drained, "drained() resolved while a reconcile was running");
  release.open();
  await waiting;
  assert.ok(finished);
  assert.ok(q.idle);
});

test("close() cancels pending timers: no delayed add or retry fires afterwards", async () => {
  let calls = 0;
  const q = queue(
    async () => {
      calls++;
      throw new Error("always");
    },
    { baseBackoffMs: 30 },
  );
  q.add("a");
  q.add("b", 30);
  await until(() => calls === 1, "the first reconcile");
  await sleep(5);
  q.close();
  assert.ok(q.idle, "timers still pending after close()");
  await sleep(100);
  assert.is(calls, 1);
  q.add("c");
  await sleep(10);
  assert.is(calls, 1, "add() after close() ran a reconcile");
});

test("close() lets a running reconcile finish without re-running it", async () => {
  const release = gate();
  let calls = 0;
  const q = queue(async () => {
    calls++;
    await release.promise;
    return requeueAfter(10);
  });
  q.add("a");
  await sleep(5);
  q.add("a");
  q.close();
  release.open();
  await q.drained();
  await sleep(40);
  assert.is(calls, 1);
  assert.ok(q.idle);
});

test("nudge() enqueues an idle name at once but never cuts a pending backoff or requeue short", async () => {
  const times: number[] = [];
  const q = queue(async (name) => {
    times.push(Date.now());
    if (name === "failing" && times.length === 1) throw new FerryError("unreachable", "down");
    return done;
  }, { baseBackoffMs: 150 });
  q.add("failing");
  await until(() => times.length === 1, "the first attempt");
  q.nudge("failing");
  await until(() => times.length === 2, "the retry after its backoff");
  assert.ok(times[1]! - times[0]! >= 145, `the nudge cut the backoff to ${times[1]! - times[0]!} ms`);
  let idleRuns = 0;
  const r = queue(async () => {
    idleRuns++;
    return done;
  });
  r.nudge("idle");
  await until(() => idleRuns === 1, "a nudge of an idle name to run");
});

test("a nudge while a reconcile runs does not cut the backoff of its failure short", async () => {
  const times: number[] = [];
  let release!: () => void;
  const q = queue(async () => {
    times.push(Date.now());
    if (times.length === 1) {
      await new Promise<void>((r) => (release = r));
      throw new FerryError("unreachable", "down");
    }
    return done;
  }, { baseBackoffMs: 150 });
  q.add("slow");
  await until(() => times.length === 1, "the first attempt to start");
  q.nudge("slow"); // a periodic resync landing while it runs
  const failedAt = Date.now();
  release();
  await until(() => times.length === 2, "the retry after its backoff");
  assert.ok(times[1]! - failedAt >= 145, `the nudge cut the backoff to ${times[1]! - failedAt} ms`);
});

test("a reconcile returning requeueNow() runs again at once (a zero delay is not lost)", async () => {
  let calls = 0;
  const q = queue(async () => (++calls < 3 ? requeueNow() : done));
  q.add("a");
  await until(() => calls === 3 && q.idle, "two immediate requeues");
  assert.is(calls, 3);
  let zero = 0;
  const z = queue(async () => (++zero === 1 ? requeueAfter(0) : done));
  z.add("b");
  await until(() => zero === 2, "requeueAfter(0) to requeue");
});

test("a terminal result is reported once and not requeued; a later add() looks again", async () => {
  const errors: Array<[string, boolean]> = [];
  let calls = 0;
  const q = queue(async () => {
    calls++;
    return terminal(new FerryError("module_invalid", "cannot load"));
  }, { baseBackoffMs: 5, onError: (name, _e, isTerminal) => errors.push([name, isTerminal]) });
  q.add("a");
  await until(() => q.idle, "the queue to go idle");
  assert.equal(errors, [["a", true]]);
  q.add("a");
  await until(() => calls === 2 && q.idle, "the second look");
});

test("a non-retryable FerryError is terminal; a retryable one backs off and the recovery is reported", async () => {
  const seen: string[] = [];
  let calls = 0;
  const q = queue(async (name) => {
    calls++;
    if (name === "final") throw new FerryError("not_serializable", "no");
    if (calls < 4) throw new FerryError("unreachable", "down");
    return done;
  }, { baseBackoffMs: 5, onError: (name, _e, isTerminal) => seen.push(`${name}:${isTerminal}`), onRecovered: (name) => seen.push(`${name}:recovered`) });
  q.add("final");
  await until(() => q.idle, "the terminal one to settle");
  q.add("flaky");
  await until(() => seen.includes("flaky:recovered"), "the recovery");
  assert.equal(seen, ["final:true", "flaky:false", "flaky:false", "flaky:recovered"]);
});

test.run();
