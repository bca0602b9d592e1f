import { test } from "uvu";
import * as assert from "uvu/assert";
import { MetricsRegistry, renderPrometheus } from "../../../daemon/metrics/mod.ts";
import { NodeMetrics } from "../../../daemon/metrics/node-metrics.ts";
import { EventLog } from "../../../daemon/events.ts";

test("renderPrometheus() writes HELP, TYPE, escaped labels and cumulative histogram buckets", () => {
  const registry = new MetricsRegistry();
  registry.counter("ferry_things_total", "Things\nseen").inc({ kind: 'a "quoted" \\ one' }, 2);
  registry.gauge("ferry_level", "A level", () => [{ value: 1.5 }]);
  const h = registry.histogram("ferry_wait_seconds", "Waits", [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  assert.is(renderPrometheus(registry.collect()), [
    "# HELP ferry_things_total Things\\nseen",
    "# TYPE ferry_things_total counter",
    'ferry_things_total{kind="a \\"quoted\\" \\\\ one"} 2',
    "# HELP ferry_level A level",
    "# TYPE ferry_level gauge",
    "ferry_level 1.5",
    "# HELP ferry_wait_seconds Waits",
    "# TYPE ferry_wait_seconds histogram",
    'ferry_wait_seconds_bucket{le="0.1"} 1',
    'ferry_wait_seconds_bucket{le="1"} 2',
    'ferry_wait_seconds_bucket{le="+Inf"} 3',
    "ferry_wait_seconds_sum 5.55",
    "ferry_wait_seconds_count 3",
    "",
  ].join("\n"));
});

test("NodeMetrics counts hand-offs on their source: a suspend that fails counts as begun and rolled back", () => {
  const events = new EventLog("alpha");
  events.emit({ type: "suspended", process: "a", generation: 0, to: "beta", bytes: 100, ms: 1 }); // before: from history
  const metrics = new NodeMetrics({ node: "alpha", events, ps: () => [{ state: "running" }], modules: () => [], runtime: { name: "node", version: "20" } });
  events.emit({ type: "transferred", process: "a", generation: 1, from: "alpha", to: "beta", ms: 3 });
  events.emit({ type: "rolled-back", process: "b", to: "beta", reason: "no safe point" });
  events.emit({ type: "executor-restarted", reason: "its executor did not yield for 2000 ms" });
  const text = metrics.render();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  assert.is(value("ferry_handoffs_started_total"), 2);
  assert.is(value("ferry_handoffs_committed_total"), 1);
  assert.is(value("ferry_handoffs_rolled_back_total"), 1);
  assert.is(value("ferry_handoff_bytes_count"), 1);
  assert.is(value("ferry_executor_stalls_total"), 1);
  assert.is(value('ferry_processes\\{state="running"\\}'), 1);
  metrics.close();
});

test.run();
