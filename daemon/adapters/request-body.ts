/**
 * A node:http request body as a web `ReadableStream` that reads nothing until the handler asks,
 * with a deadline for the whole body. The handler checks the secret before it reads, so the body
 * of an unauthenticated request is never buffered nor waited for; the server closes the
 * connection after answering instead of draining it (see `http-server.ts`).
 * @module
 */
import type { IncomingMessage } from "node:http";
import { FerryError } from "../errors.ts";

export interface RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  /** Stops the deadline (the exchange is over). */
  dispose(): void;
}

/**
 * Wraps `req`'s body. If the body has not fully arrived `timeoutMs` after this call, the stream
 * errors with a `request_timeout` FerryError, also passed to `onTimeout`.
 *
 * @example
 * ```ts
 * const body = requestBody(req, 30_000, (error) => answer408(error));
 * const request = new Request(url, { method: "POST", body: body.stream, duplex: "half" });
 * ```
 */
export function requestBody(req: IncomingMessage, timeoutMs: number, onTimeout: (error: FerryError) => void): RequestBody {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let wired = false;
  let settled = false;
  const timer = setTimeout(() => {
    if (req.complete) return;
    const error = new FerryError("request_timeout", `Request body not received within ${timeoutMs} ms`, {
      hint: "send the whole body promptly",
    });
    settle(() => controller?.error(error));
    onTimeout(error);
  }, timeoutMs);
  function settle(action: () => void): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    action();
  }
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull(c) {
        if (!wired) {
          wired = true;
          req.on("data", (chunk: Uint8Array) => {
            if (settled) return;
            c.enqueue(chunk);
            if ((c.desiredSize ?? 0) <= 0) req.pause();
          });
          req.once("end", () => settle(() => c.close()));
          req.once("error", (error) => settle(() => c.error(error)));
          req.once("close", () => {
            if (!req.complete) settle(() => c.error(new FerryError("bad_request", "Client closed the connection before sending the whole request body")));
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
  return { stream, dispose: () => clearTimeout(timer) };
}
