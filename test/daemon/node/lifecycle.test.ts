import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertMove, canMove, shownState } from "../../../daemon/node/lifecycle.ts";
import { ManagedProcess } from "../../../daemon/node/process.ts";

const identity = { name: "c", module: "Counter", args: [], generation: 0, migrations: 0, lastDowntimeMs: null };

test("a hand-off's path is legal: running → suspending → migrating → released", () => {
  const p = new ManagedProcess(identity);
  for (const state of ["running", "suspending", "migrating", "released"] as const) p.moveTo(state);
  assert.is(p.state, "released");
});

test("a rollback returns a migrating process to running, or to completed", () => {
  assert.ok(canMove("migrating", "running"));
  assert.ok(canMove("migrating", "completed"));
});

test("illegal transitions throw, naming the process and both states", () => {
  const p = new ManagedProcess(identity);
  p.moveTo("running");
  p.moveTo("stopped");
  assert.throws(() => p.moveTo("running"), /Process "c" cannot go from "stopped" to "running"/);
  assert.throws(() => assertMove("c", "held", "suspending"), /cannot go from "held" to "suspending"/);
  assert.not.ok(canMove("failed", "running"), "a failed process restarts through starting");
});

test("ps shows the contract's names: a held copy is starting", () => {
  assert.is(shownState("held"), "starting");
  assert.is(shownState("running"), "running");
  assert.is(shownState("dropped"), "stopped");
});

test("closeGate() makes callers wait until openGate() tells them where it went", async () => {
  const p = new ManagedProcess(identity);
  const gate = p.closeGate();
  assert.ok(p.waiting);
  p.openGate({ movedTo: "beta" });
  assert.equal(await gate.promise, { movedTo: "beta" });
  assert.not.ok(p.waiting);
});

test.run();
