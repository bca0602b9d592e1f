/**
 * How `ferry logs` reads the records of many nodes as one log: `--since` as a time or a duration,
 * the records of every node merged by time (then node order, then sequence), and the line each
 * record prints as.
 *
 * @example
 * ```ts
 * const merged = mergeRecords([alphaRecords, betaRecords], ["alpha", "beta"], { lines: 100 });
 * merged.map((r) => formatRecord(r, 5)).forEach(print);
 * ```
 * @module
 */
import type { LogRecord } from "../schemas/api.schema.ts";
import { FerryError } from "../daemon/errors.ts";

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--since` as an ISO time: an ISO time as given, or a duration before `now` (`90s`, `10m`,
 * `2h`, `1d`, `1.5h`). Throws `bad_request` for anything else.
 *
 * @example
 * ```ts
 * parseSince("10m", Date.parse("2026-11-27T03:10:00Z")); // "2026-11-27T03:00:00.000Z"
 * ```
 */
export function parseSince(text: string, now = Date.now()): string {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (duration) return new Date(now - Number(duration[1]) * units[duration[2]!]!).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) {
    throw new FerryError("bad_request", `Invalid --since "${text}"`, { hint: "give an ISO time (2026-11-27T03:00:00Z) or a duration (30s, 10m, 2h, 1d)" });
  }
  return new Date(at).toISOString();
}

/**
 * Orders records by time, then by the node's place in `nodes`, then by sequence number.
 *
 * @example
 * ```ts
 * records.sort(recordOrder(["alpha", "beta"]));
 * ```
 */
export function recordOrder(nodes: readonly string[]): (a: LogRecord, b: LogRecord) => number {
  const rank = (node: string) => {
    const i = nodes.indexOf(node);
    return i < 0 ? nodes.length : i;
  };
  return (a, b) => Date.parse(a.ts) - Date.parse(b.ts) || rank(a.node) - rank(b.node) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.seq - b.seq;
}

/**
 * The records of every node as one log, each (node, seq) once, ordered by {@link recordOrder};
 * with `lines`, only the last N of the merged log.
 *
 * @example
 * ```ts
 * mergeRecords([[a1, a2], [b1]], ["alpha", "beta"], { lines: 2 });
 * ```
 */
export function mergeRecords(perNode: readonly (readonly LogRecord[])[], nodes: readonly string[], options: { lines?: number } = {}): LogRecord[] {
  const seen = new Set<string>();
  const all: LogRecord[] = [];
  for (const record of perNode.flat()) {
    const key = `${record.node}#${record.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    all.push(record);
  }
  all.sort(recordOrder(nodes));
  return options.lines === undefined ? all : all.slice(Math.max(0, all.length - options.lines));
}

/**
 * One record as `ferry logs` prints it: `time node process[gN] stream | text`.
 *
 * @example
 * ```ts
 * formatRecord({ seq: 9, ts: "2026-11-27T03:12:00.123Z", node: "alpha", process: "counter", generation: 2, stream: "out", text: "hi" }, 5);
 * // "2026-11-27T03:12:00.123Z alpha counter[g2] out   | hi"
 * ```
 */
export function formatRecord(record: LogRecord, nodeWidth = 0): string {
  return `${record.ts} ${record.node.padEnd(nodeWidth)} ${record.process}[g${record.generation}] ${record.stream.padEnd(5)} | ${record.text}`;
}
