import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ExecutorPool } from "../../../daemon/executor/pool.ts";
import {
  CALLS_FIELD,
  KEEP_SLACK_MS,
  MAX_KEPT_ANSWER_BYTES,
  MAX_KEPT_BYTES,
  MAX_KEPT_CALLS,
  RecentCalls,
} from "../../../daemon/executor/recent-calls.ts";
import { FerryError } from "../../../daemon/errors.ts";
import { decodeState, decodeValue, encodeValue } from "../../../daemon/snapshot/mod.ts";
import { call, moduleDir, poolPerTest, rejection, startReq, until } from "./harness.ts";

// A call carries its caller's id in every retry: the process answers a call it already ran again
// instead of running it twice, and those answers travel with its state.

const modules = moduleDir({
  "Account.ts": `
let release: (() => void) | undefined;
export default class Account {
  balance = 0;
  constructor(_a: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) await ctx.sleep(20);
  }
  deposit(args: string[]) { this.balance += Number(args[0]); return this.balance; }
  depositWhenReleased(args: string[]) {
    return new Promise((resolve) => { release = () => { this.balance += Number(args[0]); resolve(this.balance); }; });
  }
  releaseDeposit() { const r = release; release = undefined; r?.(); return r !== undefined; }
  waiting() { return release !== undefined; }
  overdraw() { this.balance -= 1000; throw new Error("insufficient funds"); }
  statement() { this.balance += 1; return "x".repeat(${MAX_KEPT_ANSWER_BYTES} + 1); }
  get() { return this.balance; }
  fieldNames() { return Object.keys(this); }
}`,
});
const openPool = poolPerTest(test, modules);

function open(): ExecutorPool {
  return openPool().pool;
}

async function callWithId<T = unknown>(p: ExecutorPool, id: string, method: string, args: string[] = [], name = "acct"): Promise<T> {
  const { value } = await p.request({ type: "call", name, method, args, callId: id, keepMs: 10_000 });
  return decodeValue(value) as T;
}

test("a call retried with its id is answered again and not run again; another id runs", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  assert.is(await callWithId(p, "call-0001", "deposit", ["5"]), 5);
  assert.is(await callWithId(p, "call-0001", "deposit", ["5"]), 5, "the retry was not answered with the first answer");
  assert.is(await call(p, "acct", "get"), 5, "the retry ran the deposit again");
  assert.is(await callWithId(p, "call-0002", "deposit", ["5"]), 10);
  assert.is(await call(p, "acct", "get"), 10);
});

test("a call without an id runs every time", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  await call(p, "acct", "deposit", ["3"]);
  await call(p, "acct", "deposit", ["3"]);
  assert.is(await call(p, "acct", "get"), 6);
});

test("a retry that arrives while its call still runs waits for that run and gets its answer", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  const first = callWithId(p, "call-held", "depositWhenReleased", ["7"]);
  await until(() => call(p, "acct", "waiting"), "the first deposit to wait");
  const retry = callWithId(p, "call-held", "depositWhenReleased", ["7"]);
  assert.ok(await call(p, "acct", "releaseDeposit"));
  assert.equal(await Promise.all([first, retry]), [7, 7]);
  assert.is(await call(p, "acct", "waiting"), false, "the retry started the method a second time");
  assert.is(await call(p, "acct", "get"), 7);
});

test("a method that threw is not run again on retry: the retry gets the same failure", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  const first = await rejection(callWithId(p, "call-throws", "overdraw"));
  const again = await rejection(callWithId(p, "call-throws", "overdraw"));
  assert.is(first.code, "method_failed");
  assert.is(again.code, "method_failed");
  assert.is(again.message, first.message);
  assert.match(again.message, /insufficient funds/);
  assert.is(await call(p, "acct", "get"), -1000, "the failing method ran twice");
});

test("an unknown method is not a call that ran: a retry after fixing nothing fails the same way, and nothing is kept", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  assert.is((await rejection(callWithId(p, "call-nope", "nope"))).code, "method_not_found");
  const { snapshot } = await p.request({ type: "capture", name: "acct" });
  assert.ok(snapshot);
  assert.not.ok(CALLS_FIELD in decodeState(snapshot!).fields, "a call that never ran was kept");
});

