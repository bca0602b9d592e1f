/**
 * How an API client reaches a daemon: a transport is a fetch-like function `(Request) =>
 * Promise<Response>`, so the one client works over the network and in-process alike (tests hand
 * it the other node's handler directly, as Hono's `app.request()` does).
 *
 * {@link httpTransport} uses `node:http` with a keep-alive agent (both runtimes provide it): on a
 * hand-off's critical path a loopback round trip costs a fraction of what `fetch` costs on Node.
 * `https://` URLs go through `node:https` with an agent that checks each new connection against
 * the cluster's TLS settings before use (`tls-agent.ts`); kept alive, a connection is checked once.
 * The request's `AbortSignal` bounds it; errors are thrown as they come (the client maps them).
 *
 * @example
 * ```ts
 * const transport = httpTransport();
 * const res = await transport(new Request("http://127.0.0.1:7101/v1/ps", { method: "POST", body: "{}" }));
 * ```
 * @module
 */
import { Agent, request as httpRequest } from "../builtins/http.ts";
import type { IncomingMessage } from "node:http";
import { BodyCollector } from "./body.ts";
import process from "node:process";
import { Buffer } from "node:buffer";
import { type ClientTls, tlsKey } from "./client-tls.ts";
import { type VerifyingAgent, verifyingAgent } from "./tls-agent.ts";

export type Transport = (request: Request) => Promise<Response>;

/** One buffered request, for transports that can skip web Request/Response objects on a hot path. */
export interface Exchange {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs: number;
  signal?: AbortSignal;
  /** A larger answer body is refused: FerryError("payload_too_large") from the caller's check. */
  maxBytes: number;
  onProgress?: (received: number, total: number) => void;
  /**
   * For `open`: an answer announced at most this long is read whole before it resolves (its
   * `bytes`), without an async iteration per chunk.
   */
  collectBelow?: number;
}

/** Header lookup, as `Headers` offers it; answers of the fast path use a plain map instead. */
export interface AnswerHeaders {
  get(name: string): string | null;
}

/**
 * An answer's headers without the web `Headers` class: on Node, its first use loads the fetch
 * implementation (undici), which a command would pay some 15 ms for.
 *
 * @example
 * ```ts
 * new HeaderMap({ "content-type": "application/json" }).get("Content-Type"); // "application/json"
 * ```
 */
export class HeaderMap implements AnswerHeaders {
  /** Lower-case names. */
  readonly record: Readonly<Record<string, string>>;

  constructor(record: Record<string, string>) {
    this.record = record;
  }

  get(name: string): string | null {
    return this.record[name.toLowerCase()] ?? null;
  }
}

/** The buffered answer of an {@link Exchange}. */
export interface Answer {
  status: number;
  headers: HeaderMap;
  body: Uint8Array;
}

/** An answer whose body is read as it arrives (a large snapshot), not buffered. */
export interface OpenAnswer {
  status: number;
  headers: HeaderMap;
  /** The announced length, when there is one. */
  length: number | undefined;
  /** The whole body, when it was announced at most the exchange's `collectBelow` long (`body` then yields it once). */
  bytes?: Uint8Array;
  /**
   * The body's chunks (views of the socket's buffers), readable once. Throws when the answer
   * breaks off or the exchange's `timeoutMs` passes; stopping the iteration closes the connection.
   */
  body: AsyncIterable<Uint8Array>;
}

/** A transport that also offers the buffered fast path, and answers read as they arrive. */
export type FastTransport = Transport & { exchange(exchange: Exchange): Promise<Answer>; open(exchange: Exchange): Promise<OpenAnswer> };

/** Thrown by {@link FastTransport.exchange} when its `timeoutMs` passed. */
export class ExchangeTimeout extends Error {
  override name = "TimeoutError";
}

export { AnswerTooLarge } from "./body.ts";

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** Options of {@link httpTransport}. */
export interface HttpTransportOptions {
  /**
   * How `https://` daemons are checked. A function is asked on each request, so a daemon's
   * transport follows its reloaded config (connections are kept while the answer checks the same).
   * @default undefined (this machine's CAs and the URL's host name)
   */
  tls?: ClientTls | (() => ClientTls | undefined);
}

/**
 * A transport over `node:http` (and `node:https` for `https://` URLs) with keep-alive.
 *
 * @example
 * ```ts
 * const client = new ApiClient("beta", "http://127.0.0.1:7102", secret, httpTransport());
 * const secure = new ApiClient("beta", "https://10.0.0.6:7102", secret, httpTransport({ tls: await clientTlsOf(config, dir) }));
 * ```
 */
