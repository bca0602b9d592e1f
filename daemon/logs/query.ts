/**
 * Which records of a process's log a query selects: those after a sequence number, taken at or
 * after a time, then the last N. The node applies it to what it keeps; the CLI applies the same
 * rule to the records of all nodes merged.
 *
 * @example
 * ```ts
 * selectRecords(records, { after: 41, sinceTs: "2026-11-27T03:00:00.000Z", lines: 100 });
 * ```
 * @module
 */
import type { LogRecord } from "../../schemas/api.schema.ts";

/** A selection of log records; every field narrows it. */
export interface RecordFilter {
  /** Only records with a larger `seq`. */
  after?: number;
  /** Only records taken at or after this ISO time. */
  sinceTs?: string;
  /** Only the last N of what the other fields selected. */
  lines?: number;
}

/**
 * The records of `records` (in their order) that `filter` selects.
 *
 * @example
 * ```ts
 * selectRecords(all, { lines: 10 }); // the last 10
 * ```
 */
export function selectRecords(records: readonly LogRecord[], filter: RecordFilter): LogRecord[] {
  const since = filter.sinceTs === undefined ? undefined : Date.parse(filter.sinceTs);
  const selected = records.filter((r) => (filter.after === undefined || r.seq > filter.after) && (since === undefined || Date.parse(r.ts) >= since));
  return filter.lines === undefined ? selected : selected.slice(Math.max(0, selected.length - filter.lines));
}

/**
 * Whether one record passes the `after` and `sinceTs` parts of a filter (a followed record).
 *
 * @example
 * ```ts
 * if (matches(record, { after: last })) emit(record);
 * ```
 */
export function matches(record: LogRecord, filter: Omit<RecordFilter, "lines">): boolean {
  return (filter.after === undefined || record.seq > filter.after) && (filter.sinceTs === undefined || Date.parse(record.ts) >= Date.parse(filter.sinceTs));
}
