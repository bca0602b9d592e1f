import { suite } from "../../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecutorPool, type PoolOptions } from "../../../daemon/executor/pool.ts";
import type { WireError } from "../../../daemon/executor/protocol.ts";
import { decodeState, decodeValue, encodeState } from "../../../daemon/snapshot/mod.ts";
import { DeltaBase, joinParts } from "../../../daemon/snapshot/delta.ts";
import { rejection } from "../../helpers/assert.ts";

const test = suite("pool");

// Real worker threads loading real module files. Each test gets its own pool (fresh workers, so
// module-level state in the process modules starts over) and the modules below in a temp dir.

const modules: Record<string, string> = {
  "Ticker.ts": `
let constructed = 0;
export default class Ticker {
  ticks = 0;
  runs = 0;
  resumes = 0;
  suspends = 0;
  label: string;
  viaCtor = true;
  constructor(args: string[]) {
    constructed++;
    this.label = args[0] ?? "none";
  }
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    this.runs++;
    while (!ctx.signal.aborted) {
      this.ticks++;
      await ctx.sleep(10);
    }
  }
  suspend() { this.suspends++; }
  resume() { this.resumes++; }
  get() {
    return { ticks: this.ticks, runs: this.runs, resumes: this.resumes, suspends: this.suspends, label: this.label, viaCtor: this.viaCtor ?? null };
  }
  add(args: string[]) { return BigInt(args[0]!) + 1n; }
  constructedCount() { return constructed; }
  toString() { return \`Ticker(\${JSON.stringify(this.label)})\`; }
}
`,
  "Big.ts": `
export default class Big {
  data = new Uint8Array(64 * 1024 * 1024).fill(5);
  ticks = 0;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) {
      this.ticks++;
      this.data[0] = 5 + (this.ticks % 2); // the live state changes while a capture is checksummed
      await ctx.sleep(10);
    }
  }
  get() { return this.ticks; }
  mark(args: string[]) { this.data[Number(args[0])] = Number(args[1]); return this.data.length; }
  grow() { this.data = new Uint8Array(this.data.length + 8 * 1024 * 1024).fill(6); return this.data.length; }
}
`,
  "Stubborn.ts": `
export default class Stubborn {
  ticks = 0;
  constructor(_args: string[]) {}
  async run() {
    for (;;) {
      this.ticks++;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  get() { return this.ticks; }
}
`,
  "Unportable.ts": `
export default class Unportable {
  ticks = 0;
  handler = () => 1;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) {
      this.ticks++;
      await ctx.sleep(10);
    }
  }
  get() { return this.ticks; }
}
`,
  "Thrower.ts": `
export default class Thrower {
  constructor(_args: string[]) {}
  async run(ctx: { sleep(ms: number): Promise<void> }) {
    await ctx.sleep(20);
    throw new Error("run() exploded on purpose");
  }
}
`,
  "Quick.ts": `
export default class Quick {
  done = false;
  constructor(_args: string[]) {}
  async run() { this.done = true; }
}
`,
  "Spinner.ts": `
export default class Spinner {
  constructor(_args: string[]) {}
  async run() {
    await new Promise((r) => setTimeout(r, 150));
    for (;;) { /* never yields */ }
  }
}
`,
  // Waits with plain timers, never through ctx: its code runs in continuations Ferry does not see.
  "Patient.ts": `
export default class Patient {
  ticks = 0;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal }) {
    while (!ctx.signal.aborted) {
      this.ticks++;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
`,
  "Talker.ts": `
export default class Talker {
  constructor(_args: string[]) {}
  async run(ctx: { name: string; signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    await ctx.sleep(5);
    console.log("hello from", ctx.name, { n: 1 });
    console.error("something went wrong");
    while (!ctx.signal.aborted) await ctx.sleep(50);
  }
}
`,
};

