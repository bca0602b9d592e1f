/**
 * The client of a peer as the hand-off uses it: hand-off messages (`handoff.begin`, `commit`,
 * `abort`, `status`) sent to this peer in the same turn travel together as one `handoff.batch`,
 * and each caller gets its own answer, its own failure and its own timeout, as if it had sent its
 * message alone. A message alone in its turn is sent as itself, so a single hand-off takes the
 * same path as before; a peer that does not know `handoff.batch` gets the messages one by one.
 *
 * @example
 * ```ts
 * const beta = new BatchingPeer("beta", "http://127.0.0.1:7102", secret);
 * await Promise.all(names.map((name) => beta.post("handoff.commit", { name, generation: 0, handoffId: ids[name] })));
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import { FerryError, isFerryError, toErrorCode } from "../errors.ts";
import { ApiClient, type BytesOptions, type JsonMessageType, type RequestBody, type RequestOptions } from "../api/client.ts";
import { type AnswerHeaders, HeaderMap } from "../api/transport.ts";
import type { MessageType, ResponseOf } from "../../schemas/api.schema.ts";
import { type BatchItem, FrameReader } from "./batch.ts";
import { META_HEADER } from "./meta.ts";

type Batched = BatchItem["type"];
const batched = new Set<string>(["handoff.begin", "handoff.commit", "handoff.abort", "handoff.status"] satisfies Batched[]);

/** Items per request, and their JSON size: well inside what a daemon accepts (1 MiB, 4096 items). */
const MAX_ITEMS = 1024;
const MAX_JSON = 512 * 1024;

interface Queued {
  item: BatchItem;
  /** A `begin` asked for with postForStream: alone, it streams; in a batch, it is one chunk. */
  stream?: boolean;
  options: RequestOptions & Partial<Pick<BytesOptions, "maxBytes" | "onProgress">>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  settled: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * An {@link ApiClient} of a peer that sends the hand-off messages of one turn as one batch.
 *
 * @example
 * ```ts
 * const peer = new BatchingPeer("alpha", "http://127.0.0.1:7101", secret);
 * const [a, b] = await Promise.all(["p1", "p2"].map((name) => peer.postForBytes("handoff.begin", { name, generation: 0, to: "beta", handoffId: ids[name] }, { timeoutMs: 30000, maxBytes })));
 * ```
 */
export class BatchingPeer extends ApiClient {
  #queue: Queued[] = [];
  /** False once the peer said it has no `handoff.batch` (an older version). */
  #batches = true;

