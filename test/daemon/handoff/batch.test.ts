/**
 * `handoff.batch` between a batching peer client and the holder's batch server: messages of one
 * turn travel in one request and are answered one by one (each its own success, failure and
 * timeout), a lone message travels as itself, an older holder gets them one by one, and a batch
 * the requester abandons rolls back the begins it answered.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FerryError, isFerryError } from "../../../daemon/errors.ts";
import { BatchingPeer } from "../../../daemon/handoff/batch-peer.ts";
import { type BatchHolder, type BatchItem, encodeFrame, FrameReader, serveBatch } from "../../../daemon/handoff/batch.ts";
import { errorResponse } from "../../../daemon/api/handler.ts";
import { validateRequest } from "../../../daemon/api/validate.ts";
import { handlerTransport } from "../../../daemon/api/transport.ts";
import { META_HEADER } from "../../../daemon/handoff/meta.ts";
import type { HandoffMeta } from "../../../schemas/api.schema.ts";
import { until } from "../../helpers/cluster.ts";

/** `validateRequest` for a batch, typed by hand: tsc gives up on the inferred union of items. */
const validateBatch = validateRequest as (type: "handoff.batch", body: unknown) => { items: BatchItem[] };
type Begin = Extract<BatchItem, { type: "handoff.begin" }>["body"];
type Commit = Extract<BatchItem, { type: "handoff.commit" }>["body"];
const validateOne = validateRequest as <T>(type: "handoff.begin" | "handoff.commit", body: unknown) => T;

const meta: HandoffMeta = { module: "Counter", args: [], migrations: 0, preludeMs: 0.1, completed: false };
const id = (name: string) => `${name}-handoff-id`;

/** A holder whose answers the test chooses by process name. */
class Holder implements BatchHolder {
  broken: string[] = [];
  /** Begins of these names never answer. */
  stuck = new Set<string>();

  async begin(req: { name: string; handoffId: string }) {
    if (this.stuck.has(req.name)) return new Promise<never>(() => {});
    if (req.name.startsWith("bad")) throw new FerryError("conflict", `Process "${req.name}" is already in a hand-off`, { retryable: false });
    return { snapshot: new TextEncoder().encode(`state of ${req.name}`), meta };
  }
  async commit(req: { name: string }) {
    if (req.name.startsWith("bad")) throw new FerryError("conflict", `Hand-off of "${req.name}" was rolled back: suspend_timeout`, { retryable: false });
    return { ok: true as const };
  }
  async abort() {
    return { ok: true as const };
  }
  async status() {
    return { outcome: "pending" as const };
  }
  streamBroken(name: string) {
    this.broken.push(name);
  }
}

/** A holder's API as far as hand-offs go, counting the requests by type. */
function holderApi(holder: BatchHolder, options: { batches?: boolean } = {}) {
  const requests: string[] = [];
  const handler = async (req: Request): Promise<Response> => {
    const type = new URL(req.url).pathname.slice("/v1/".length);
    requests.push(type);
    try {
      if (type === "handoff.batch" && options.batches === false) throw new FerryError("not_found", "No endpoint POST /v1/handoff.batch");
      const body = await req.json();
      switch (type) {
        case "handoff.batch":
          return serveBatch(holder, validateBatch("handoff.batch", body).items);
        case "handoff.begin": {
          const { snapshot, meta } = await holder.begin(validateOne<Begin>("handoff.begin", body));
          if (!(snapshot instanceof Uint8Array)) throw new FerryError("internal", "these states are small: never streamed");
          return new Response(snapshot, { headers: { [META_HEADER]: JSON.stringify(meta) } });
        }
        case "handoff.commit":
          return Response.json(await holder.commit(validateOne<Commit>("handoff.commit", body)));
        default:
          throw new FerryError("not_found", `No endpoint POST /v1/${type}`);
      }
    } catch (error) {
      return errorResponse(error);
    }
  };
  const peer = new BatchingPeer("alpha", "http://alpha.test:7101", "secret", handlerTransport(new Map([["http://alpha.test:7101", handler]])));
  return { peer, requests };
}

const begin = (peer: BatchingPeer, name: string, timeoutMs = 5000) =>
  peer.postForBytes("handoff.begin", { name, generation: 0, to: "beta", handoffId: id(name) }, { timeoutMs, maxBytes: 1 << 20 });
const commit = (peer: BatchingPeer, name: string) => peer.post("handoff.commit", { name, generation: 0, handoffId: id(name) }, { timeoutMs: 5000 });

