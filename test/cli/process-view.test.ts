import { test } from "uvu";
import * as assert from "uvu/assert";
import { mergeProcesses, processTable } from "../../cli/process-view.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import type { ClusterConfig } from "../../schemas/cluster.schema.ts";

function info(name: string, node: string, state: ProcessInfo["state"], extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    name,
    module: "Counter",
    args: [],
    node,
    desired: node,
    state,
    generation: 0,
    migrations: 0,
    lastDowntimeMs: null,
    lastTransferBytes: null,
    error: null,
    placedBy: "config",
    description: "Counter",
    methods: ["get"],
    startedAt: "2025-01-01T00:00:00.000Z",
    ...extra,
  };
}

const config = {
  cluster: { name: "t", secret: "s" },
  nodes: { alpha: { url: "http://127.0.0.1:1" }, beta: { url: "http://127.0.0.1:2" } },
  processes: {
    counter: { module: "Counter", args: [], node: "beta" },
    fresh: { module: "Sorter", args: ["in.txt"], node: "alpha" },
  },
} as unknown as ClusterConfig;

test("mergeProcesses() shows a process reported by its holder and by an acquiring node once, as the holder sees it", () => {
  const merged = mergeProcesses([[info("counter", "alpha", "migrating", { generation: 2 })], [info("counter", "beta", "starting", { generation: 3 })]], config);
  assert.is(merged.length, 2);
  assert.equal([merged[0]?.name, merged[0]?.node, merged[0]?.state, merged[0]?.generation], ["counter", "alpha", "migrating", 2]);
});

test("mergeProcesses() keeps the newer generation when two nodes report the same kind of state", () => {
  const merged = mergeProcesses([[info("counter", "alpha", "running", { generation: 1 })], [info("counter", "beta", "running", { generation: 2 })]], config);
  assert.is(merged[0]?.node, "beta");
});

test("mergeProcesses() takes `desired` from cluster.yaml, null for processes no longer in it", () => {
  const merged = mergeProcesses([[info("counter", "alpha", "running"), info("gone", "alpha", "stopped")]], config);
  assert.equal(merged.map((p) => [p.name, p.desired]), [["counter", "beta"], ["fresh", "alpha"], ["gone", null]]);
});

test("mergeProcesses() lists declared processes no node reports as starting on node -", () => {
  const fresh = mergeProcesses([], config).find((p) => p.name === "fresh");
  assert.equal(
    fresh && [fresh.node, fresh.desired, fresh.state, fresh.module, fresh.args, fresh.generation, fresh.error],
    ["-", "alpha", "starting", "Sorter", ["in.txt"], 0, null],
  );
});

test("processTable() has the ps columns and shows missing values as -", () => {
  const text = processTable([info("counter", "alpha", "running", { desired: null, lastDowntimeMs: 1.234, error: "rolled back: beta unreachable" })]);
  const [header, row] = text.split("\n");
  assert.equal(header?.split(/\s+/), ["NAME", "MODULE", "VERSION", "NODE", "DESIRED", "STATE", "GEN", "MIGR", "DOWNTIME", "ERROR"]);
  assert.match(row ?? "", /^counter\s+Counter\s+-\s+alpha\s+-\s+running\s+0\s+0\s+1\.2 ms\s+rolled back: beta unreachable$/);
});

test("processTable() shows the version a process runs, and old→new while one is pending", () => {
  const text = processTable([
    info("a", "alpha", "running", { moduleVersion: "3f2a9c0d1e4b" }),
    info("b", "alpha", "running", { moduleVersion: "3f2a9c0d1e4b", pendingVersion: "8b1d2e4f0a3c" }),
  ]);
  const [, a, b] = text.split("\n");
  assert.match(a ?? "", /^a\s+Counter\s+3f2a9c0\s+alpha\s/);
  assert.match(b ?? "", /^b\s+Counter\s+3f2a9c0→8b1d2e4\s+alpha\s/);
});

test.run();
