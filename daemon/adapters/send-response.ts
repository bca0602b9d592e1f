/**
 * Writes a web `Response` to a node:http `ServerResponse`. A buffered answer (every JSON answer,
 * see `lazy-response.ts`) goes out as it is, in a single write with a Content-Length, as does
 * any other body that turns out to be complete at once; other bodies (large snapshots, event
 * streams) are streamed as they come, with backpressure, and cancelled if the client goes away.
 * @module
 */
import type { ServerResponse } from "node:http";
import { setImmediate } from "node:timers";
import { Buffer } from "node:buffer";
import { bufferedParts, streamedParts } from "../api/lazy-response.ts";

type Chunk = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;

/** Resolves after the pending I/O callbacks: a body still open by then is a stream. */
const nextTurn = () => new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)));

/**
 * Sends `response` on `res`; resolves once it is written or the connection is gone.
 *
 * @example
 * ```ts
 * await sendResponse(res, Response.json({ ok: true }));
 * ```
 */
export async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const buffered = bufferedParts(response);
  if (buffered) {
    const body = typeof buffered.body === "string" ? Buffer.from(buffered.body) : buffered.body;
    return void res.writeHead(buffered.status, { ...buffered.headers, "content-length": String(body.byteLength) }).end(body);
  }
  const streamed = streamedParts(response);
  const status = streamed?.status ?? response.status;
  const headers: Record<string, string> = { ...streamed?.headers };
  if (!streamed) response.headers.forEach((value, key) => (headers[key] = value));
  const body = streamed ? streamed.body : response.body;
  if (!body) return void res.writeHead(status, headers).end();
  const reader = body.getReader();
  let finished = false;
  const closed = new Promise<void>((resolve) => res.once("close", resolve));
  void closed.then(() => {
    if (!finished) reader.cancel().catch(() => {});
  });
  try {
    const firstPending = reader.read();
    const early = await Promise.race([firstPending, nextTurn()]);
    let next: Promise<Chunk>;
    if (early === undefined) {
      // A stream with nothing to say yet (a follow with no new line): the status and headers go
      // now, so the client knows it is connected rather than waiting for a first item.
      res.writeHead(status, headers);
      res.flushHeaders();
      next = firstPending;
    } else {
      const first = early;
      if (first.done) return void ((finished = true), res.writeHead(status, headers).end());
      const pending = reader.read();
      const second = await Promise.race([pending, nextTurn()]);
      if (second?.done) {
        finished = true;
        headers["content-length"] = String(first.value.byteLength);
        return void res.writeHead(status, headers).end(first.value);
      }
      res.writeHead(status, headers);
      res.write(first.value);
      next = second ? Promise.resolve(second) : pending;
    }
    for (let chunk: Chunk = await next; !chunk.done; chunk = await reader.read()) {
      if (!res.write(chunk.value)) {
        await Promise.race([new Promise((resolve) => res.once("drain", resolve)), closed]);
        if (res.destroyed) return;
      }
    }
    finished = true;
    res.end();
  } catch {
    res.destroy();
  }
}