async function failure(work: Promise<unknown>): Promise<FerryError> {
  try {
    await work;
  } catch (error) {
    if (isFerryError(error)) return error;
    throw error;
  }
  throw new Error("expected a failure");
}

test("hand-off messages of one turn travel in one request; each gets its own answer, one failing alone", async () => {
  const { peer, requests } = holderApi(new Holder());
  const names = Array.from({ length: 50 }, (_, i) => `p${i}`);
  const begins = names.map((name) => begin(peer, name));
  const refused = failure(begin(peer, "bad1"));
  const commits = ["c1", "c2"].map((name) => commit(peer, name));
  const answers = await Promise.all(begins);
  assert.equal(requests, ["handoff.batch"]);
  answers.forEach((answer, i) => {
    assert.is(new TextDecoder().decode(answer.bytes), `state of p${i}`);
    assert.equal(JSON.parse(answer.headers.get(META_HEADER)!), meta);
  });
  const error = await refused;
  assert.is(error.code, "conflict");
  assert.is(error.retryable, false);
  assert.match(error.message, /bad1/);
  assert.equal(await Promise.all(commits), [{ ok: true }, { ok: true }]);
});

test("a turn with more messages than one batch takes goes in several batches", async () => {
  const { peer, requests } = holderApi(new Holder());
  const answers = await Promise.all(Array.from({ length: 1500 }, (_, i) => commit(peer, `p${i}`)));
  assert.is(answers.length, 1500);
  assert.ok(answers.every((a) => a.ok));
  assert.equal(requests, ["handoff.batch", "handoff.batch"]);
});

test("a message alone in its turn travels as itself", async () => {
  const { peer, requests } = holderApi(new Holder());
  assert.equal(await commit(peer, "solo"), { ok: true });
  const answer = await begin(peer, "solo2");
  assert.is(new TextDecoder().decode(answer.bytes), "state of solo2");
  assert.equal(requests, ["handoff.commit", "handoff.begin"]);
});

test("a holder without handoff.batch gets the messages one by one, now and later", async () => {
  const { peer, requests } = holderApi(new Holder(), { batches: false });
  const answers = await Promise.all(["a", "b", "c"].map((name) => commit(peer, name)));
  assert.equal(answers, [{ ok: true }, { ok: true }, { ok: true }]);
  await Promise.all(["d", "e"].map((name) => commit(peer, name)));
  assert.equal(requests, ["handoff.batch", "handoff.commit", "handoff.commit", "handoff.commit", "handoff.commit", "handoff.commit"]);
});

test("an item that outlasts its own timeout fails alone; the others of its batch are answered", async () => {
  const holder = new Holder();
  holder.stuck.add("slow");
  const { peer } = holderApi(holder);
  const slow = failure(begin(peer, "slow", 100));
  const fast = begin(peer, "fast", 5000);
  assert.is(new TextDecoder().decode((await fast).bytes), "state of fast");
  const error = await slow;
  assert.is(error.code, "timeout");
  assert.match(error.message, /handoff\.begin.*100 ms/);
});

test("a snapshot larger than its item allows fails that item alone, and is never held in full", async () => {
  const { peer } = holderApi(new Holder());
  const small = failure(peer.postForBytes("handoff.begin", { name: "big", generation: 0, to: "beta", handoffId: id("big") }, { timeoutMs: 5000, maxBytes: 5 }));
  const fine = begin(peer, "fine");
  assert.is(new TextDecoder().decode((await fine).bytes), "state of fine");
  const error = await small;
  assert.is(error.code, "payload_too_large");
});

test("an answer that breaks off fails the items not yet answered as unreachable, not those answered", async () => {
  const handler = async (): Promise<Response> => {
    const first = encodeFrame({ i: 1, answer: { ok: true } });
    // One whole frame, half of the next frame's length prefix, then the connection drops.
    const chunks = [...first, new Uint8Array([0, 0])];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) controller.enqueue(chunk);
        else controller.error(new Error("socket hang up"));
      },
    });
    return new Response(body);
  };
  const peer = new BatchingPeer("alpha", "http://alpha.test:7101", "secret", handlerTransport(new Map([["http://alpha.test:7101", handler]])));
  const [a, b, c] = ["a", "b", "c"].map((name) => commit(peer, name));
  const failures = [failure(a!), failure(c!)];
  assert.equal(await b, { ok: true });
  for (const error of await Promise.all(failures)) {
    assert.is(error.code, "unreachable");
    assert.match(error.message, /broke off/);
  }
});