export function httpTransport(options: HttpTransportOptions = {}): FastTransport {
  const { tls } = options;
  let current: { settings: ClientTls | undefined; key: string; agent: VerifyingAgent } | undefined;
  const httpsAgent = (): VerifyingAgent => {
    const settings = typeof tls === "function" ? tls() : tls;
    if (current && current.settings === settings) return current.agent;
    const key = tlsKey(settings);
    current = { settings, key, agent: current?.key === key ? current.agent : verifyingAgent(settings) };
    return current.agent;
  };
  const transport: Transport = async (req) => {
    const url = new URL(req.url);
    const secure = url.protocol === "https:";
    const headers: Record<string, string> = {};
    req.headers.forEach((value, key) => (headers[key] = value));
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    if (body) headers["content-length"] = String(body.byteLength);
    return new Promise<Response>((resolve, reject) => {
      const signal = req.signal;
      if (signal.aborted) return reject(signal.reason);
      const target = {
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || (secure ? 443 : 80),
        path: url.pathname + url.search,
        method: req.method,
        headers,
      };
      const onResponse = (res: IncomingMessage) => resolve(toResponse(res, signal));
      const outgoing = secure ? httpsRequest()({ ...target, agent: httpsAgent() }, onResponse) : httpRequest({ ...target, agent }, onResponse);
      const onAbort = () => outgoing.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      signal.addEventListener("abort", onAbort, { once: true });
      outgoing.once("close", () => signal.removeEventListener("abort", onAbort));
      outgoing.once("error", reject);
      outgoing.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined);
    });
  };
  return Object.assign(transport, { exchange: (x: Exchange) => exchange(x, httpsAgent), open: (x: Exchange) => open(x, httpsAgent) });
}

/**
 * One `node:http` request whose answer body is handed over as it arrives: the timeout covers
 * the whole exchange, body included; a body shorter than its Content-Length is an error.
 */
function open(x: Exchange, httpsAgent: () => VerifyingAgent): Promise<OpenAnswer> {
  const url = new URL(x.url);
  const secure = url.protocol === "https:";
  return new Promise<OpenAnswer>((resolve, reject) => {
    if (x.signal?.aborted) return reject(x.signal.reason);
    const payload = x.body === undefined ? undefined : typeof x.body === "string" ? Buffer.from(x.body) : Buffer.from(x.body.buffer, x.body.byteOffset, x.body.byteLength);
    const headers = payload ? { ...x.headers, "content-length": String(payload.byteLength) } : x.headers;
    const target = { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port || (secure ? 443 : 80), path: url.pathname + url.search, method: x.method, headers };
    let answered = false;
    const done = () => {
      clearTimeout(timer);
      x.signal?.removeEventListener("abort", onAbort);
    };
    const onResponse = (res: IncomingMessage) => {
      answered = true;
      const answerHeaders = answerHeadersOf(res);
      const announced = Number(res.headers["content-length"] ?? NaN);
      const length = Number.isFinite(announced) ? announced : undefined;
      if (length !== undefined && x.collectBelow !== undefined && length <= Math.min(x.collectBelow, x.maxBytes)) {
        return collect(res, x, (error) => {
          done();
          outgoing.destroy();
          reject(expired ?? error);
        }, (bytes) => {
          done();
          resolve({ status: res.statusCode ?? 500, headers: answerHeaders, length, bytes, body: once(bytes) });
        });
      }
      async function* body(): AsyncGenerator<Uint8Array> {
        let received = 0;
        try {
          for await (const chunk of res as AsyncIterable<Buffer>) {
            received += chunk.byteLength;
            yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          }
          if (!res.complete || (length !== undefined && received !== length)) throw new Error(`the answer broke off after ${received} of ${length ?? "?"} bytes`);
        } catch (error) {
          if (error instanceof ExchangeTimeout || !(error instanceof Error) || /broke off/.test(error.message)) throw error;
          throw new Error(`the answer broke off after ${received} of ${length ?? "?"} bytes: ${error.message}`);
        } finally {
          done();
          if (!res.complete) outgoing.destroy();
        }
      }
      resolve({ status: res.statusCode ?? 500, headers: answerHeaders, length, body: body() });
    };
    const outgoing = secure ? httpsRequest()({ ...target, agent: httpsAgent() }, onResponse) : httpRequest({ ...target, agent }, onResponse);
    const onAbort = () => outgoing.destroy(x.signal!.reason instanceof Error ? x.signal!.reason : new Error(String(x.signal!.reason)));
    x.signal?.addEventListener("abort", onAbort, { once: true });
    /** Set when the timeout ended the exchange: a body being collected then fails with it. */
    let expired: ExchangeTimeout | undefined;
    const timer = x.timeoutMs > 0 ? setTimeout(() => outgoing.destroy((expired = new ExchangeTimeout(`no answer within ${x.timeoutMs} ms`))), x.timeoutMs) : undefined;
    outgoing.on("error", (error) => {
      if (answered) return; // the body's iteration reports it
      done();
      reject(error);
    });
    outgoing.end(payload);
  });
}

/**
 * The buffered fast path: one `node:http` request, the answer read into one buffer (preallocated
 * when its length is known, so a large snapshot is copied once), no web streams in between.
 */
