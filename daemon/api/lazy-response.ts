/**
 * Web `Response`s built lazily: their status and headers are plain values, and the web object is
 * only made if something reads a property that needs it. Two kinds:
 *
 * - a buffered answer, whose whole body is known when it is made (every JSON answer, a small
 *   snapshot): the server adapter takes the body as it is ({@link bufferedParts}) and writes it
 *   in one go, skipping the stream on the way in and out, which costs more than the rest of a
 *   small answer on a hand-off's critical path;
 * - a streamed answer (events, logs, large snapshots): the adapter reads its `ReadableStream`
 *   itself ({@link streamedParts}).
 *
 * On Node neither makes the web `Response`, whose first use loads the fetch implementation: an
 * idle daemon with a `ferry events -f` attached holds no undici either (see `lazy-web.ts`).
 * Everything else sees an ordinary `Response` (`instanceof`, `json()`, `headers`, `body`), so
 * handlers called in-process need not know. Hono's Node server does the same.
 *
 * @example
 * ```ts
 * const res = jsonResponse({ ok: true });
 * res.status; // 200
 * await res.json(); // { ok: true }
 * ```
 * @module
 */

import { forwardToWeb } from "./lazy-web.ts";
import { newHeaders } from "./plain-headers.ts";

type Body = string | Uint8Array;

/** What the adapter writes for an untouched buffered answer. */
export interface BufferedParts {
  status: number;
  headers: Record<string, string>;
  body: Body;
}

/** What the adapter sends for an untouched streamed answer: the stream's chunks as they come. */
export interface StreamedParts {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
}

type Parts = BufferedParts | StreamedParts;

const parts = Symbol("lazy parts");
const streamed = Symbol("streamed");
const noBody = Symbol("no body");

class LazyResponse {
  readonly [parts]: Parts;
  readonly [streamed]: boolean;
  /** A body-less answer (a 204 or a redirect): the adapter reads an empty stream, the web object gets null. */
  readonly [noBody]: boolean;
  #headers: Headers | undefined;
  #web: Response | undefined;

  constructor(body: Body | ReadableStream<Uint8Array> | null, status: number, headers: Record<string, string>) {
    this[noBody] = body === null;
    this[parts] = { status, headers, body: body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() }) } as Parts;
    this[streamed] = typeof body !== "string" && !(body instanceof Uint8Array);
  }

  get status(): number {
    return this[parts].status;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** Made on first use; changes to it (a CORS header) are what the adapter then writes. */
  get headers(): Headers {
    if (this.#web) return this.#web.headers;
    return (this.#headers ??= newHeaders(this[parts].headers));
  }

  /** The web object, made once, with the headers as they are now. */
  web(): Response {
    if (!this.#web) {
      const { body, status } = this[parts];
      this.#web = new Response(this[noBody] ? null : body, { status, headers: this.#headers ? [...this.#headers] : this[parts].headers });
    }
    return this.#web;
  }

  /** The parts as they are to be written, or undefined once the web object exists (its body may have been read). */
  current(): Parts | undefined {
    if (this.#web) return undefined;
    if (!this.#headers) return this[parts];
    const headers: Record<string, string> = {};
    this.#headers.forEach((value, key) => (headers[key] = value));
    return { ...this[parts], headers };
  }
}

// Every other member of Response reads the web object.
forwardToWeb(LazyResponse.prototype, "Response");

/**
 * A `Response` with `body`, made lazily (see the module's description).
 *
 * @example
 * ```ts
 * bufferedResponse(bytes, { headers: { "content-type": "application/octet-stream" } });
 * ```
 */
export function bufferedResponse(body: Body, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  const headers: Record<string, string> = {};
  // The length is the body's own, set where it is written; a given one could only disagree.
  for (const [key, value] of Object.entries(init.headers ?? {})) if (key.toLowerCase() !== "content-length") headers[key] = value;
  if (!Object.keys(headers).some((key) => key.toLowerCase() === "content-type")) {
    headers["content-type"] = typeof body === "string" ? "text/plain;charset=UTF-8" : "application/octet-stream";
  }
  return new LazyResponse(body, init.status ?? 200, headers) as unknown as Response;
}

/**
 * `new Response(stream, init)`, made lazily: the adapter reads the stream itself. The headers
 * are kept as given (a known Content-Length included); the content type defaults to bytes.
 *
 * @example
 * ```ts
 * streamResponse(stream, { headers: { "content-type": "application/x-ndjson" } });
 * ```
 */
export function streamResponse(stream: ReadableStream<Uint8Array>, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  const headers = { ...init.headers };
  if (!Object.keys(headers).some((key) => key.toLowerCase() === "content-type")) headers["content-type"] = "application/octet-stream";
  return new LazyResponse(stream, init.status ?? 200, headers) as unknown as Response;
}

/**
 * `Response.json(value, init)`, made lazily.
 *
 * @example
 * ```ts
 * jsonResponse({ error }, { status: 404 });
 * ```
 */
export function jsonResponse(value: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return bufferedResponse(JSON.stringify(value), { status: init.status, headers: { "content-type": "application/json", ...init.headers } });
}

/**
 * An answer without a body (`new Response(null, init)`), made lazily: no Content-Length is
 * added, as a 204 must not have one.
 *
 * @example
 * ```ts
 * emptyResponse({ status: 204, headers: { vary: "Origin" } });
 * ```
 */
export function emptyResponse(init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return new LazyResponse(null, init.status ?? 200, { ...init.headers }) as unknown as Response;
}

/**
 * The status, headers and body of a buffered answer nothing has turned into a web object yet;
 * undefined for any other `Response`.
 *
 * @example
 * ```ts
 * const buffered = bufferedParts(response);
 * if (buffered) res.writeHead(buffered.status, buffered.headers).end(buffered.body);
 * ```
 */
export function bufferedParts(response: Response): BufferedParts | undefined {
  return response instanceof LazyResponse && !response[streamed] ? (response.current() as BufferedParts | undefined) : undefined;
}

/**
 * The status, headers and stream of a streamed answer nothing has turned into a web object yet;
 * undefined for any other `Response`.
 *
 * @example
 * ```ts
 * const streamed = streamedParts(response);
 * const reader = (streamed?.body ?? response.body)?.getReader();
 * ```
 */
export function streamedParts(response: Response): StreamedParts | undefined {
  return response instanceof LazyResponse && response[streamed] ? (response.current() as StreamedParts | undefined) : undefined;
}

/**
 * Cancels the body of an answer nobody will read, so that its source stops (a buffered body has
 * none), without making the web object of a lazy one.
 *
 * @example
 * ```ts
 * if (clientGone) cancelBody(response);
 * ```
 */
export function cancelBody(response: Response): void {
  if (response instanceof LazyResponse && !response[streamed]) return;
  const stream = streamedParts(response)?.body ?? response.body;
  stream?.cancel().catch(() => {});
}

/**
 * Whether `value` is a `Response`, a buffered one included, found without reading the global
 * `Response` (on Node that would load the fetch implementation just to say no).
 *
 * @example
 * ```ts
 * return isResponse(result) ? result : jsonResponse(result);
 * ```
 */
export function isResponse(value: unknown): value is Response {
  return value instanceof LazyResponse || Object.prototype.toString.call(value) === "[object Response]";
}
