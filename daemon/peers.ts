/**
 * How a daemon talks to the other daemons of its cluster: the same authenticated HTTP API the CLI
 * uses, JSON for control messages and a binary body for snapshots.
 *
 * @example
 * ```ts
 * const peer = new Peer("beta", "http://127.0.0.1:7102", secret);
 * const where = await peer.post("locate", { name: "counter" });
 * ```
 * @module
 */
import { FerryError } from "./errors.ts";
import type { ErrorCode } from "./errors.ts";
import type { MessageType, RequestOf } from "../schemas/api.schema.ts";

export class Peer {
  constructor(readonly name: string, readonly url: string, readonly secret: string) {}

  async #fetch(type: MessageType, body: unknown, timeoutMs: number): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(new URL(`/v1/${type}`, this.url), {
        method: "POST",
        headers: { authorization: `Bearer ${this.secret}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      const timedOut = (cause as Error).name === "TimeoutError";
      throw new FerryError(
        timedOut ? "timeout" : "unreachable",
        timedOut ? `Node "${this.name}" did not answer "${type}" within ${timeoutMs} ms` : `Cannot reach node "${this.name}" at ${this.url}`,
        { cause },
      );
    }
    if (!response.ok) {
      let error: { code?: string; message?: string; hint?: string } = {};
      try {
        error = ((await response.json()) as { error?: typeof error }).error ?? {};
      } catch {
        // not a JSON error body
      }
      throw new FerryError((error.code ?? "internal") as ErrorCode, error.message ?? `Node "${this.name}" answered ${response.status}`, error.hint ? { hint: error.hint } : {});
    }
    return response;
  }

  /** Sends a JSON message and returns the JSON answer. */
  async post<T>(type: MessageType, body: RequestOf<MessageType> | Record<string, unknown>, timeoutMs = 5000): Promise<T> {
    return (await (await this.#fetch(type, body, timeoutMs)).json()) as T;
  }

  /** Sends a JSON message whose answer is binary; returns the bytes and the response headers. */
  async postForBytes(type: MessageType, body: Record<string, unknown>, timeoutMs: number, maxBytes: number): Promise<{ bytes: Uint8Array; headers: Headers }> {
    const response = await this.#fetch(type, body, timeoutMs);
    const length = Number(response.headers.get("content-length") ?? NaN);
    if (length > maxBytes) throw new FerryError("payload_too_large", `Snapshot of ${length} bytes exceeds the ${maxBytes}-byte limit`);
    try {
      return { bytes: await readBody(response, length, maxBytes), headers: response.headers };
    } catch (cause) {
      if ((cause as { code?: string }).code === "payload_too_large") throw cause;
      throw new FerryError("unreachable", `Transfer from node "${this.name}" broke off: ${(cause as Error).message}`, { cause });
    }
  }
}

/** Reads a body into one buffer, preallocated when the length is known so large states copy once. */
async function readBody(response: Response, length: number, maxBytes: number): Promise<Uint8Array> {
  const reader = response.body!.getReader();
  if (Number.isFinite(length)) {
    const out = new Uint8Array(length);
    let offset = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (offset + value.byteLength > length) throw new Error("body longer than its content-length");
      out.set(value, offset);
      offset += value.byteLength;
    }
    if (offset !== length) throw new Error(`body ended after ${offset} of ${length} bytes`);
    return out;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) throw new FerryError("payload_too_large", `Snapshot exceeds the ${maxBytes}-byte limit`);
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
