/**
 * The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` per family, then
 * one `name{labels} value` line per sample.
 *
 * @example
 * ```ts
 * renderPrometheus([{ name: "ferry_up", help: "Always 1", type: "gauge", samples: [{ labels: {}, value: 1 }] }]);
 * // "# HELP ferry_up Always 1\n# TYPE ferry_up gauge\nferry_up 1\n"
 * ```
 * @module
 */
import type { Labels, MetricFamily } from "./registry.ts";

/** The content type of {@link renderPrometheus}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Writes `families` in the text format.
 *
 * @example
 * ```ts
 * new Response(renderPrometheus(registry.collect()), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 * ```
 */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${family.name}${sample.suffix ?? ""}${labelText(sample.labels)} ${numberText(sample.value)}`);
  }
  return lines.join("\n") + "\n";
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabel(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
