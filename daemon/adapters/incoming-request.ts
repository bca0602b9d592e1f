/**
 * The `Request` a node:http request is handed to the handler as, built lazily: method, URL and
 * headers are plain values, the body is read straight from the socket by `text()`, `json()` and
 * `arrayBuffer()`, and the web object (with its body stream) is only made if something reads a
 * property that needs it. On a hand-off's critical path, making that object and reading a small
 * JSON body through its stream cost more than the rest of the request. Everything else sees an
 * ordinary `Request` (`instanceof`, `body`, `clone()`). Hono's Node server does the same.
 *
 * Its `signal` aborts once the exchange is over (response sent, or the client gone), so long
 * answers such as event streams stop with their client; it too is made only when read.
 *
 * @example
 * ```ts
 * const request = new IncomingRequest("http://127.0.0.1/v1/ps", "POST", headers, requestBody(req, 30_000, onTimeout));
 * res.once("close", () => request.exchangeOver());
 * await handler(request.asRequest());
 * ```
 * @module
 */
import type { RequestBody } from "./request-body.ts";
import { forwardToWeb } from "../api/lazy-web.ts";

/** Why a request's signal aborts; one shared value rather than a DOMException per request. */
const EXCHANGE_OVER = new Error("The exchange is over (response sent or client gone)");
const decoder = new TextDecoder();

export class IncomingRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly #body: RequestBody | undefined;
  #used = false;
  #web: Request | undefined;
  #controller: AbortController | undefined;
  #over = false;

  constructor(url: string, method: string, headers: Headers, body: RequestBody | undefined) {
    this.url = url;
    this.method = method;
    this.headers = headers;
    this.#body = body;
  }

  /** This object, typed as the `Request` it stands for. */
  asRequest(): Request {
    return this as unknown as Request;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#over) this.#controller.abort(EXCHANGE_OVER);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal, now or as soon as it is made. Idempotent. */
  exchangeOver(): void {
    this.#over = true;
    this.#controller?.abort(EXCHANGE_OVER);
  }

  get bodyUsed(): boolean {
    return this.#web ? this.#web.bodyUsed : this.#used;
  }

  async bytes(): Promise<Uint8Array> {
    if (this.#web) return new Uint8Array(await this.#web.arrayBuffer());
    if (this.#used) throw new TypeError("Body is unusable: Body has already been read");
    this.#used = true;
    return this.#body ? await this.#body.bytes() : new Uint8Array();
  }

  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
  }

  /** The web object, made once; its body is the socket's stream unless the body was read already. */
  web(): Request {
    if (!this.#web) {
      const body = this.#body && !this.#used ? { body: this.#body.stream, duplex: "half" } : {};
      this.#used = true;
      this.#web = new Request(this.url, { method: this.method, headers: [...this.headers], signal: this.signal, ...body } as RequestInit);
    }
    return this.#web;
  }
}

// Every other member of Request reads the web object; these three are set on each instance.
forwardToWeb(IncomingRequest.prototype, "Request", ["url", "method", "headers"]);
