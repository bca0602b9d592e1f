/**
 * The destination's side of `handoff.begin`'s answer: a small snapshot is read whole (one buffer,
 * as before), a large one is handed on as it streams in, so that writing its checkpoint and
 * decoding it in the executor overlap the transfer (see node/receive.ts).
 *
 * @example
 * ```ts
 * const { headers, snapshot } = await requestSnapshot(peer, request, { timeoutMs, maxBytes });
 * if (snapshot instanceof Uint8Array) console.log(`${snapshot.byteLength} bytes`);
 * ```
 * @module
 */
import type { ApiClient, BytesOptions, RequestBody } from "../api/client.ts";
import type { AnswerHeaders } from "../api/transport.ts";
import { BodyCollector } from "../api/body.ts";
import { FerryError, isFerryError } from "../errors.ts";
import type { SnapshotInflow } from "../node/receive.ts";
import { STREAM_ABOVE_BYTES } from "../node/snapshot-stream.ts";

export type { SnapshotInflow } from "../node/receive.ts";

/** A received snapshot: whole, or still streaming in. */
export type ReceivedSnapshot = Uint8Array | SnapshotInflow;

export interface SnapshotRequestOptions extends BytesOptions {
  /** The stream ended (completely or not): no more progress reports. */
  onEnd?: () => void;
  /** Gather the answer whatever its size (a pre-copy's last delta, which is merged whole). */
  whole?: boolean;
}

/**
 * Asks `peer` for the snapshot of a hand-off. Resolves once the answer's headers are in: with the
 * bytes when the snapshot is small (or its length unknown), else with the stream of them.
 *
 * @example
 * ```ts
 * const { snapshot } = await requestSnapshot(peer, { name, generation, to, handoffId }, { timeoutMs: 30000, maxBytes: 1 << 30 });
 * ```
 */
export async function requestSnapshot(peer: Pick<ApiClient, "postForStream">, body: RequestBody<"handoff.begin">, options: SnapshotRequestOptions): Promise<{ headers: AnswerHeaders; snapshot: ReceivedSnapshot }> {
  let ended = false;
  const end = () => {
    if (!ended) options.onEnd?.();
    ended = true;
  };
  try {
    // A small snapshot arrives whole, read without an async iteration per chunk.
    const answer = await peer.postForStream("handoff.begin", body, { ...options, collectBelow: STREAM_ABOVE_BYTES });
    const { length } = answer;
    if (answer.bytes) {
      options.onProgress?.(answer.bytes.byteLength, answer.bytes.byteLength);
      end();
      return { headers: answer.headers, snapshot: answer.bytes };
    }
    if (length === undefined || length <= STREAM_ABOVE_BYTES || options.whole) {
      const collector = new BodyCollector(length, options.maxBytes);
      for await (const chunk of answer.chunks) {
        collector.add(chunk);
        options.onProgress?.(collector.received, collector.total);
      }
      end();
      return { headers: answer.headers, snapshot: collector.finish() };
    }
    const total = length;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let received = 0;
      try {
        for await (const chunk of answer.chunks) {
          received += chunk.byteLength;
          options.onProgress?.(received, total);
          yield chunk;
        }
      } finally {
        end();
      }
    }
    return { headers: answer.headers, snapshot: { length: total, chunks: chunks() } };
  } catch (error) {
    end();
    if (isFerryError(error)) throw error;
    throw new FerryError("unreachable", `Transfer from node "${(peer as { name?: string }).name ?? "?"}" broke off: ${(error as Error).message}`, { cause: error });
  }
}
