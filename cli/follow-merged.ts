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