let dir = "";
let pool: ExecutorPool | undefined;
let exits: Array<{ name: string; outcome: string; error?: WireError }> = [];
let logs: Array<{ name: string; stream: string; text: string }> = [];
let lost: Array<{ names: string[]; reason: string; culprit?: string }> = [];

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-pool-"));
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  for (const [file, text] of Object.entries(modules)) writeFileSync(join(dir, file), text);
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test.before.each(() => {
  exits = [];
  logs = [];
  lost = [];
});

test.after.each(async () => {
  await pool?.close();
  pool = undefined;
});

function makePool(options: Partial<PoolOptions> = {}): ExecutorPool {
  pool = new ExecutorPool({ size: 1, memoryMb: 256, stallMs: 10_000, ...options }, {
    exit: (name, outcome, error) => exits.push(error ? { name, outcome, error } : { name, outcome }),
    log: (name, stream, text) => logs.push({ name, stream, text }),
    lost: (names, reason, culprit) => lost.push(culprit === undefined ? { names, reason } : { names, reason, culprit }),
  });
  return pool;
}

function startReq(name: string, module: string, extra: { args?: string[]; snapshot?: Uint8Array; hold?: boolean; generation?: number } = {}) {
  return {
    name,
    modulePath: join(dir, `${module}.ts`),
    moduleVersion: "v1",
    args: extra.args ?? [],
    generation: extra.generation ?? 0,
    hold: extra.hold ?? false,
    ...(extra.snapshot ? { snapshot: extra.snapshot } : {}),
  };
}

