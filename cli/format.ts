/**
 * Plain-text formatting for the CLI's human output: aligned tables, byte sizes and durations.
 * No colours: output is read by people and by scripts that did not ask for `--json`.
 *
 * @example
 * ```ts
 * table(["NAME", "STATE"], [["counter", "running"]]); // "NAME     STATE\ncounter  running"
 * ```
 * @module
 */

/**
 * Left-aligned columns separated by two spaces; the last column is not padded.
 *
 * @example
 * ```ts
 * table(["A", "B"], [["x", "1"], ["long", "2"]]);
 * // "A     B\nx     1\nlong  2"
 * ```
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ").trimEnd())
    .join("\n");
}

/**
 * A byte count the way people read it: `512 B`, `1.5 kB`, `48.1 MB`.
 *
 * @example
 * ```ts
 * formatBytes(1536); // "1.5 kB"
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value < 10 ? value.toFixed(1) : value.toFixed(value < 100 ? 1 : 0)} ${unit}`;
}

/**
 * Milliseconds with a precision that suits their size: `0.35 ms`, `1.2 ms`, `14 ms`, `2.5 s`.
 *
 * @example
 * ```ts
 * formatMs(1.234); // "1.2 ms"
 * ```
 */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(0)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/**
 * A coarse uptime: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
 *
 * @example
 * ```ts
 * formatUptime(3_900_000); // "1 h 5 min"
 * ```
 */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
