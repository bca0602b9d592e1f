/**
 * `handoff.batch`: several hand-off messages (`begin`, `commit`, `abort`, `status`) to one holder
 * in one request. The holder handles each item exactly as it would handle the message on its own
 * (one session per process, its own checks, its own outcome) and answers each as soon as it is
 * ready, as one frame of a streamed answer: a 4-byte big-endian length, the frame's head as JSON
 * (`handoffBatchFrameSchema`), then the head's `bytes` bytes of payload (a begin's snapshot).
 * Items answered in the same turn share the holder's journal fsyncs; one that fails fails alone.
 *
 * @example
 * ```ts
 * return serveBatch(handoffs, body.items, (type, name) => trace.mark("api", type, name));
 * ```
 * @module
 */
import type { ValidateFunction } from "ajv";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import { faults } from "../faults.ts";
import type { HandoffBatchFrame, RequestOf } from "../../schemas/api.schema.ts";
import { validators } from "../../schemas/validators.ts";
import type { SourceHandoffs } from "./serve.ts";
import type { StreamedSnapshot } from "../node/snapshot-stream.ts";
import { streamResponse } from "../api/lazy-response.ts";

/** One item of a `handoff.batch` request. */
export type BatchItem = RequestOf<"handoff.batch">["items"][number];

/** The holder's sessions, as a batch uses them. */
export type BatchHolder = Pick<SourceHandoffs, "begin" | "commit" | "abort" | "status" | "streamBroken">;

/** Largest piece of the answer handed to the server at once: big snapshots go in slices. */
const PIECE = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes one frame: its length-prefixed head, then the payload (not copied).
 *
 * @example
 * ```ts
 * const [head, payload] = encodeFrame({ i: 0, meta: "{…}", bytes: snapshot.byteLength }, snapshot);
 * ```
 */
export function encodeFrame(head: HandoffBatchFrame, payload?: Uint8Array): Uint8Array[] {
  const json = encoder.encode(JSON.stringify(head));
  const out = new Uint8Array(4 + json.byteLength);
  new DataView(out.buffer).setUint32(0, json.byteLength);
  out.set(json, 4);
  return payload && payload.byteLength ? [out, payload] : [out];
}

/**
 * The frame that answers item `i` with `error`, its fields as an error body carries them.
 *
 * @example
 * ```ts
 * errorFrame(3, new FerryError("conflict", "Hand-off … is not pending here")); // { i: 3, error: { code: "conflict", … } }
 * ```
 */
export function errorFrame(i: number, error: unknown): HandoffBatchFrame {
  const ferry = isFerryError(error) ? error : new FerryError("internal", describeError(error));
  return { i, error: { code: ferry.code, message: ferry.message, ...(ferry.hint ? { hint: ferry.hint } : {}), retryable: ferry.retryable } };
}

/**
 * Handles every item of a batch at once and streams each answer as it is ready. When the
 * requester hangs up before the end, every begin this batch answered (or answers later) is
 * treated like a single begin whose stream broke: the holder rolls it back at once. That is safe
 * for a snapshot that did arrive: its commit then finds the hand-off rolled back, and the
 * destination drops its copy.
 *
 * @example
 * ```ts
 * const response = serveBatch(handoffs, [{ type: "handoff.commit", body: { name: "c", generation: 2, handoffId } }]);
 * ```
 */
export function serveBatch(handoffs: BatchHolder, items: readonly BatchItem[], mark?: (type: string, name: string) => void): Response {
  const ready: Uint8Array[] = [];
  const begun: { name: string; handoffId: string }[] = [];
  let pending = items.length;
  let wake: (() => void) | undefined;
  let cancelled = false;
  const settle = (parts: Uint8Array[]) => {
    ready.push(...parts);
    pending--;
    wake?.();
  };
  items.forEach((item, i) => {
    mark?.(item.type, item.body.name);
    answer(handoffs, item).then(
      (result) => {
        if ("snapshot" in result) {
          const begin = { name: item.body.name, handoffId: item.body.handoffId };
          if (cancelled) {
            handoffs.streamBroken(begin.name, begin.handoffId);
            return settle([]);
          }
          begun.push(begin);
          return settle(encodeFrame({ i, meta: JSON.stringify(result.meta), bytes: result.snapshot.byteLength }, result.snapshot));
        }
        settle(encodeFrame({ i, answer: result.answer }));
      },
      (error: unknown) => settle(encodeFrame(errorFrame(i, error))),
    );
  });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (!ready.length && pending > 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (!ready.length) return controller.close();
      controller.enqueue(takePiece(ready));
    },
    cancel() {
      cancelled = true;
      for (const begin of begun) handoffs.streamBroken(begin.name, begin.handoffId);
    },
  });
  return streamResponse(body, { headers: { "content-type": "application/octet-stream" } });
}

/** Up to {@link PIECE} bytes from the front of `ready`: small frames joined, a large payload sliced. */
function takePiece(ready: Uint8Array[]): Uint8Array {
  const first = ready[0]!;
  if (first.byteLength >= PIECE) {
    if (first.byteLength === PIECE) return ready.shift()!;
    ready[0] = first.subarray(PIECE);
    return first.subarray(0, PIECE);
  }
  let size = 0;
  let count = 0;
  while (count < ready.length && size + ready[count]!.byteLength <= PIECE) size += ready[count++]!.byteLength;
  if (count === 1) return ready.shift()!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of ready.splice(0, count)) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

