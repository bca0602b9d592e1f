import { test } from "uvu";
import * as assert from "uvu/assert";
import { processHistory } from "../../cli/process-history.ts";
import { logLines } from "../../cli/log-lines.ts";
import { mergeProcesses } from "../../cli/process-view.ts";
import type { FerryEvent } from "../../schemas/api.schema.ts";
import type { ClusterConfig } from "../../schemas/cluster.schema.ts";

let seq = 0;
const at = (second: number, node: string, type: FerryEvent["type"], extra: Partial<FerryEvent> = {}): FerryEvent =>
  ({ seq: ++seq, time: `2025-01-01T00:00:${String(second).padStart(2, "0")}.000Z`, node, type, process: "c", ...extra }) as FerryEvent;

test("processHistory() reads completed moves with downtime and size, rollbacks and the last error", () => {
  const events = [
    at(5, "beta", "resumed", { from: "alpha", generation: 1, ms: 1.5 }),
    at(1, "alpha", "started", { generation: 0 }),
    at(4, "beta", "transferred", { from: "alpha", to: "beta", generation: 1, bytes: 512 }),
    at(3, "alpha", "rolled-back", { to: "beta", reason: "destination down" }),
    at(6, "alpha", "started", { process: "other" }),
  ];
  const h = processHistory(events, "c");
  assert.equal(h.events.map((e) => e.type), ["started", "rolled-back", "transferred", "resumed"]);
  assert.equal(h.moves, [{ time: "2025-01-01T00:00:05.000Z", from: "alpha", to: "beta", generation: 1, downtimeMs: 1.5, bytes: 512 }]);
  assert.equal(h.rollbacks, [{ time: "2025-01-01T00:00:03.000Z", node: "alpha", to: "beta", reason: "destination down" }]);
  assert.is(h.lastError, "destination down");
  assert.equal(processHistory([at(1, "alpha", "started")], "c").moves, []);
});

test("logLines() reads the shapes a logs.read answer may take", () => {
  assert.equal(logLines(["a", "b"]), ["a", "b"]);
  assert.equal(logLines({ lines: [{ time: "t", node: "alpha", text: "hi" }] }), ["t  alpha  hi"]);
  assert.equal(logLines({ entries: [{ message: "m" }] }), ["m"]);
  assert.equal(logLines(null), []);
});

test("mergeProcesses() calls a declared process unknown when its node could not be asked, starting otherwise", () => {
  const config = { processes: { a: { module: "M", args: [], node: "alpha" }, b: { module: "M", args: [], node: "beta" }, u: { module: "M", args: [] } } } as unknown as ClusterConfig;
  const rows = mergeProcesses([], config, ["alpha"]);
  assert.equal(rows.map((r) => [r.name, r.state]), [["a", "unknown"], ["b", "starting"], ["u", "unknown"]]);
  assert.equal(mergeProcesses([], config).map((r) => r.state), ["starting", "starting", "starting"]);
});

test.run();
