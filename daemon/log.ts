/**
 * The daemon's own log lines (what the node state and the daemon report, and its processes'
 * output as `[name] text`), each with a time and a level. Written synchronously to stdout (no
 * transport, no worker thread: they cost memory on every node): as pino's JSON lines with
 * `FERRY_LOG_FORMAT=json` (for a log shipper), otherwise one readable line each, which `ferry up`
 * prefixes with `[node]`:
 *
 * ```text
 * 2026-11-27T03:12:00.123Z INFO  ferry: node alpha (node 20.20.0) listening on http://127.0.0.1:7101
 * ```
 *
 * @example
 * ```ts
 * const log = await daemonLog("alpha");
 * log("warn", "ferry: keeping the last good config");
 * ```
 * @module
 */
import process from "node:process";

/** What the node state and the assembled node log through. */
export type LogFn = (level: "info" | "warn" | "error", line: string) => void;

export interface DaemonLogOptions {
  /** `json`: pino's JSON lines; `text`: one human line each. @default FERRY_LOG_FORMAT, else text */
  format?: "json" | "text";
  /** Where lines go. @default process.stdout */
  write?: (line: string) => void;
}

/**
 * A log function for node `node`'s daemon. pino is loaded for the JSON format only: a text line
 * is made here, as pino's would read once turned into text, and the logger (some 1 MiB of heap
 * for as long as the daemon runs) is not worth it for that.
 *
 * @example
 * ```ts
 * await assembleNode({ ...options, log: await daemonLog("alpha") });
 * ```
 */
export async function daemonLog(node: string, options: DaemonLogOptions = {}): Promise<LogFn> {
  const format = options.format ?? (process.env.FERRY_LOG_FORMAT === "json" ? "json" : "text");
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  if (format === "text") return (level, line) => write(textLine(new Date().toISOString(), level, line));
  const { default: pino } = await import("pino");
  const settings = {
    base: { node },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const logger = pino(settings, options.write ? { write } : pino.destination({ dest: 1, sync: true }));
  return (level, line) => logger[level](line);
}

/**
 * `time LEVEL message`, the level padded so that messages line up.
 *
 * @example
 * ```ts
 * textLine("2026-11-27T03:12:00.123Z", "info", "ferry: ready"); // "2026-11-27T03:12:00.123Z INFO  ferry: ready\n"
 * ```
 */
export function textLine(time: string, level: string, message: string): string {
  return `${time} ${level.toUpperCase().padEnd(5)} ${message}\n`;
}
