import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventLog } from "../../daemon/events.ts";
import type { FerryEvent } from "../../schemas/api.schema.ts";

/** Fails with `what` instead of hanging when `promise` takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const tick = () => new Promise<void>((r) => setTimeout(r, 5));

test("emit() numbers events with an increasing seq and stamps node and time", () => {
  const log = new EventLog("alpha");
  const a = log.emit({ type: "started", process: "counter", generation: 0 });
  const b = log.emit({ type: "suspended", process: "counter" });
  const c = log.emit({ type: "resumed", process: "counter" });
  assert.equal([a.seq, b.seq, c.seq], [1, 2, 3]);
  assert.is(a.node, "alpha");
  assert.is(a.type, "started");
  assert.is(a.process, "counter");
  assert.is(a.generation, 0);
  assert.ok(!Number.isNaN(Date.parse(a.time)), `time ${a.time} is not a date`);
});

test("recent() returns the history oldest first, as a copy", () => {
  const log = new EventLog("alpha");
  log.emit({ type: "started", process: "a" });
  log.emit({ type: "started", process: "b" });
  const recent = log.recent();
  assert.equal(recent.map((e) => e.process), ["a", "b"]);
  recent.length = 0;
  assert.is(log.recent().length, 2);
});

test("the history keeps only the last `limit` events, while seq keeps counting", () => {
  const log = new EventLog("alpha", 3);
  for (let i = 0; i < 10; i++) log.emit({ type: "restored", process: `p${i}` });
  const recent = log.recent();
  assert.equal(recent.map((e) => e.seq), [8, 9, 10]);
  assert.equal(recent.map((e) => e.process), ["p7", "p8", "p9"]);
});

test("the default history limit bounds memory", () => {
  const log = new EventLog("alpha");
  for (let i = 0; i < 2500; i++) log.emit({ type: "restored" });
  const recent = log.recent();
  assert.is(recent.length, 2000);
  assert.is(recent.at(-1)?.seq, 2500);
});

test("follow() yields the history, then live events, and ends when the signal aborts", async () => {
  const log = new EventLog("alpha");
  log.emit({ type: "started", process: "a" });
  log.emit({ type: "started", process: "b" });
  const controller = new AbortController();
  const seen: FerryEvent[] = [];
  const consumer = (async () => {
    for await (const e of log.follow(controller.signal)) seen.push(e);
  })();
  await tick();
  assert.equal(seen.map((e) => e.seq), [1, 2]);
  log.emit({ type: "suspended", process: "a" });
  log.emit({ type: "transferred", process: "a", bytes: 10, ms: 1.5 });
  await tick();
  assert.equal(seen.map((e) => e.seq), [1, 2, 3, 4]);
  assert.is(seen[3]?.bytes, 10);
  controller.abort();
  await within(consumer, 1000, "follow() to end after abort");
  log.emit({ type: "resumed" });
  await tick();
  assert.is(seen.length, 4, "an event arrived after the follower ended");
});

test("follow() with an already aborted signal yields nothing", async () => {
  const log = new EventLog("alpha");
  log.emit({ type: "started" });
  const seen: FerryEvent[] = [];
  for await (const e of log.follow(AbortSignal.abort())) seen.push(e);
  assert.equal(seen, []);
});

test("follow() ends when the signal aborts while the consumer is handling an event", async () => {
  const log = new EventLog("alpha");
  log.emit({ type: "started", process: "a" });
  const controller = new AbortController();
  const seen: number[] = [];
  const consumer = (async () => {
    for await (const e of log.follow(controller.signal)) {
      seen.push(e.seq);
      if (e.seq === 1) controller.abort();
    }
  })();
  await within(consumer, 1000, "follow() to end after an abort raised inside the loop body");
  assert.equal(seen, [1]);
});

test("follow() delivers events emitted in a burst, in order, to every follower", async () => {
  const log = new EventLog("alpha");
  const controller = new AbortController();
  const a: number[] = [];
  const b: number[] = [];
  const run = async (into: number[]) => {
    for await (const e of log.follow(controller.signal)) into.push(e.seq);
  };
  const consumers = [run(a), run(b)];
  await tick();
  for (let i = 0; i < 50; i++) log.emit({ type: "restored" });
  await tick();
  const expected = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.equal(a, expected);
  assert.equal(b, expected);
  controller.abort();
  await within(Promise.all(consumers), 1000, "followers to end");
});

test("a follower that stops early (break) unsubscribes", async () => {
  const log = new EventLog("alpha");
  log.emit({ type: "started" });
  const controller = new AbortController();
  for await (const _ of log.follow(controller.signal)) break;
  // Nothing observable would break if it stayed subscribed, except that emit() would keep feeding
  // it; emitting must still work and a new follower still sees the whole history.
  log.emit({ type: "stopped" });
  const seen: number[] = [];
  for await (const e of log.follow(controller.signal)) {
    seen.push(e.seq);
    if (seen.length === 2) break;
  }
  assert.equal(seen, [1, 2]);
});

test.run();
