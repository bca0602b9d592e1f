/**
 * A process's last log lines through the daemon's `logs.read` route, when the daemon has one: the
 * route is asked with the process name and a line count, and answers in one of a few shapes (an
 * array, or `{ lines }` / `{ entries }`; each a string or `{ time, node, text | line | message }`).
 * A daemon without the route answers "no endpoint", and the lines are then simply not shown.
 *
 * @example
 * ```ts
 * const lines = await lastLogLines(cluster, "counter", 10); // null: no node has logs.read
 * ```
 * @module
 */
import type { ClusterClient } from "./client.ts";
import type { JsonMessageType, RequestBody } from "../daemon/api/client.ts";

/**
 * Log entries of any of the accepted shapes, as text lines.
 *
 * @example
 * ```ts
 * logLines({ lines: [{ time: "12:00:01", node: "alpha", text: "hello" }] }); // ["12:00:01  alpha  hello"]
 * ```
 */
export function logLines(answer: unknown): string[] {
  const box = answer as { lines?: unknown; entries?: unknown } | null;
  const list = Array.isArray(answer) ? answer : Array.isArray(box?.lines) ? box.lines : Array.isArray(box?.entries) ? box.entries : [];
  return list.map((entry: unknown) => {
    if (typeof entry === "string") return entry;
    const e = (entry ?? {}) as Record<string, unknown>;
    const text = e.text ?? e.line ?? e.message ?? JSON.stringify(entry);
    return [e.time, e.node, e.stream, text].filter((x) => x !== undefined && x !== null).map(String).join("  ");
  });
}

/**
 * The last `count` lines of `name` from every node that has them, in order; null when no node
 * that answered has a `logs.read` route.
 *
 * @example
 * ```ts
 * await lastLogLines(cluster, "counter", 10);
 * ```
 */
export async function lastLogLines(cluster: ClusterClient, name: string, count: number): Promise<string[] | null> {
  // Not in the schema this CLI was built with: sent as an untyped message.
  const type = "logs.read" as JsonMessageType;
  const results = await cluster.each((node) => node.post(type, { name, lines: count } as unknown as RequestBody<typeof type>, { timeoutMs: 2_000 }));
  const missing = (r: (typeof results)[number]) => !r.ok && r.error.code === "not_found" && /No endpoint/.test(r.error.message);
  // Only "no such endpoint" or silence everywhere: no node to ask has the route.
  if (results.every((r) => missing(r) || (!r.ok && r.error.code === "unreachable"))) return null;
  const lines = results.flatMap((r) => (r.ok ? logLines(r.value) : []));
  return lines.sort().slice(-count);
}