type Answer = { snapshot: Uint8Array; meta: unknown } | { answer: Record<string, unknown> };

async function gather(snapshot: StreamedSnapshot): Promise<Uint8Array> {
  const bytes = new Uint8Array(snapshot.byteLength);
  let offset = 0;
  for await (const chunk of snapshot.chunks("send")) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (offset !== bytes.byteLength) throw new FerryError("internal", `A snapshot of ${bytes.byteLength} bytes ended after ${offset}`);
  return bytes;
}

async function answer(handoffs: BatchHolder, item: BatchItem): Promise<Answer> {
  switch (item.type) {
    case "handoff.begin": {
      const { snapshot, meta } = await handoffs.begin(item.body);
      // A frame carries whole bytes: a large state moved with others is gathered (it streams
      // when it travels alone).
      return { snapshot: snapshot instanceof Uint8Array ? snapshot : await gather(snapshot), meta };
    }
    case "handoff.commit":
      if (faults.delayBatchCommitMs && new RegExp(faults.delayBatchCommitOf ?? "").test(item.body.name)) {
        await new Promise((resolve) => setTimeout(resolve, faults.delayBatchCommitMs));
      }
      return { answer: await handoffs.commit(item.body) };
    case "handoff.abort":
      return { answer: await handoffs.abort(item.body) };
    case "handoff.status":
      return { answer: await handoffs.status(item.body) };
  }
}

const validateFrame = (await validators("api")).handoffBatchFrame as ValidateFunction<HandoffBatchFrame>;

/**
 * Cuts a batch answer back into frames as its chunks arrive. A payload is read into one buffer
 * of its announced size, so a large snapshot is copied once.
 *
 * @example
 * ```ts
 * const reader = new FrameReader();
 * for await (const chunk of chunks) for (const { head, payload } of reader.push(chunk)) deliver(head, payload);
 * ```
 */
export class FrameReader {
  readonly #limit: (head: HandoffBatchFrame) => number;
  #carry = new Uint8Array(0);
  #head: HandoffBatchFrame | undefined;
  #payload: Uint8Array | undefined;
  /** Bytes of an oversized payload still to skip (never allocated). */
  #skip = 0;
  #filled = 0;

  /** `limit` bounds each frame's payload: a larger one is skipped and its frame marked `oversized`. */
  constructor(limit: (head: HandoffBatchFrame) => number = () => Infinity) {
    this.#limit = limit;
  }

  /** True while a frame is only partly read (the answer must not end here). */
  get partial(): boolean {
    return this.#head !== undefined || this.#carry.byteLength > 0;
  }

  /** The frames that `chunk` completes. Throws `bad_request` for a malformed frame head. */
  push(chunk: Uint8Array): { head: HandoffBatchFrame; payload: Uint8Array; oversized?: true }[] {
    const out: { head: HandoffBatchFrame; payload: Uint8Array; oversized?: true }[] = [];
    let at = 0;
    while (at < chunk.byteLength || (this.#head && this.#skip === 0 && this.#filled === this.#payload!.byteLength)) {
      if (this.#head && this.#skip > 0) {
        const take = Math.min(this.#skip, chunk.byteLength - at);
        this.#skip -= take;
        at += take;
        if (this.#skip === 0) {
          out.push({ head: this.#head, payload: new Uint8Array(0), oversized: true });
          this.#head = undefined;
          this.#payload = undefined;
        }
        continue;
      }
      if (this.#head) {
        const payload = this.#payload!;
        const take = Math.min(payload.byteLength - this.#filled, chunk.byteLength - at);
        payload.set(chunk.subarray(at, at + take), this.#filled);
        this.#filled += take;
        at += take;
        if (this.#filled === payload.byteLength) {
          out.push({ head: this.#head, payload });
          this.#head = undefined;
          this.#payload = undefined;
        }
        continue;
      }
      // The length prefix and the head are small: gathered in a carry buffer.
      const need = this.#carry.byteLength < 4 ? 4 : 4 + new DataView(this.#carry.buffer, this.#carry.byteOffset).getUint32(0);
      const take = Math.min(need - this.#carry.byteLength, chunk.byteLength - at);
      const carry = new Uint8Array(this.#carry.byteLength + take);
      carry.set(this.#carry);
      carry.set(chunk.subarray(at, at + take), this.#carry.byteLength);
      this.#carry = carry;
      at += take;
      if (carry.byteLength < need || need === 4) continue;
      this.#head = parseHead(carry.subarray(4));
      this.#carry = new Uint8Array(0);
      const bytes = this.#head.bytes ?? 0;
      this.#filled = 0;
      if (bytes > this.#limit(this.#head)) this.#skip = bytes;
      else this.#payload = new Uint8Array(bytes);
    }
    return out;
  }
}

function parseHead(bytes: Uint8Array): HandoffBatchFrame {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new FerryError("bad_request", "A hand-off batch frame is not JSON");
  }
  if (!validateFrame(value)) throw new FerryError("bad_request", `A hand-off batch frame is malformed: ${validateFrame.errors?.[0]?.message ?? "invalid"}`);
  return value;
}