  override post<T extends JsonMessageType>(type: T, body: RequestBody<T>, options: RequestOptions = {}): Promise<ResponseOf<T>> {
    // A caller that may cancel its message sends it alone: one item cannot cancel a batch.
    if (!this.#batches || !batched.has(type) || options.signal) return super.post(type, body, options);
    return this.#enqueue({ type, body } as BatchItem, options) as Promise<ResponseOf<T>>;
  }

  override postForBytes<T extends MessageType>(type: T, body: RequestBody<T>, options: BytesOptions): Promise<{ bytes: Uint8Array; headers: AnswerHeaders }> {
    if (!this.#batches || type !== "handoff.begin" || options.signal) return super.postForBytes(type, body, options);
    return this.#enqueue({ type, body } as BatchItem, options) as Promise<{ bytes: Uint8Array; headers: AnswerHeaders }>;
  }

  override async postForStream<T extends "handoff.begin">(type: T, body: RequestBody<T>, options: BytesOptions): Promise<{ headers: AnswerHeaders; length: number | undefined; chunks: AsyncIterable<Uint8Array> }> {
    if (!this.#batches || options.signal) return super.postForStream(type, body, options);
    const answer = await this.#enqueue({ type, body } as BatchItem, options, true);
    if (!(answer as { bytes?: unknown }).bytes) return answer as Awaited<ReturnType<ApiClient["postForStream"]>>;
    const { bytes, headers } = answer as { bytes: Uint8Array; headers: AnswerHeaders };
    return { headers, length: bytes.byteLength, chunks: (async function* () { yield bytes; })() };
  }

  #enqueue(item: BatchItem, options: Queued["options"], stream = false): Promise<unknown> {
    return new Promise((resolve, reject) => {
      // The turn's last callback has run by the check phase: everything issued in it goes together.
      if (!this.#queue.length) setImmediate(() => this.#flush());
      this.#queue.push({ item, options, resolve, reject, settled: false, ...(stream ? { stream } : {}) });
    });
  }

  #flush(): void {
    const queue = this.#queue;
    this.#queue = [];
    if (queue.length === 1) return this.#alone(queue[0]!);
    let start = 0;
    let size = 0;
    for (let i = 0; i < queue.length; i++) {
      const itemSize = JSON.stringify(queue[i]!.item).length;
      size += itemSize;
      if (i > start && (i - start >= MAX_ITEMS || size > MAX_JSON)) {
        void this.#send(queue.slice(start, i));
        start = i;
        size = itemSize;
      }
    }
    void this.#send(queue.slice(start));
  }

  /** One message on its own, as the plain client sends it. */
  #alone(q: Queued): void {
    const { item, options } = q;
    const sent = item.type !== "handoff.begin"
      ? super.post(item.type, item.body as never, options)
      : q.stream
      ? super.postForStream(item.type, item.body, { ...options, maxBytes: options.maxBytes ?? Infinity })
      : super.postForBytes(item.type, item.body, { ...options, maxBytes: options.maxBytes ?? Infinity });
    sent.then(q.resolve, q.reject);
  }

  async #send(group: Queued[]): Promise<void> {
    if (group.length === 1) return this.#alone(group[0]!);
    const settle = (q: Queued, fn: () => void) => {
      if (q.settled) return;
      q.settled = true;
      clearTimeout(q.timer);
      fn();
    };
    let timeoutMs = 0;
    for (const q of group) {
      const ms = q.options.timeoutMs ?? 10_000;
      timeoutMs = Math.max(timeoutMs, ms);
      q.timer = setTimeout(() => settle(q, () => q.reject(new FerryError("timeout", `Node "${this.name}" at ${this.url} did not answer "${q.item.type}" within ${ms} ms`, {
        hint: "is its daemon overloaded or stuck? see its log",
      }))), ms);
    }
    let answered = 0;
    try {
      // A payload larger than its item allows is never allocated: that item alone fails.
      const reader = new FrameReader((head) => group[head.i]?.options.maxBytes ?? Infinity);
      for await (const chunk of this.postForChunks("handoff.batch", { items: group.map((q) => q.item) }, { timeoutMs })) {
        for (const { head, payload, oversized } of reader.push(chunk)) {
          const q = group[head.i];
          if (!q) throw new FerryError("bad_request", `Node "${this.name}" answered item ${head.i} of a batch of ${group.length}`);
          answered++;
          settle(q, () => {
            if (head.error) {
              const { code, message, hint, retryable } = head.error;
              return q.reject(new FerryError(toErrorCode(code), message, { ...(hint !== undefined ? { hint } : {}), ...(retryable !== undefined ? { retryable } : {}) }));
            }
            if (q.item.type !== "handoff.begin") return q.resolve(head.answer ?? {});
            if (oversized) return q.reject(new FerryError("payload_too_large", `Answer of ${head.bytes} bytes exceeds ${q.options.maxBytes}`));
            q.options.onProgress?.(payload.byteLength, payload.byteLength);
            q.resolve({ bytes: payload, headers: new HeaderMap({ [META_HEADER]: head.meta ?? "" }) });
          });
        }
      }
      if (reader.partial) throw this.unreachable(new Error("the answer broke off inside a frame"));
      for (const q of group) settle(q, () => q.reject(new FerryError("internal", `Node "${this.name}" did not answer "${q.item.type}" of "${q.item.body.name}" in its batch`)));
    } catch (error) {
      if (answered === 0 && noBatches(error)) {
        // An older peer: the same messages, one by one.
        this.#batches = false;
        for (const q of group) {
          clearTimeout(q.timer);
          if (!q.settled) this.#alone(q);
        }
        return;
      }
      for (const q of group) settle(q, () => q.reject(error));
    }
  }
}

function noBatches(error: unknown): boolean {
  return isFerryError(error) && error.code === "not_found" && /handoff\.batch/.test(error.message);
}
