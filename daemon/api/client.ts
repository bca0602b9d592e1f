/**
 * The one client of the daemon API, used by the CLI, by peers and by the tests, over an
 * injectable {@link Transport}. Requests and answers are typed from `schemas/api.schema.ts`;
 * every failure becomes a FerryError whose message names the node and URL, and whose
 * `retryable` comes from the daemon's error body or the failure table.
 *
 * @example
 * ```ts
 * const beta = new ApiClient("beta", "http://127.0.0.1:7102", secret);
 * const processes = await beta.post("ps", {});
 * ```
 * @module
 */
import type { FromSchema, JSONSchema } from "json-schema-to-ts";
import { FerryError, isFerryError, refusedUnknownField, toErrorCode } from "../errors.ts";
import type { FerryEvent, LogRecord, MessageType, requests, ResponseOf } from "../../schemas/api.schema.ts";
import type { Answer, AnswerHeaders, Exchange, FastTransport, OpenAnswer, Transport } from "./transport.ts";
import { AnswerTooLarge, BodyCollector } from "./body.ts";
import { importBeside } from "../install.ts";

type Lenient<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;

/**
 * The body of `POST /v1/<type>`; fields with a schema default may be left out (the daemon fills
 * them in). Spelled out per type: tsc gives up on a FromSchema indexed by a generic type.
 */
export interface RequestBodies {
  status: Lenient<typeof requests.status>;
  ps: Lenient<typeof requests.ps>;
  shutdown: Lenient<typeof requests.shutdown>;
  call: Lenient<typeof requests.call>;
  reconcile: Lenient<typeof requests.reconcile>;
  locate: Lenient<typeof requests.locate>;
  "locate.batch": Lenient<(typeof requests)["locate.batch"]>;
  load: Lenient<typeof requests.load>;
  "balance.request": Lenient<(typeof requests)["balance.request"]>;
  "balance.offer": Lenient<(typeof requests)["balance.offer"]>;
  "handoff.begin": Lenient<(typeof requests)["handoff.begin"]>;
  "handoff.commit": Lenient<(typeof requests)["handoff.commit"]>;
  "handoff.abort": Lenient<(typeof requests)["handoff.abort"]>;
  "handoff.status": Lenient<(typeof requests)["handoff.status"]>;
  "handoff.batch": Lenient<(typeof requests)["handoff.batch"]>;
  "handoff.precopy": Lenient<(typeof requests)["handoff.precopy"]>;
  "handoff.precopy.end": Lenient<(typeof requests)["handoff.precopy.end"]>;
  "checkpoint.replicate": Lenient<(typeof requests)["checkpoint.replicate"]>;
  "checkpoint.fetch": Lenient<(typeof requests)["checkpoint.fetch"]>;
  liveness: Lenient<typeof requests.liveness>;
  "module.fetch": Lenient<(typeof requests)["module.fetch"]>;
  nodes: Lenient<typeof requests.nodes>;
  "config.migrate": Lenient<(typeof requests)["config.migrate"]>;
  "process.upgrade": Lenient<(typeof requests)["process.upgrade"]>;
  "logs.read": Lenient<(typeof requests)["logs.read"]>;
  "logs.follow": Lenient<(typeof requests)["logs.follow"]>;
}
export type RequestBody<T extends MessageType> = RequestBodies[T];

/** Message types answered with JSON. */
export type JsonMessageType = Exclude<MessageType, "handoff.begin" | "handoff.batch" | "handoff.precopy" | "checkpoint.fetch" | "logs.follow">;

/** Message types whose request carries bytes (the JSON part travels in a header). */
export const BYTES_REQUEST_HEADER = "ferry-checkpoint";

export interface RequestOptions {
  /**
   * Give up after this long: FerryError("timeout").
   * @default 10000
   */
  timeoutMs?: number;
  /** Cancels the request; its reason is thrown as is. */
  signal?: AbortSignal;
  /**
   * Fields of the body that this release added to its message ({@link ApiClient.post} only). A
   * node of an older release refuses such a field unread, having done nothing; the message is then
   * sent again without it.
   */
  newFields?: readonly string[];
}

