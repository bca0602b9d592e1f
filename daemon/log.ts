/**
 * The daemon's own log lines (what the node state and the daemon report, and its processes'
 * output as `[name] text`), with a time and a level from pino. Written synchronously to stdout
 * (no transport, no worker thread: they cost memory on every node): as pino's JSON lines with
 * `FERRY_LOG_FORMAT=json` (for a log shipper), otherwise one readable line each, which `ferry up`
 * prefixes with `[node]`:
 *
 * ```text
 * 2026-11-27T03:12:00.123Z INFO  ferry: node alpha (node 20.20.0) listening on http://127.0.0.1:7101
 * ```
 *
 * @example
 * ```ts
 * const log = daemonLog("alpha");
 * log("warn", "ferry: keeping the last good config");
 * ```
 * @module
 */
import process from "node:process";
import pino from "pino";

/** What the node state and the assembled node log through. */
export type LogFn = (level: "info" | "warn" | "error", line: string) => void;

export interface DaemonLogOptions {
  /** `json`: pino's JSON lines; `text`: one human line each. @default FERRY_LOG_FORMAT, else text */
  format?: "json" | "text";
  /** Where text lines go. @default process.stdout */
  write?: (line: string) => void;
}

/**
 * A log function for node `node`'s daemon.
 *
 * @example
 * ```ts
 * await assembleNode({ ...options, log: daemonLog("alpha") });
 * ```
 */
export function daemonLog(node: string, options: DaemonLogOptions = {}): LogFn {
  const format = options.format ?? (process.env.FERRY_LOG_FORMAT === "json" ? "json" : "text");
  const settings = {
    base: { node },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const logger = format === "json"
    ? pino(settings, options.write ? { write } : pino.destination({ dest: 1, sync: true }))
    : pino(settings, { write: (json: string) => write(textLine(json)) });
  return (level, line) => logger[level](line);
}

/** pino's JSON line as `time LEVEL message`. */
function textLine(json: string): string {
  try {
    const { time, level, msg } = JSON.parse(json) as { time?: string; level?: string; msg?: string };
    return `${time ?? ""} ${(level ?? "").toUpperCase().padEnd(5)} ${msg ?? ""}\n`;
  } catch {
    return json;
  }
}
