/**
 * Following streams from every node at once and printing them as one stream in order: items
 * are held back for `reorderMs` after they arrive, so one that a slower node sends a little
 * later still prints in its place. Ends on Ctrl-C (or SIGTERM), or when one node's stream fails
 * for good (the others are stopped with it), printing what is still held.
 *
 * @example
 * ```ts
 * await followMerged(cluster.nodes, (node, signal, emit) => followEvents(node, signal, emit), byTime, show, 150);
 * ```
 * @module
 */
import process from "node:process";
import { describeError, isRetryable } from "../daemon/errors.ts";
import { sleep } from "./command.ts";
import { warn } from "./output.ts";

/**
 * Runs `follow` for every node until Ctrl-C; `show` gets the items in `order`.
 *
 * @example
 * ```ts
 * await followMerged(nodes, follow, (a, b) => a.ts - b.ts, print, 150);
 * ```
 */
export async function followMerged<N, T>(
  nodes: readonly N[],
  follow: (node: N, signal: AbortSignal, emit: (item: T) => void) => Promise<void>,
  order: (a: T, b: T) => number,
  show: (item: T) => void,
  reorderMs: number,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const pending: { item: T; arrived: number }[] = [];
  const flush = (all: boolean) => {
    const cutoff = Date.now() - reorderMs;
    const ready = pending.filter((p) => all || p.arrived <= cutoff);
    if (ready.length === 0) return;
    pending.splice(0, pending.length, ...pending.filter((p) => !ready.includes(p)));
    ready.map((p) => p.item).sort(order).forEach(show);
  };
  const timer = setInterval(() => flush(false), reorderMs / 3);
  try {
    await Promise.all(nodes.map((node) =>
      follow(node, stop.signal, (item) => pending.push({ item, arrived: Date.now() })).catch((error: unknown) => {
        stop.abort(); // the other nodes' streams end with this one
        throw error;
      })
    ));
  } finally {
    clearInterval(timer);
    flush(true);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * Reads one node's stream until `signal` aborts. When it breaks for a reason a retry can mend,
 * it opens the stream again (`open` is called anew, so it can resume after what was seen), with
 * backoff from 250 ms up to 5 s, saying once that the node is down and again when it is back.
 *
 * @example
 * ```ts
 * await followNode(node, signal, () => node.events(true, signal), show);
 * ```
 */
export async function followNode<T>(node: { name: string }, signal: AbortSignal, open: () => AsyncIterable<T>, emit: (item: T) => void): Promise<void> {
  let delay = 250;
  let down = false;
  while (!signal.aborted) {
    try {
      let connected = false;
      for await (const item of open()) {
        if (!connected) {
          connected = true;
          delay = 250;
          if (down) warn(`node "${node.name}" is back`);
          down = false;
        }
        emit(item);
      }
    } catch (error) {
      if (signal.aborted) break;
      if (!isRetryable(error)) throw error;
      if (!down) warn(`${describeError(error)}; retrying`);
      down = true;
    }
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 5_000);
  }
}