export interface BytesOptions extends RequestOptions {
  /** A larger body is refused: FerryError("payload_too_large"). */
  maxBytes: number;
  /** Called as the body arrives (`total` is 0 when unknown). */
  onProgress?: (received: number, total: number) => void;
}

const defaultTimeoutMs = 10_000;
let shared: Transport | undefined;

/**
 * The transport clients use unless told otherwise (the daemons pass their own): on Node, the
 * keep-alive `node:http` one, loaded with its first request; on Deno, `fetch`. Deno's `node:http`
 * takes a command some 10 ms to load and its first request is slower than `fetch`'s, while the
 * keep-alive gains of the hot paths (hand-offs) concern daemons only.
 */
export function defaultTransport(): Transport {
  shared ??= "Deno" in globalThis ? (request) => fetch(request) : deferredHttpTransport();
  return shared;
}

/**
 * `httpTransport()`, with `transport.ts` (and `node:http`, `node:https`, `node:tls` behind it)
 * imported by its first request rather than by every program that imports the client.
 */
function deferredHttpTransport(): FastTransport {
  let loaded: Promise<FastTransport> | undefined;
  const http = (): Promise<FastTransport> => {
    loaded ??= importBeside<typeof import("./transport.ts")>(import.meta.url, "./transport").then((m) => m.httpTransport());
    return loaded;
  };
  const transport: Transport = async (request) => (await http())(request);
  return Object.assign(transport, {
    exchange: async (x: Exchange): Promise<Answer> => (await http()).exchange(x),
    open: async (x: Exchange): Promise<OpenAnswer> => (await http()).open(x),
  });
}

/**
 * Client of one node's daemon.
 *
 * @example
 * ```ts
 * const { text } = await new ApiClient("alpha", url, secret).post("call", { name: "counter", method: "get" });
 * ```
 */
export class ApiClient {
  /** The node's name, as in cluster.yaml. */
  readonly name: string;
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly #secret: string;
  readonly #transport: Transport;

  constructor(name: string, url: string, secret: string, transport: Transport = defaultTransport()) {
    this.name = name;
    this.url = url.replace(/\/+$/, "");
    this.#secret = secret;
    this.#transport = transport;
  }

  /**
   * Sends one JSON message and returns the node's answer.
   *
   * @example
   * ```ts
   * const where = await client.post("locate", { name: "counter" }, { timeoutMs: 2000 });
   * ```
   */
  async post<T extends JsonMessageType>(type: T, body: RequestBody<T>, options: RequestOptions = {}): Promise<ResponseOf<T>> {
    const { newFields, ...once } = options;
    if (!newFields?.some((field) => Object.hasOwn(body, field))) return await this.#post(type, body, once);
    try {
      return await this.#post(type, body, once);
    } catch (error) {
      const refused = newFields.find((field) => Object.hasOwn(body, field) && refusedUnknownField(error, field));
      if (refused === undefined) throw error;
      const without: Record<string, unknown> = { ...body };
      delete without[refused];
      return await this.post(type, without as RequestBody<T>, { ...once, newFields: newFields.filter((field) => field !== refused) });
    }
  }

  async #post<T extends JsonMessageType>(type: T, body: RequestBody<T>, options: RequestOptions): Promise<ResponseOf<T>> {
    if (isFast(this.#transport)) {
      const answer = await this.#exchange(this.#transport, type, body, { ...options, maxBytes: 256 * 1024 * 1024 });
      try {
        return JSON.parse(new TextDecoder().decode(answer.body)) as ResponseOf<T>;
      } catch (cause) {
        throw new FerryError("internal", `Node "${this.name}" at ${this.url} answered "${type}" with invalid JSON`, { cause });
      }
    }
    const response = await this.#send(`/v1/${type}`, "POST", JSON.stringify(body), options);
    try {
      // The request's signal bounds the body too: a stalled answer errors its stream.
      return (await response.json()) as ResponseOf<T>;
    } catch (error) {
      throw this.#failure(error, options, type);
    }
  }

