/**
 * The `Request` handed to the handler: its `signal` aborts once the exchange is over (response
 * sent, or the client gone), so long answers such as event streams stop with their client. The
 * signal is made only when read: a `Request` built with a signal to follow costs about twice as
 * much to construct on both runtimes, and almost no route reads it.
 * @module
 */

/** Why a request's signal aborts; one shared value rather than a DOMException per request. */
const EXCHANGE_OVER = new Error("The exchange is over (response sent or client gone)");

/**
 * @example
 * ```ts
 * const request = new ExchangeRequest("http://127.0.0.1/v1/events", { headers });
 * res.once("close", () => request.exchangeOver());
 * ```
 */
export class ExchangeRequest extends Request {
  #controller: AbortController | undefined;
  #over = false;

  /** Aborts the signal, now or as soon as it is made. Idempotent. */
  exchangeOver(): void {
    this.#over = true;
    this.#controller?.abort(EXCHANGE_OVER);
  }

  /** The signal behind `signal`. */
  exchangeSignal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#over) this.#controller.abort(EXCHANGE_OVER);
    }
    return this.#controller.signal;
  }
}

// `signal` is a plain property in the type declarations, so TypeScript refuses an accessor
// override in the class body; the getter goes on the prototype instead.
Object.defineProperty(ExchangeRequest.prototype, "signal", {
  get(this: ExchangeRequest): AbortSignal {
    return this.exchangeSignal();
  },
});
