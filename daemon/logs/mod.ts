/**
 * Per-process logs kept by each node: output and lifecycle lines, rotated by size.
 * @module
 */
export { ProcessLogs, type LogQuery, type ProcessLogsOptions } from "./process-logs.ts";
export { RotatingFile, type RotateLimits } from "./rotate.ts";
export { matches, type RecordFilter, selectRecords } from "./query.ts";
export { eventLine } from "./event-lines.ts";
export { recordLifecycle } from "./lifecycle.ts";
