/**
 * `ferry events [--follow]`: the lifecycle events of every node, merged into one timeline.
 *
 * Each node streams its own events; with `--follow` they are held back for a moment and
 * released in time order, so that a hand-off reads in order (suspended on the source before
 * resumed on the destination) even though two connections deliver it. A node that goes away
 * while following is reconnected; events seen before are not printed twice. An answer that no
 * retry can change (a wrong secret) ends the command instead. Works while cluster.yaml has errors.
 *
 * @example
 * ```sh
 * ferry events --follow
 * ferry events --json | jq 'select(.type == "rolled-back")'
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import type { FerryEvent } from "../../schemas/api.schema.ts";
import type { NodeClient } from "../client.ts";
import { type Command, type GlobalArgs, openClusterLenient } from "../command.ts";
import { formatBytes, formatMs } from "../format.ts";
import { print, printJson, warn } from "../output.ts";
import { followMerged, followNode } from "../follow-merged.ts";

interface EventsArgs extends GlobalArgs {
  follow: boolean;
}

/** How long a followed event waits for earlier ones from slower connections. */
const reorderMs = 150;

/**
 * The `events` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(eventsCommand);
 * ```
 */
export const eventsCommand: Command<EventsArgs> = {
  command: "events",
  describe: "Show lifecycle events of all nodes (--follow to keep streaming)",
  builder: (y: Argv<GlobalArgs>) =>
    y.option("follow", { alias: "f", type: "boolean", default: false, describe: "Keep streaming new events until Ctrl-C" })
      .example("$0 events", "Every node's recent events, in time order")
      .example("$0 events -f --json", "Keep following, one JSON object per line") as unknown as Argv<EventsArgs>,
  handler: async (args) => {
    const { cluster } = await openClusterLenient(args, "showing the events of the daemons it names");
    const width = Math.max(...cluster.nodes.map((n) => n.name.length));
    const show = (event: FerryEvent) => (args.json ? printJson(event, { compact: true }) : print(formatEvent(event, width)));

    if (!args.follow) {
      const results = await cluster.each(async (node) => {
        const events: FerryEvent[] = [];
        for await (const event of node.events(false)) events.push(event);
        return events;
      });
      const failures = results.flatMap((r) => (r.ok ? [] : [r.error]));
      if (failures.length === results.length && failures[0]) throw failures[0];
      for (const error of failures) warn(error.userMessage);
      results.flatMap((r) => (r.ok ? r.value : [])).sort(byTime).forEach(show);
      return;
    }

    await followMerged(cluster.nodes, follow, byTime, show, reorderMs);
  },
};

/** Streams one node's events until `signal` aborts, reconnecting with backoff when it drops. */
function follow(node: NodeClient, signal: AbortSignal, emit: (event: FerryEvent) => void): Promise<void> {
  const seen = new Set<string>();
  return followNode(node, signal, () => node.events(true, signal), (event) => {
    // A reconnect replays the recent events; a restarted daemon numbers them anew, hence the
    // time in the key.
    const key = `${event.seq}@${event.time}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
    emit(event);
  });
}

function byTime(a: FerryEvent, b: FerryEvent): number {
  return Date.parse(a.time) - Date.parse(b.time) || (a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq);
}

/**
 * One event as a line: `time node type process details`.
 *
 * @example
 * ```ts
 * formatEvent({ seq: 4, time: "2025-01-01T10:00:00.000Z", node: "alpha", type: "transferred", process: "counter", from: "alpha", to: "beta", bytes: 512, ms: 3.2 }, 5);
 * // "2025-01-01T10:00:00.000Z  alpha  transferred         counter  alpha → beta, 512 B in 3.2 ms"
 * ```
 */
export function formatEvent(event: FerryEvent, nodeWidth = 0): string {
  const details: string[] = [];
  if (event.from !== undefined && event.to !== undefined) details.push(`${event.from} → ${event.to}`);
  else if (event.to !== undefined) details.push(`to ${event.to}`);
  else if (event.from !== undefined) details.push(`from ${event.from}`);
  const size = event.bytes === undefined ? "" : formatBytes(event.bytes);
  const time = event.ms === undefined ? "" : `in ${formatMs(event.ms)}`;
  if (size || time) details.push([size, time].filter(Boolean).join(" "));
  if (event.generation !== undefined) details.push(`generation ${event.generation}`);
  if (event.reason !== undefined) details.push(`reason: ${event.reason}`);
  if (event.message !== undefined) details.push(event.message);
  return [event.time, event.node.padEnd(nodeWidth), event.type.padEnd(18), event.process ?? "-", details.join(", ")].join("  ").trimEnd();
}
