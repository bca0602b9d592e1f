/**
 * Feeds a node's process logs: the lifecycle events of its processes (from the node's event log,
 * including those emitted before this was attached) and the console output of its processes.
 *
 * @example
 * ```ts
 * const detach = recordLifecycle(state.events, logs, (name) => state.get(name)?.generation);
 * ```
 * @module
 */
import type { FerryEvent } from "../../schemas/api.schema.ts";
import type { EventLog } from "../events.ts";
import { eventLine } from "./event-lines.ts";
import type { ProcessLogs } from "./process-logs.ts";

/**
 * Writes a line to the log of the process each event concerns; returns the detach function.
 *
 * @example
 * ```ts
 * recordLifecycle(state.events, logs, (name) => state.get(name)?.generation);
 * ```
 */
export function recordLifecycle(events: EventLog, logs: ProcessLogs, generationOf: (name: string) => number | undefined): () => void {
  const record = (event: FerryEvent) => {
    const text = eventLine(event);
    if (text === undefined || event.process === undefined) return;
    logs.write(event.process, event.generation ?? generationOf(event.process) ?? 0, "event", text, event.time);
  };
  // Same turn: no event falls between the history and the subscription.
  for (const event of events.recent()) record(event);
  return events.subscribe(record);
}