test("an answer too large to keep: the retry is refused with answer_not_kept and the method does not run again", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  const statement = await callWithId<string>(p, "call-big", "statement");
  assert.is(statement.length, MAX_KEPT_ANSWER_BYTES + 1);
  const refused = await rejection(callWithId(p, "call-big", "statement"));
  assert.is(refused.code, "answer_not_kept");
  assert.match(refused.message, /already ran/);
  assert.is(await call(p, "acct", "get"), 1);
});

test("kept answers travel in the captured state: a copy restored from it answers the retry without running it, and the instance never sees the reserved field", async () => {
  const p = open();
  await p.start(startReq(modules.path("Account"), "acct"));
  assert.is(await callWithId(p, "call-moved", "deposit", ["9"]), 9);
  const { snapshot } = await p.request({ type: "capture", name: "acct" });
  assert.ok(snapshot);
  const fields = decodeState(snapshot!).fields;
  assert.is(fields.balance, 9);
  assert.ok(Array.isArray(fields[CALLS_FIELD]), "the snapshot does not keep the call's answer");
  await p.start(startReq(modules.path("Account"), "copy", { snapshot: snapshot! }));
  assert.is(await callWithId(p, "call-moved", "deposit", ["9"], "copy"), 9);
  assert.is(await call(p, "copy", "get"), 9, "the restored copy ran the call again");
  assert.equal(await call(p, "copy", "fieldNames"), ["balance"]);
  assert.is(await callWithId(p, "call-new", "deposit", ["1"], "copy"), 10);
});

test("RecentCalls keeps at most MAX_KEPT_CALLS calls, the oldest leaving first", async () => {
  const calls = new RecentCalls();
  let runs = 0;
  const run = async () => ({ answer: encodeValue(++runs) });
  for (let i = 0; i <= MAX_KEPT_CALLS; i++) await calls.once(`id-${i}`, 60_000, run);
  assert.is(calls.size, MAX_KEPT_CALLS);
  assert.is(decodeValue(await calls.once(`id-${MAX_KEPT_CALLS}`, 60_000, run)), MAX_KEPT_CALLS + 1);
  assert.is(decodeValue(await calls.once("id-1", 60_000, run)), 2);
  assert.is(runs, MAX_KEPT_CALLS + 1);
  await calls.once("id-0", 60_000, run);
  assert.is(runs, MAX_KEPT_CALLS + 2, "the oldest call was still kept");
});

test("RecentCalls drops the oldest answers past MAX_KEPT_BYTES, and still refuses to run those calls again", async () => {
  const calls = new RecentCalls();
  let runs = 0;
  const answerBytes = MAX_KEPT_ANSWER_BYTES - 1024;
  const run = async () => ({ answer: new Uint8Array(answerBytes).fill(++runs) });
  const count = Math.ceil(MAX_KEPT_BYTES / answerBytes) + 2;
  for (let i = 0; i < count; i++) await calls.once(`id-${i}`, 60_000, run);
  const oldest = await calls.once("id-0", 60_000, run).then(() => undefined, (error: unknown) => error);
  assert.instance(oldest, FerryError);
  assert.is((oldest as FerryError).code, "answer_not_kept");
  assert.is((await calls.once(`id-${count - 1}`, 60_000, run))[0], count);
  assert.is(runs, count);
  const kept = calls.toField(Date.now())!;
  const bytes = kept.reduce((sum, [, , answer]) => sum + (answer?.byteLength ?? 0), 0);
  assert.ok(bytes <= MAX_KEPT_BYTES, `${bytes} bytes of answers kept`);
});

test("RecentCalls forgets a call once its caller's deadline and the slack have passed, in the field and when read back", async () => {
  const calls = new RecentCalls();
  const run = async () => ({ answer: encodeValue(1) });
  await calls.once("short", 1_000, run);
  await calls.once("long", 600_000, run);
  const later = Date.now() + 1_000 + KEEP_SLACK_MS + 1;
  assert.equal(calls.toField(later)!.map(([id]) => id), ["long"]);
  const stored = [["gone", Date.now() - 1, encodeValue(1), null], ["here", Date.now() + 60_000, encodeValue(2), null], "junk"];
  const restored = RecentCalls.from(stored);
  assert.is(restored.size, 1);
  assert.is(decodeValue(await restored.once("here", 0, run)), 2);
  assert.is(RecentCalls.from(undefined).toField(Date.now()), undefined);
});

test.run();
