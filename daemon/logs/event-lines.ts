/**
 * A lifecycle event of a process as the line its log shows: what happened, with the numbers
 * that matter (where to, how many bytes, how long, why).
 *
 * @example
 * ```ts
 * eventLine({ seq: 7, time, node: "alpha", type: "rolled-back", process: "counter", to: "beta", reason: "beta is down" });
 * // "hand-off to beta rolled back: beta is down"
 * ```
 * @module
 */
import type { FerryEvent } from "../../schemas/api.schema.ts";

/**
 * The line for `event`, or undefined when it concerns no process.
 *
 * @example
 * ```ts
 * eventLine({ seq: 1, time, node: "beta", type: "resumed", process: "counter", from: "alpha", generation: 2, ms: 4.2 });
 * // "resumed, from alpha, downtime 4.2 ms"
 * ```
 */
export function eventLine(event: FerryEvent): string | undefined {
  if (event.process === undefined) return undefined;
  switch (event.type) {
    case "suspended":
      return join(`suspended for a hand-off${event.to ? ` to ${event.to}` : ""}`, size(event), took(event));
    case "transferred":
      return join(`transferred ${event.from ?? "?"} → ${event.to ?? "?"}`, size(event), took(event));
    case "resumed":
      return join("resumed", event.from ? `from ${event.from}` : undefined, event.ms === undefined ? undefined : `downtime ${ms(event.ms)}`);
    case "rolled-back":
      return `hand-off${event.to ? ` to ${event.to}` : ""} rolled back: ${event.reason ?? "unknown reason"}`;
    case "adopted":
      return `adopted from ${event.from ?? "?"}`;
    default: {
      const why = event.reason ?? event.message;
      return why === undefined ? event.type : `${event.type}: ${why}`;
    }
  }
}

function join(...parts: (string | undefined)[]): string {
  return parts.filter((p) => p !== undefined).join(", ");
}

function size(event: FerryEvent): string | undefined {
  return event.bytes === undefined ? undefined : `${event.bytes} B`;
}

function took(event: FerryEvent): string | undefined {
  return event.ms === undefined ? undefined : `in ${ms(event.ms)}`;
}

function ms(value: number): string {
  return `${Math.round(value * 10) / 10} ms`;
}
