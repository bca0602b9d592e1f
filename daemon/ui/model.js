// What the page shows, computed from the nodes' answers: one row per process (the holder's view,
// as `ferry ps` merges them) and one line per event.

const rank = { running: 2, suspending: 2, migrating: 2, completed: 2, failed: 2, stopped: 1, starting: 0 };

/**
 * One entry per process from every node's `status.processes`, sorted by name. During a hand-off
 * two nodes report a process; the holder (higher state rank, then higher generation) wins.
 *
 * @example
 * mergeProcesses([alphaStatus.processes, betaStatus.processes]);
 */
export function mergeProcesses(reports) {
  const byName = new Map();
  for (const list of reports) {
    for (const p of list) {
      const seen = byName.get(p.name);
      const better = !seen || (rank[p.state] - rank[seen.state] || p.generation - seen.generation) > 0;
      if (better) byName.set(p.name, p);
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `1.2 ms`, `340 ms`, `2.5 s`. */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return "-";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `512 B`, `3.4 KiB`, `12.0 MiB`. */
export function formatBytes(n) {
  if (n === null || n === undefined) return "-";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** One line for a lifecycle event: time, node, type, process and what happened. */
export function formatEvent(e) {
  const details = [
    e.process,
    e.generation === undefined ? undefined : `gen ${e.generation}`,
    e.from || e.to ? `${e.from ?? "?"} → ${e.to ?? "?"}` : undefined,
    e.bytes === undefined ? undefined : formatBytes(e.bytes),
    e.ms === undefined ? undefined : formatMs(e.ms),
    e.reason,
    e.message,
  ].filter((d) => d !== undefined && d !== "");
  return `${e.time.slice(11, 23)}  ${e.node}  ${e.type}  ${details.join("  ")}`;
}

/**
 * Log lines in whatever shape the `logs.read` route answers (an array, or `{ lines }` /
 * `{ entries }`; each a string or `{ time, node, text | line | message }`), as text lines.
 */
export function logLines(answer) {
  const list = Array.isArray(answer) ? answer : (answer?.lines ?? answer?.entries ?? []);
  return list.map((l) => {
    if (typeof l === "string") return l;
    const text = l.text ?? l.line ?? l.message ?? JSON.stringify(l);
    return [l.time, l.node, l.stream, text].filter((x) => x !== undefined && x !== null).join("  ");
  });
}
