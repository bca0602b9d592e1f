/**
 * A node:http request body that reads nothing until the handler asks, with a deadline for the
 * whole body: as a web `ReadableStream`, or whole as bytes without one (what every JSON request
 * needs, at a fraction of the cost). The handler checks the secret before it reads, so the body
 * of an unauthenticated request is never buffered nor waited for; the server closes the
 * connection after answering instead of draining it (see `http-server.ts`).
 * @module
 */
import type { IncomingMessage } from "node:http";
import { Buffer } from "node:buffer";
import { FerryError } from "../errors.ts";

export interface RequestBody {
  /** The body as a stream, made on first use. Read either this or {@link bytes}, once. */
  readonly stream: ReadableStream<Uint8Array>;
  /** The whole body; rejects as the stream would error. */
  bytes(): Promise<Uint8Array>;
  /** Stops the deadline (the exchange is over). */
  dispose(): void;
}

/** How the body's arrival is followed, once someone reads it. */
interface Sink {
  data(chunk: Uint8Array): void;
  end(): void;
  error(error: unknown): void;
}

/**
 * Wraps `req`'s body. If the body has not fully arrived `timeoutMs` after this call, reading it
 * fails with a `request_timeout` FerryError, also passed to `onTimeout`.
 *
 * @example
 * ```ts
 * const body = requestBody(req, 30_000, (error) => answer408(error));
 * const text = new TextDecoder().decode(await body.bytes());
 * ```
 */
export function requestBody(req: IncomingMessage, timeoutMs: number, onTimeout: (error: FerryError) => void): RequestBody {
  let sink: Sink | undefined;
  let settled = false;
  /** Why the body can no longer be read, once its deadline passed before anyone read it. */
  let failure: unknown;
  let stream: ReadableStream<Uint8Array> | undefined;
  const timer = setTimeout(() => {
    if (req.complete) return;
    const error = new FerryError("request_timeout", `Request body not received within ${timeoutMs} ms`, {
      hint: "send the whole body promptly",
    });
    failure = error;
    settle(() => sink?.error(error));
    onTimeout(error);
  }, timeoutMs);
  function settle(action: () => void): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    action();
  }
  /** Starts following the body into `to`; a body that already failed fails `to` at once. */
  function follow(to: Sink): void {
    if (sink) throw new FerryError("internal", "The request body was read twice");
    sink = to;
    if (settled) return to.error(failure ?? new FerryError("bad_request", "The request body is no longer readable"));
    req.on("data", (chunk: Uint8Array) => {
      if (!settled) to.data(chunk);
    });
    req.once("end", () => settle(() => to.end()));
    req.once("error", (error) => settle(() => to.error(error)));
    req.once("close", () => {
      if (!req.complete) settle(() => to.error(new FerryError("bad_request", "Client closed the connection before sending the whole request body")));
    });
  }
  return {
    get stream() {
      stream ??= new ReadableStream<Uint8Array>(
        {
          pull(c) {
            if (!sink) {
              follow({
                data: (chunk) => {
                  c.enqueue(chunk);
                  if ((c.desiredSize ?? 0) <= 0) req.pause();
                },
                end: () => c.close(),
                error: (error) => c.error(error),
              });
            }
            req.resume();
          },
          cancel() {
            // Left unread: the connection is closed once the response is sent.
            settle(() => req.pause());
          },
        },
        { highWaterMark: 0 },
      );
      return stream;
    },
    bytes() {
      return new Promise<Uint8Array>((resolve, reject) => {
        const chunks: Uint8Array[] = [];
        follow({
          data: (chunk) => chunks.push(chunk),
          end: () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
          error: reject,
        });
        req.resume();
      });
    },
    dispose: () => clearTimeout(timer),
  };
}