async function call<T = unknown>(p: ExecutorPool, name: string, method: string, args: string[] = []): Promise<T> {
  const { value } = await p.request({ type: "call", name, method, args });
  return decodeValue(value) as T;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check()` is truthy; fails with `what` after `ms`. */
async function until<T>(check: () => T | Promise<T>, what: string, ms = 5000): Promise<Exclude<T, false | 0 | null | undefined | "">> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | 0 | null | undefined | "">;
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

type TickerView = { ticks: number; runs: number; resumes: number; suspends: number; label: string; viaCtor: boolean | null };

test("start() runs a fresh process and call() invokes its methods with typed results", async () => {
  const p = makePool();
  const started = await p.start(startReq("ticker", "Ticker", { args: ["hello"] }));
  assert.equal(started.methods, ["add", "constructedCount", "get"]);
  assert.is(started.description, 'Ticker("hello")');
  assert.ok(p.has("ticker"));
  const first = await until(async () => {
    const v = await call<TickerView>(p, "ticker", "get");
    return v.ticks >= 2 && v;
  }, "the ticker to tick");
  assert.is(first.label, "hello");
  assert.is(first.runs, 1);
  assert.is(await call(p, "ticker", "add", ["41"]), 42n);
  const missing = await rejection(p.request({ type: "call", name: "ticker", method: "nope", args: [] }));
  assert.is(missing.code, "method_not_found");
  const unknown = await rejection(p.request({ type: "call", name: "ghost", method: "get", args: [] }));
  assert.is(unknown.code, "process_not_found");
});

test("start() refuses a name that is already hosted", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker"));
  assert.is((await rejection(p.start(startReq("ticker", "Ticker")))).code, "conflict");
});

test("suspend() stops run() at its signal, calls suspend() and returns the snapshot; the process stops", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker", { args: ["s"] }));
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 3, "ticks");
  const { snapshot } = await p.request({ type: "suspend", name: "ticker", deadlineMs: 2000 });
  const state = decodeState(snapshot);
  assert.is(state.className, "Ticker");
  const fields = state.fields as TickerView;
  assert.ok(fields.ticks >= 3);
  assert.is(fields.suspends, 1, "suspend() hook was not called before the capture");
  assert.is(fields.label, "s");
  const a = await call<TickerView>(p, "ticker", "get");
  await sleep(60);
  const b = await call<TickerView>(p, "ticker", "get");
  assert.is(a.ticks, fields.ticks, "the process ticked after its state was captured");
  assert.is(b.ticks, a.ticks, "the process kept running after suspend()");
  assert.equal(exits, [], "a suspend was reported as an exit");
});

test("activate() after a suspend calls resume() and runs run() again", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker"));
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 1, "ticks");
  await p.request({ type: "suspend", name: "ticker", deadlineMs: 2000 });
  const before = await call<TickerView>(p, "ticker", "get");
  await p.request({ type: "activate", name: "ticker", generation: 0, run: true });
  const after = await until(async () => {
    const v = await call<TickerView>(p, "ticker", "get");
    return v.ticks > before.ticks + 2 && v;
  }, "the resumed ticker to tick");
  assert.is(after.resumes, 1);
  assert.is(after.runs, 2);
  // Activating a running process is a no-op.
  await p.request({ type: "activate", name: "ticker", generation: 0, run: true });
  assert.is((await call<TickerView>(p, "ticker", "get")).runs, 2);
});

test("start() from a snapshot restores the fields without running the constructor, then resume() and run()", async () => {
  const p = makePool();
  const snapshot = encodeState({ className: "Ticker", fields: { ticks: 100, runs: 0, resumes: 0, suspends: 1, label: "restored" } });
  const started = await p.start(startReq("ticker", "Ticker", { snapshot, generation: 1 }));
  assert.is(started.description, 'Ticker("restored")');
  const v = await until(async () => {
    const view = await call<TickerView>(p, "ticker", "get");
    return view.ticks > 100 && view;
  }, "the restored ticker to tick");
  assert.is(v.label, "restored");
  assert.is(v.viaCtor, null, "constructor-initialised field appeared: the constructor ran");
  assert.is(v.resumes, 1);
  assert.is(v.runs, 1);
  assert.is(await call(p, "ticker", "constructedCount"), 0);
});

// --- streamed snapshots ------------------------------------------------------------------------

async function readAll(p: ExecutorPool, name: string, reader: "send" | "save", maxBytes: number): Promise<Uint8Array> {
  const parts: number[] = [];
  for (;;) {
    const { chunk } = await p.request({ type: "read", name, reader, maxBytes });
    if (!chunk) return new Uint8Array(parts);
    assert.ok(chunk.byteLength <= maxBytes);
    parts.push(...chunk);
  }
}

test("suspend() with streamAbove keeps the snapshot in the executor: two readers each read all of it; once it runs again, reads are refused", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker", { args: ["streamed"] }));
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 2, "ticks");
  const { snapshot, streamed } = await p.request({ type: "suspend", name: "ticker", deadlineMs: 2000, streamAbove: 16 });
  assert.is(snapshot.byteLength, 0);
  assert.ok(streamed! > 16);
  const sent = await readAll(p, "ticker", "send", 7);
  const saved = await readAll(p, "ticker", "save", 1000);
  assert.equal([...saved], [...sent]);
  assert.is(sent.byteLength, streamed);
  assert.is((decodeState(sent).fields as TickerView).label, "streamed");
  await p.request({ type: "activate", name: "ticker", generation: 0, run: true });
  assert.is((await rejection(p.request({ type: "read", name: "ticker", reader: "send", maxBytes: 10 }))).code, "conflict");
});

/** A snapshot's bytes cut into batches of pieces, the way they come off a socket. */
async function* batches(bytes: Uint8Array, piece: number, perBatch: number): AsyncGenerator<Uint8Array[]> {
  let batch: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += piece) {
    batch.push(bytes.slice(at, at + piece));
    if (batch.length === perBatch) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

test("start() fed a snapshot in batches restores it as it arrives, like one from bytes", async () => {
  const p = makePool();
  const bytes = encodeState({ className: "Ticker", fields: { ticks: 40, runs: 0, resumes: 0, suspends: 0, label: "fed", viaCtor: false } });
  await p.start({ ...startReq("ticker", "Ticker", { hold: true }), snapshot: { length: bytes.byteLength, chunks: batches(bytes, 5, 3) } });
  const fields = await call<TickerView>(p, "ticker", "get");
  assert.equal([fields.ticks, fields.label, fields.viaCtor], [40, "fed", false]);
});

test("start() fed a corrupt or broken stream fails with why, and hosts nothing", async () => {
  const p = makePool();
  const bytes = encodeState({ className: "Ticker", fields: { ticks: 1, label: "x" } });
  const flipped = bytes.slice();
  flipped[flipped.byteLength - 1]! ^= 1;
  const corrupt = await rejection(p.start({ ...startReq("a", "Ticker", { hold: true }), snapshot: { length: bytes.byteLength, chunks: batches(flipped, 4, 2) } }));
  assert.is(corrupt.code, "snapshot_corrupt");
  assert.not.ok(p.has("a"));
  async function* broken(): AsyncGenerator<Uint8Array[]> {
    yield [bytes.slice(0, 30)];
    throw new Error("the answer broke off after 30 bytes");
  }
  const cut = await rejection(p.start({ ...startReq("b", "Ticker", { hold: true }), snapshot: { length: bytes.byteLength, chunks: broken() } }));
  assert.match(cut.message, /broke off after 30 bytes/);
  assert.not.ok(p.has("b"));
  await p.start(startReq("b", "Ticker"));
});

test("start() with hold waits for activate() before running", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker", { hold: true }));
  await sleep(40);
  assert.is((await call<TickerView>(p, "ticker", "get")).runs, 0);
  await p.request({ type: "activate", name: "ticker", generation: 0, run: true });
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 1, "the activated ticker to tick");
});

test("suspend() of a process ignoring its signal fails with suspend_timeout and the process keeps running", async () => {
  const p = makePool();
  await p.start(startReq("stubborn", "Stubborn"));
  await until(async () => (await call<number>(p, "stubborn", "get")) >= 1, "ticks");
  const t0 = Date.now();
  const error = await rejection(p.request({ type: "suspend", name: "stubborn", deadlineMs: 150 }));
  assert.is(error.code, "suspend_timeout");
  assert.ok(error.message.includes("stubborn"), error.message);
  assert.ok(Date.now() - t0 >= 140, "gave up before the deadline");
  const a = await call<number>(p, "stubborn", "get");
  await until(async () => (await call<number>(p, "stubborn", "get")) > a + 2, "the process to keep progressing");
  assert.equal(exits, []);
  assert.ok(p.has("stubborn"));
});

test("suspend() and capture of a process with a function field fail with not_serializable naming it; it keeps running", async () => {
  const p = makePool();
  await p.start(startReq("unportable", "Unportable"));
  await until(async () => (await call<number>(p, "unportable", "get")) >= 1, "ticks");
  const captured = await rejection(p.request({ type: "capture", name: "unportable" }));
  assert.is(captured.code, "not_serializable");
  assert.ok(captured.message.includes('"handler"'), captured.message);
  const suspended = await rejection(p.request({ type: "suspend", name: "unportable", deadlineMs: 2000 }));
  assert.is(suspended.code, "not_serializable");
  assert.ok(suspended.message.includes('"handler"'), suspended.message);
  const a = await call<number>(p, "unportable", "get");
  await until(async () => (await call<number>(p, "unportable", "get")) > a + 2, "the process to keep running after the failed suspend");
  assert.equal(exits, []);
});

test("capture returns a snapshot without stopping the process", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker"));
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 1, "ticks");
  const { snapshot } = await p.request({ type: "capture", name: "ticker" });
  const at = (decodeState(snapshot).fields as TickerView).ticks;
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks > at + 2, "the process to keep running after a capture");
});

test("a run() that throws is reported by the exit event as failed, with the error", async () => {
  const p = makePool();
  await p.start(startReq("thrower", "Thrower"));
  await until(() => exits.length, "the exit event");
  assert.is(exits.length, 1);
  const exit = exits[0]!;
  assert.is(exit.name, "thrower");
  assert.is(exit.outcome, "failed");
  assert.is(exit.error?.code, "process_failed");
  assert.ok(exit.error?.message.includes("run() exploded on purpose"), exit.error?.message);
  // The worker survives: another process starts on it.
  await p.start(startReq("ticker", "Ticker"));
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 1, "a neighbour to run");
  assert.equal(lost, []);
});

test("a run() that returns is reported by the exit event as completed", async () => {
  const p = makePool();
  await p.start(startReq("quick", "Quick"));
  await until(() => exits.length, "the exit event");
  assert.equal(exits, [{ name: "quick", outcome: "completed" }]);
});

test("a busy loop is reported via lost with the culprit named, and the pool recovers", async () => {
  const p = makePool({ stallMs: 300 });
  await p.start(startReq("spinner", "Spinner"));
  await until(() => lost.length, "the lost event", 8000);
  const report = lost[0]!;
  assert.equal(report.names, ["spinner"]);
  assert.is(report.culprit, "spinner");
  assert.match(report.reason, /did not yield/);
  assert.not.ok(p.has("spinner"));
  await p.start(startReq("ticker", "Ticker"));
  await until(async () => (await call<TickerView>(p, "ticker", "get")).ticks >= 1, "a process on the replacement worker");
  await sleep(50);
  assert.is(lost.length, 1, "the stalled worker was reported lost more than once");
});

test("a busy loop is blamed on the spinning process, not on a neighbour that ran since it last awaited", async () => {
  const p = makePool({ stallMs: 300 });
  // Loaded up front so that starting "patient" below is quick.
  await p.inspect(join(dir, "Spinner.ts"), "v1");
  await p.inspect(join(dir, "Patient.ts"), "v1");
  await p.start(startReq("spinner", "Spinner"));
  // Starts while the spinner awaits its timer, so its code ran last before the spinner resumes.
  await p.start(startReq("patient", "Patient"));
  await until(() => lost.length, "the lost event", 8000);
  const report = lost[0]!;
  assert.equal(report.names.sort(), ["patient", "spinner"]);
  assert.is(report.culprit, "spinner");
});

test("a process's console output is reported via the log event with its name and stream", async () => {
  const p = makePool();
  await p.start(startReq("talker", "Talker"));
  await until(() => logs.length >= 2, "two log lines");
  const out = logs.find((l) => l.stream === "out");
  const err = logs.find((l) => l.stream === "err");
  assert.is(out?.name, "talker");
  assert.is(out?.text, "hello from talker { n: 1 }");
  assert.is(err?.name, "talker");
  assert.is(err?.text, "something went wrong");
});

test("a pre-copy round over a large state lets the executor serve its processes between slices: a call sent after the round is answered first", async () => {
  const p = makePool();
  await p.start(startReq("big", "Big"));
  await until(async () => (await call<number>(p, "big", "get")) >= 1, "the process to tick");
  const order: string[] = [];
  const round = p.request({ type: "delta", name: "big", session: "s1", after: -1, budgetBytes: 64 * 1024 * 1024 }).then((r) => (order.push("round"), r));
  const answered = call<number>(p, "big", "get").then((ticks) => (order.push("call"), ticks));
  const [{ parts, complete, sentBytes }] = await Promise.all([round, answered]);
  assert.equal(order, ["call", "round"], "the round kept the executor to itself until it ended");
  // Its parts make a whole delta of the state as hashed.
  assert.ok(complete);
  assert.ok(sentBytes >= 64 * 1024 * 1024);
  const base = new DeltaBase();
  base.apply(joinParts(parts));
  const data = decodeState(base.rebuild()).fields.data as Uint8Array;
  assert.is(data.byteLength, 64 * 1024 * 1024);
  assert.ok(data.every((b, at) => b === 5 || (at === 0 && b === 6)));
});

test("a checkpoint of a large running state is copied at once and checksummed after: a call sent after it is answered first, and each capture decodes to the state it was taken of", async () => {
  const p = makePool();
  await p.start(startReq("big", "Big"));
  await until(async () => (await call<number>(p, "big", "get")) >= 1, "the process to tick");
  const data = async (snapshot: Uint8Array) => decodeState(snapshot).fields.data as Uint8Array;
  // The first capture measures the state first; later ones find their buffer ready, unless the state grew.
  for (const [i, step] of ["first", "ready", "grown"].entries()) {
    if (step === "grown") await call(p, "big", "grow");
    await call(p, "big", "mark", ["12345", String(100 + i)]);
    const order: string[] = [];
    const captured = p.request({ type: "capture", name: "big" }).then((r) => (order.push("capture"), r));
    const answered = call(p, "big", "mark", ["12345", "0"]).then(() => order.push("call"));
    const [{ snapshot }] = await Promise.all([captured, answered]);
    assert.equal(order, ["call", "capture"], `${step}: the capture kept the executor to itself until its checksum was done`);
    // Decoding checks the CRC-32: computed over the live fields instead of the copy, it would not match.
    const bytes = await data(snapshot);
    // A capture makes its buffer ready before it copies, turns during which the call may run:
    // the copy then holds what the call wrote. Either is the state of one instant.
    assert.ok([100 + i, 0].includes(bytes[12345]!), `${step}: byte 12345 is ${bytes[12345]}`);
    assert.is(bytes.byteLength, (step === "grown" ? 72 : 64) * 1024 * 1024);
    const fill = step === "grown" ? 6 : 5;
    assert.ok(bytes.every((b, at) => at === 12345 || (at === 0 ? b === 5 || b === 6 : b === fill)), `${step}: damaged`);
  }
});

test("a checkpoint of a large running state is stamped with when its fields were read, not when it was sealed", async () => {
  const p = makePool();
  await p.start(startReq("big", "Big"));
  await until(async () => (await call<number>(p, "big", "get")) >= 1, "the process to tick");
  // Marks 1, 2, 3… one after the other while the capture runs, each setting a byte of its own;
  // the copy holds the marks made before it, and the next one was answered after the fields were read.
  const at = (mark: number) => 1_000_000 + mark;
  let done = false;
  const answeredAt: number[] = [];
  const captured = p.request({ type: "capture", name: "big" }).finally(() => (done = true));
  for (let mark = 1; !done; mark++) {
    await call(p, "big", "mark", [String(at(mark)), "200"]);
    answeredAt[mark] = Date.now();
  }
  const { snapshot, takenAt } = await captured;
  const data = decodeState(snapshot).fields.data as Uint8Array;
  let held = 0;
  while (data[at(held + 1)] === 200) held++;
  const next = answeredAt[held + 1];
  assert.ok(next !== undefined, `no mark was answered after the copy (it holds mark ${held} of ${answeredAt.length - 1})`);
  assert.ok(takenAt <= next, `stamped ${takenAt - next} ms after mark ${held + 1}, which it does not hold, was answered`);
});

test("discard removes a process and frees its name", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker"));
  await p.request({ type: "discard", name: "ticker" });
  assert.not.ok(p.has("ticker"));
  await p.start(startReq("ticker", "Ticker", { args: ["again"] }));
  assert.is((await call<TickerView>(p, "ticker", "get")).label, "again");
});

test("inspect() lists the callable methods of a module", async () => {
  const p = makePool();
  assert.equal((await p.inspect(join(dir, "Ticker.ts"), "v1")).methods, ["add", "constructedCount", "get"]);
  const missing = await rejection(p.inspect(join(dir, "Nope.ts"), "v1"));
  assert.is(missing.code, "module_not_found");
});

test("close() is idempotent, reports nothing lost, and later requests fail", async () => {
  const p = makePool();
  await p.start(startReq("ticker", "Ticker"));
  const first = p.close();
  assert.is(p.close(), first);
  await first;
  await p.close();
  await sleep(30);
  assert.equal(lost, []);
  const error = await rejection(p.request({ type: "call", name: "ticker", method: "get", args: [] }));
  assert.ok(["executor_failed", "process_not_found"].includes(error.code), error.code);
});

test.run();