test("a batch the requester abandons rolls back every begin it answered, and those it answers later", async () => {
  const holder = new Holder();
  let release!: () => void;
  const late = new Promise<void>((resolve) => (release = resolve));
  const slowHolder: BatchHolder = {
    ...holder,
    begin: async (req) => (req.name === "late" ? (await late, holder.begin(req)) : holder.begin(req)),
    commit: (req) => holder.commit(req),
    abort: () => holder.abort(),
    status: () => holder.status(),
    streamBroken: (name) => holder.streamBroken(name),
  };
  const response = serveBatch(slowHolder, ["early", "late"].map((name) => ({ type: "handoff.begin" as const, body: { name, generation: 0, to: "beta", handoffId: id(name) } })));
  const reader = response.body!.getReader();
  const frames = new FrameReader();
  const got = frames.push((await reader.read()).value!);
  assert.equal(got.map((f) => f.head.i), [0]);
  await reader.cancel();
  assert.equal(holder.broken, ["early"]);
  release();
  await until(() => holder.broken.length === 2, "the late begin to be rolled back too");
  assert.equal(holder.broken, ["early", "late"]);
});

test("frames are cut back out of chunks split anywhere, payloads included", () => {
  const payload = new Uint8Array(3000).map((_, i) => i % 251);
  const parts = [...encodeFrame({ i: 0, meta: "{}", bytes: payload.byteLength }, payload), ...encodeFrame({ i: 1, answer: { ok: true } }), ...encodeFrame({ i: 2, bytes: 0, meta: "{}" })];
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.byteLength;
  }
  for (const size of [1, 3, 7, 1000, whole.byteLength]) {
    const reader = new FrameReader();
    const out: { i: number; bytes: number }[] = [];
    for (let i = 0; i < whole.byteLength; i += size) {
      for (const frame of reader.push(whole.subarray(i, i + size))) out.push({ i: frame.head.i, bytes: frame.payload.byteLength });
    }
    assert.equal(out, [{ i: 0, bytes: 3000 }, { i: 1, bytes: 0 }, { i: 2, bytes: 0 }], `chunks of ${size}`);
    assert.not.ok(reader.partial);
  }
  const reader = new FrameReader();
  reader.push(encodeFrame({ i: 0, meta: "{}", bytes: payload.byteLength }, payload)[0]!);
  assert.ok(reader.partial, "a frame whose payload has not arrived is partial");
  for (const size of [1, 7, whole.byteLength]) {
    const limited = new FrameReader((head) => (head.i === 0 ? 100 : Infinity));
    const out: { i: number; bytes: number; oversized: boolean }[] = [];
    for (let i = 0; i < whole.byteLength; i += size) {
      for (const frame of limited.push(whole.subarray(i, i + size))) out.push({ i: frame.head.i, bytes: frame.payload.byteLength, oversized: frame.oversized === true });
    }
    assert.equal(out, [{ i: 0, bytes: 0, oversized: true }, { i: 1, bytes: 0, oversized: false }, { i: 2, bytes: 0, oversized: false }], `limited, chunks of ${size}`);
  }
});

test("a malformed frame head is refused", () => {
  const json = new TextEncoder().encode(JSON.stringify({ i: -1, surprise: true }));
  const frame = new Uint8Array(4 + json.byteLength);
  new DataView(frame.buffer).setUint32(0, json.byteLength);
  frame.set(json, 4);
  try {
    new FrameReader().push(frame);
    assert.unreachable("accepted");
  } catch (error) {
    assert.ok(isFerryError(error) && error.code === "bad_request");
  }
});

test("the request schema takes the four hand-off messages and nothing else", () => {
  const body = { items: [{ type: "handoff.commit", body: { name: "c", generation: 1, handoffId: "12345678" } }] };
  assert.equal(validateBatch("handoff.batch", body).items.length, 1);
  for (const bad of [
    { items: [] },
    { items: [{ type: "call", body: { name: "c", method: "get" } }] },
    { items: [{ type: "handoff.commit", body: { name: "c", generation: 1 } }] },
    { items: [{ type: "handoff.commit", body: { name: "c", generation: 1, handoffId: "12345678" }, extra: 1 }] },
  ]) {
    try {
      validateBatch("handoff.batch", bad);
      assert.unreachable(JSON.stringify(bad));
    } catch (error) {
      assert.ok(isFerryError(error) && error.code === "bad_request", JSON.stringify(bad));
    }
  }
});

test.run();