  /**
   * Sends a JSON message whose answer is binary (a snapshot); returns the bytes, read into one
   * buffer (preallocated when the length is known, so a large state is copied once), and the
   * answer's headers.
   *
   * @example
   * ```ts
   * const { bytes, headers } = await client.postForBytes("handoff.begin", req, { timeoutMs: 30000, maxBytes: 1 << 30 });
   * ```
   */
  async postForBytes<T extends MessageType>(type: T, body: RequestBody<T>, options: BytesOptions): Promise<{ bytes: Uint8Array; headers: AnswerHeaders }> {
    if (isFast(this.#transport)) {
      const answer = await this.#exchange(this.#transport, type, body, options);
      return { bytes: answer.body, headers: answer.headers };
    }
    const response = await this.#send(`/v1/${type}`, "POST", JSON.stringify(body), options);
    try {
      return { bytes: await readBody(response, options.maxBytes, options.onProgress), headers: response.headers };
    } catch (error) {
      if (isFerryError(error)) throw error;
      const failure = this.#failure(error, options, type);
      if (failure.code !== "unreachable") throw failure;
      throw new FerryError("unreachable", `Transfer from node "${this.name}" broke off: ${describe(error)}`, { cause: error });
    }
  }

  /**
   * Sends a JSON message whose answer streams (the frames of a `handoff.batch`) and yields the
   * answer's chunks as they arrive. A failure before or during the answer is a FerryError; an
   * answer that breaks off is `unreachable`.
   *
   * @example
   * ```ts
   * for await (const chunk of client.postForChunks("handoff.batch", { items }, { timeoutMs: 30000 })) frames.add(chunk);
   * ```
   */
  async *postForChunks<T extends "handoff.batch">(type: T, body: RequestBody<T>, options: RequestOptions = {}): AsyncIterable<Uint8Array> {
    const json = JSON.stringify(body);
    const chunks = isFast(this.#transport)
      ? (await this.#open(this.#transport, `/v1/${type}`, "POST", json, options, type)).body[Symbol.asyncIterator]()
      : ((await this.#send(`/v1/${type}`, "POST", json, options)).body ?? emptyStream())[Symbol.asyncIterator]();
    try {
      for (;;) {
        let chunk: IteratorResult<Uint8Array>;
        try {
          chunk = await chunks.next();
        } catch (error) {
          const failure = this.#failure(error, options, type);
          if (failure.code !== "unreachable") throw failure;
          throw new FerryError("unreachable", `Answer of node "${this.name}" broke off: ${describe(error)}`, { cause: error });
        }
        if (chunk.done) return;
        yield chunk.value;
      }
    } finally {
      await chunks.return?.()?.catch(() => {});
    }
  }

  /**
   * Sends a JSON message whose answer is a binary stream (a large snapshot); resolves once the
   * answer's headers are in, with its announced length and its body to read as it arrives. A
   * break in the body throws an `unreachable` FerryError ("broke off") from the iteration.
   *
   * @example
   * ```ts
   * const answer = await client.postForStream("handoff.begin", req, { timeoutMs: 30000, maxBytes: 1 << 30 });
   * for await (const chunk of answer.chunks) file.write(chunk);
   * ```
   */
  async postForStream<T extends "handoff.begin">(type: T, body: RequestBody<T>, options: BytesOptions & { collectBelow?: number }): Promise<{ headers: AnswerHeaders; length: number | undefined; chunks: AsyncIterable<Uint8Array>; bytes?: Uint8Array }> {
    const brokeOff = (error: unknown): FerryError => {
      if (isFerryError(error)) return error;
      return new FerryError("unreachable", `Transfer from node "${this.name}" broke off: ${describe(error)}`, { cause: error });
    };
    let length: number | undefined;
    let headers: AnswerHeaders;
    let source: AsyncIterable<Uint8Array>;
    if (isFast(this.#transport)) {
      const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
      let answer;
      try {
        answer = await this.#transport.open({
          method: "POST",
          url: `${this.url}/v1/${type}`,
          headers: { authorization: `Bearer ${this.#secret}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          timeoutMs,
          maxBytes: options.maxBytes,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.collectBelow !== undefined ? { collectBelow: options.collectBelow } : {}),
        });
      } catch (error) {
        throw this.#failure(error, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) }, type);
      }
      if (answer.status === 200 && answer.bytes) return { headers: answer.headers, length: answer.length, chunks: answer.body, bytes: answer.bytes };
      if (answer.status !== 200) throw this.#errorFrom(answer.status, await textOf(answer.body));
      ({ length, headers, body: source } = answer);
    } else {
      const response = await this.#send(`/v1/${type}`, "POST", JSON.stringify(body), options);
      const announced = Number(response.headers.get("content-length") ?? NaN);
      length = Number.isFinite(announced) ? announced : undefined;
      headers = response.headers;
      source = response.body ?? (async function* () {})();
    }
    if (length !== undefined && length > options.maxBytes) {
      await (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]().return?.();
      throw new FerryError("payload_too_large", `Body of ${length} bytes exceeds the ${options.maxBytes}-byte limit`);
    }
    const maxBytes = options.maxBytes;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let received = 0;
      const iterator = source[Symbol.asyncIterator]();
      try {
        for (;;) {
          let next: IteratorResult<Uint8Array>;
          try {
            next = await iterator.next();
          } catch (error) {
            throw brokeOff(error);
          }
          if (next.done) break;
          received += next.value.byteLength;
          if (received > maxBytes) throw new FerryError("payload_too_large", `Body of more than ${maxBytes} bytes exceeds the limit`);
          yield next.value;
        }
        if (length !== undefined && received !== length) throw brokeOff(new Error(`the answer broke off after ${received} of ${length} bytes`));
      } finally {
        await iterator.return?.();
      }
    }
    return { headers, length, chunks: chunks() };
  }

  /**
   * The node's lifecycle events: the recent ones, then (with `follow`) new ones as they happen,
   * until `signal` aborts (which ends the iteration quietly) or the node closes the stream.
   *
   * @example
   * ```ts
   * for await (const event of client.events(false)) console.log(event.type);
   * ```
   */
  async *events(follow: boolean, signal?: AbortSignal): AsyncIterable<FerryEvent> {
    for await (const value of this.#ndjson(`/v1/events${follow ? "?follow=1" : ""}`, "GET", undefined, "events", signal)) {
      if (typeof value === "object" && value !== null && "type" in value && "node" in value) yield value as FerryEvent;
    }
  }

  /**
   * A process's log records kept by this node (those `body` selects), then new ones as they are
   * written, until `signal` aborts (which ends the iteration quietly) or the node ends the stream.
   *
   * @example
   * ```ts
   * for await (const record of client.followLogs({ process: "counter", after: 41 }, signal)) print(record.text);
   * ```
   */
  async *followLogs(body: RequestBody<"logs.follow">, signal?: AbortSignal): AsyncIterable<LogRecord> {
    for await (const value of this.#ndjson("/v1/logs.follow", "POST", JSON.stringify(body), "logs.follow", signal)) {
      if (typeof value === "object" && value !== null && "seq" in value && "text" in value) yield value as LogRecord;
    }
  }

  /** The JSON values of a streamed NDJSON answer; a torn or foreign line is skipped. */
  async *#ndjson(path: string, method: string, body: string | undefined, what: string, signal?: AbortSignal): AsyncIterable<unknown> {
    const connect = new AbortController();
    const timer = setTimeout(() => connect.abort(new DOMException("The connection timed out", "TimeoutError")), 2000);
    const options = { signal: signal ? AbortSignal.any([signal, connect.signal]) : connect.signal, timeoutMs: 0 };
    let chunks: AsyncIterator<Uint8Array>;
    try {
      if (isFast(this.#transport)) chunks = (await this.#open(this.#transport, path, method, body, options, what)).body[Symbol.asyncIterator]();
      else chunks = ((await this.#send(path, method, body, options)).body ?? emptyStream())[Symbol.asyncIterator]();
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for (;;) {
        let chunk: IteratorResult<Uint8Array>;
        try {
          chunk = await chunks.next();
        } catch (error) {
          if (signal?.aborted) return;
          throw this.#failure(error, {}, what);
        }
        if (chunk.done) break;
        buffered += decoder.decode(chunk.value, { stream: true });
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          const value = parseLine(line);
          if (value !== undefined) yield value;
        }
      }
      const last = parseLine(buffered + decoder.decode());
      if (last !== undefined) yield last;
    } finally {
      await chunks.return?.().catch(() => {});
    }
  }

  /** The error of a node that cannot be reached at all. */
  unreachable(cause?: unknown): FerryError {
    return new FerryError("unreachable", `Cannot reach node "${this.name}" at ${this.url}`, {
      hint: "is its daemon running? start it with `ferry up`",
      cause,
    });
  }

  /**
   * Sends bytes (a checkpoint replica) with the message's JSON part in a header; returns the
   * JSON answer.
   *
   * @example
   * ```ts
   * await client.postBytes("checkpoint.replicate", { name: "big", generation: 3, at, status: "owned", from: "alpha" }, bytes, { timeoutMs: 30000 });
   * ```
   */
  async postBytes<T extends "checkpoint.replicate">(type: T, meta: RequestBody<T>, bytes: Uint8Array, options: RequestOptions = {}): Promise<ResponseOf<T>> {
    const headers = { [BYTES_REQUEST_HEADER]: JSON.stringify(meta), "content-type": "application/octet-stream" };
    let answer: { body: Uint8Array };
    if (isFast(this.#transport)) {
      answer = await this.#exchange(this.#transport, type, bytes, { ...options, maxBytes: 1 << 20 }, headers);
    } else {
      const response = await this.#send(`/v1/${type}`, "POST", bytes, options, headers);
      answer = { body: new Uint8Array(await response.arrayBuffer()) };
    }
    return JSON.parse(new TextDecoder().decode(answer.body)) as ResponseOf<T>;
  }

  /** The fast path of the keep-alive HTTP transport: no web Request/Response objects. */
  async #exchange(transport: FastTransport, type: string, body: unknown, options: BytesOptions, extraHeaders: Record<string, string> = {}): Promise<{ body: Uint8Array; headers: AnswerHeaders }> {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    let answer;
    try {
      answer = await transport.exchange({
        method: "POST",
        url: `${this.url}/v1/${type}`,
        headers: { authorization: `Bearer ${this.#secret}`, "content-type": "application/json", ...extraHeaders },
        body: body instanceof Uint8Array ? body : JSON.stringify(body),
        timeoutMs,
        maxBytes: options.maxBytes,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } catch (error) {
      if (error instanceof AnswerTooLarge) throw new FerryError("payload_too_large", error.message);
      const failure = this.#failure(error, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) }, type);
      if (failure.code === "unreachable" && error instanceof Error && /broke off/.test(error.message)) {
        throw new FerryError("unreachable", `Transfer from node "${this.name}" broke off: ${error.message}`, { cause: error });
      }
      throw failure;
    }
    if (answer.status === 200) return answer;
    throw this.#errorFrom(answer.status, new TextDecoder().decode(answer.body));
  }

  /**
   * The answer of the fast path read as it arrives (no web Request/Response objects: on Node
   * their first use loads undici into a daemon); a refusal is thrown as its FerryError.
   */
  async #open(transport: FastTransport, path: string, method: string, body: string | undefined, options: RequestOptions, what: string): Promise<OpenAnswer> {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    let answer: OpenAnswer;
    try {
      answer = await transport.open({
        method,
        url: this.url + path,
        headers: { authorization: `Bearer ${this.#secret}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body } : {}),
        timeoutMs,
        maxBytes: Number.MAX_SAFE_INTEGER,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw this.#failure(error, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) }, what);
    }
    if (answer.status !== 200) throw this.#errorFrom(answer.status, await textOf(answer.body).catch(() => ""));
    return answer;
  }

  async #send(path: string, method: string, body: string | Uint8Array | undefined, options: RequestOptions, extraHeaders: Record<string, string> = {}): Promise<Response> {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    if (timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
    const headers: Record<string, string> = { authorization: `Bearer ${this.#secret}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, extraHeaders);
    let response: Response;
    try {
      response = await this.#transport(new Request(this.url + path, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(signals.length ? { signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) } : {}),
      }));
    } catch (error) {
      throw this.#failure(error, options, path);
    }
    if (response.ok) return response;
    throw await this.#errorOf(response);
  }

  async #errorOf(response: Response): Promise<FerryError> {
    return this.#errorFrom(response.status, await response.text().catch(() => ""));
  }

  /** The FerryError an answer with this status and body stands for. */
  #errorFrom(status: number, text: string): FerryError {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const error = errorFields(body);
    if (status === 401) {
      return new FerryError("unauthorized", `Node "${this.name}" at ${this.url} refused the cluster secret${error ? `: ${error.message}` : ""}`, {
        hint: "check cluster.secret or FERRY_SECRET",
      });
    }
    if (error) {
      return new FerryError(toErrorCode(error.code), error.message, {
        ...(error.hint !== undefined ? { hint: error.hint } : {}),
        ...(error.retryable !== undefined ? { retryable: error.retryable } : {}),
      });
    }
    return new FerryError("internal", `Node "${this.name}" at ${this.url} answered HTTP ${status}`, {
      hint: "is another program listening on that port?",
    });
  }

  /** Maps a thrown value to a FerryError: caller aborts as they are, timeouts, network failures. */
  #failure(error: unknown, options: RequestOptions, what: string): FerryError {
    if (isFerryError(error)) return error;
    if (options.signal?.aborted && isFerryError(options.signal.reason)) return options.signal.reason;
    const name = error instanceof Error || error instanceof DOMException ? error.name : "";
    if (name === "TimeoutError") {
      return new FerryError("timeout", `Node "${this.name}" at ${this.url} did not answer "${what.replace(/^\/v1\//, "")}" within ${options.timeoutMs ?? defaultTimeoutMs} ms`, {
        hint: "is its daemon overloaded or stuck? see its log",
        cause: error,
      });
    }
    if (name === "AbortError" && options.signal?.aborted) {
      return new FerryError("unavailable", `Request to node "${this.name}" was cancelled`, { cause: error });
    }
    return this.unreachable(error);
  }
}

function isFast(transport: Transport): transport is FastTransport {
  return typeof (transport as Partial<FastTransport>).exchange === "function";
}

function errorFields(body: unknown): { code: string; message: string; hint?: string; retryable?: boolean } | undefined {
  if (typeof body !== "object" || body === null || !("error" in body)) return undefined;
  const error = (body as { error: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message, hint, retryable } = error as Record<string, unknown>;
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  return { code, message, ...(typeof hint === "string" ? { hint } : {}), ...(typeof retryable === "boolean" ? { retryable } : {}) };
}

function parseLine(line: string): unknown {
  const trimmed = line.trim();
  if (!trimmed) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    // A torn or foreign line is skipped: one bad line must not end a long `--follow`.
    return undefined;
  }
}

async function readBody(response: Response, maxBytes: number, onProgress?: (received: number, total: number) => void): Promise<Uint8Array> {
  let body: BodyCollector;
  try {
    body = new BodyCollector(Number(response.headers.get("content-length") ?? NaN), maxBytes);
  } catch (error) {
    await response.body?.cancel().catch(() => {});
    throw new FerryError("payload_too_large", (error as Error).message);
  }
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    try {
      body.add(value);
    } catch (error) {
      await reader.cancel().catch(() => {});
      if (error instanceof AnswerTooLarge) throw new FerryError("payload_too_large", error.message);
      throw error;
    }
    onProgress?.(body.received, body.total);
  }
  return body.finish();
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A body's bytes as text. */
async function textOf(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of chunks) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

async function* emptyStream(): AsyncGenerator<Uint8Array> {}