function exchange(x: Exchange, httpsAgent: () => VerifyingAgent): Promise<Answer> {
  const url = new URL(x.url);
  const secure = url.protocol === "https:";
  return new Promise<Answer>((resolve, reject) => {
    if (x.signal?.aborted) return reject(x.signal.reason);
    const payload = x.body === undefined ? undefined : typeof x.body === "string" ? Buffer.from(x.body) : Buffer.from(x.body.buffer, x.body.byteOffset, x.body.byteLength);
    const headers = payload ? { ...x.headers, "content-length": String(payload.byteLength) } : x.headers;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      x.signal?.removeEventListener("abort", onAbort);
      reject(error);
    };
    const target = { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port || (secure ? 443 : 80), path: url.pathname + url.search, method: x.method, headers };
    const onResponse = (res: IncomingMessage) =>
      collect(res, x, fail, (out) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        x.signal?.removeEventListener("abort", onAbort);
        resolve({ status: res.statusCode ?? 500, headers: answerHeadersOf(res), body: out });
      });
    const outgoing = secure ? httpsRequest()({ ...target, agent: httpsAgent() }, onResponse) : httpRequest({ ...target, agent }, onResponse);
    const onAbort = () => outgoing.destroy(x.signal!.reason instanceof Error ? x.signal!.reason : new Error(String(x.signal!.reason)));
    x.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = x.timeoutMs > 0 ? setTimeout(() => outgoing.destroy(new ExchangeTimeout(`no answer within ${x.timeoutMs} ms`)), x.timeoutMs) : undefined;
    outgoing.once("error", fail);
    outgoing.end(payload);
  });
}

/**
 * Reads an answer whole into one buffer (preallocated when its length is announced, so a large
 * one is copied once), reporting progress; then `onEnd`, or `onError` once. An answer longer than
 * `maxBytes` is refused before it is read.
 */
function collect(res: IncomingMessage, x: Pick<Exchange, "maxBytes" | "onProgress">, onError: (error: unknown) => void, onEnd: (bytes: Uint8Array) => void): void {
  let body: BodyCollector;
  try {
    body = new BodyCollector(Number(res.headers["content-length"] ?? NaN), x.maxBytes);
  } catch (error) {
    res.destroy();
    return onError(error);
  }
  let failed = false;
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    onError(error);
  };
  res.on("data", (chunk: Buffer) => {
    try {
      body.add(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (error) {
      return res.destroy(error as Error);
    }
    x.onProgress?.(body.received, body.total);
  });
  res.once("error", fail);
  res.once("aborted", () => fail(new Error(`the answer broke off after ${body.received}${body.total ? ` of ${body.total}` : ""} bytes`)));
  res.once("end", () => {
    if (failed) return;
    try {
      onEnd(body.finish());
    } catch (error) {
      fail(error);
    }
  });
}

/** An answer's headers as a plain map (the first value of a repeated one is not kept). */
function answerHeadersOf(res: IncomingMessage): HeaderMap {
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(res.headers)) if (typeof value === "string") record[key] = value;
  return new HeaderMap(record);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

function toResponse(res: IncomingMessage, signal: AbortSignal): Response {
  const headers = new Headers();
  for (const [key, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  const status = res.statusCode ?? 500;
  if (status === 204 || status === 304) {
    res.resume();
    return new Response(null, { status, headers });
  }
  let done = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      res.on("data", (chunk: Buffer) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.once("end", () => {
        done = true;
        controller.close();
      });
      const fail = (error: Error) => {
        if (done) return;
        done = true;
        controller.error(error);
      };
      res.once("error", fail);
      res.once("aborted", () => fail(new Error("the answer broke off")));
      res.once("close", () => {
        if (!done) fail(signal.aborted && signal.reason instanceof Error ? signal.reason : new Error("the answer broke off"));
      });
    },
    pull() {
      res.resume();
    },
    cancel() {
      res.destroy();
    },
  }, { highWaterMark: 16 });
  return new Response(body, { status, headers });
}

/**
 * A transport that delivers requests to in-process handlers by origin (`http://host:port`), for
 * tests that wire several nodes together without sockets.
 *
 * @example
 * ```ts
 * const routes = new Map([["http://alpha", alphaHandler]]);
 * const client = new ApiClient("alpha", "http://alpha", secret, handlerTransport(routes));
 * ```
 */
export function handlerTransport(handlers: ReadonlyMap<string, (req: Request) => Promise<Response>>): Transport {
  return async (req) => {
    const origin = new URL(req.url).origin;
    const handler = handlers.get(origin);
    if (!handler) throw new TypeError(`fetch failed: connection refused (${origin})`);
    if (req.signal.aborted) throw req.signal.reason;
    return await handler(req);
  };
}

/** `https.request`, loaded on first use: a cluster on plain HTTP never loads `node:https`. */
function httpsRequest(): typeof import("node:https").request {
  return process.getBuiltinModule("node:https").request;
}
