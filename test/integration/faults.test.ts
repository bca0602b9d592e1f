/**
 * Faults found by probing a running cluster: each must end with nothing lost, the daemon
 * answering, and a clear message.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";
import { isFerryError } from "../../daemon/errors.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const faults = suite("faults of process code");
const clusters: TestCluster[] = [];
faults.after.each(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(processes: Record<string, string>, settings: Record<string, unknown> = {}): Promise<TestCluster> {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Tally", "SpinAtOnce", "Wedged", "Flooder"], settings, processes });
  clusters.push(c);
  await c.start("alpha");
  return c;
}

const find = async (c: TestCluster, name: string) => (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((p) => p.name === name);

faults("a busy loop from run()'s first instruction is stopped at the default stallMs; its neighbour answers; SIGTERM ends the daemon", async () => {
  const c = await cluster({ counter: "module: Tally, node: alpha", spin: "module: SpinAtOnce, node: alpha" }, { stallMs: 5000, executors: 1 });
  const spin = await until(async () => { const p = await find(c, "spin"); return p?.state === "failed" && p; }, "spin failed", 30000, 100);
  assert.match(spin.error ?? "", /did not yield for 5000 ms/);
  // Its neighbour was on the replaced executor: it is restored on the new one, then answers.
  await until(async () => (await find(c, "counter"))?.state === "running", "counter running again", 30000, 50);
  const before = await c.call<number>("alpha", "counter", "get");
  await until(async () => (await c.call<number>("alpha", "counter", "get")) > before, "the counter to go on");
  await c.stop("alpha", "SIGTERM");
  assert.match(c.logs.alpha ?? "", /node alpha stopped/);
});

faults("a constructor that never returns fails that process only; rm removes it; SIGTERM ends the daemon", async () => {
  const c = await cluster({ counter: "module: Tally, node: alpha", wedged: "module: Wedged, node: alpha" }, { stallMs: 1000, executors: 1 });
  const wedged = await until(async () => { const p = await find(c, "wedged"); return p?.state === "failed" && p; }, "wedged failed", 30000, 100);
  assert.match(wedged.error ?? "", /did not yield/);
  await until(async () => (await find(c, "counter"))?.state === "running", "the counter running");
  const rm = await c.cli(["rm", "wedged"]);
  assert.is(rm.code, 0, rm.stderr);
  await until(async () => (await find(c, "wedged")) === undefined, "wedged gone from ps");
  await c.stop("alpha", "SIGTERM");
  assert.match(c.logs.alpha ?? "", /node alpha stopped/);
});

faults("a process flooding console.log is rate-limited, and says how much it dropped", async () => {
  const c = await cluster({ flood: "module: Flooder, node: alpha" });
  await until(async () => (await c.call<number>("alpha", "flood", "get")) >= 100_000, "the flood to be written", 60000, 100);
  await until(() => /lines dropped/.test(c.logs.alpha ?? ""), "a note of dropped lines");
  assert.ok((c.logs.alpha ?? "").length < 5_000_000, `the daemon printed ${(c.logs.alpha ?? "").length} bytes`);
});

const flips = suite("calls during rapid moves");
let f: TestCluster;
flips.before(async () => {
  f = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], processes: { t: "module: Tally, node: alpha" } });
  await f.start("alpha");
  await f.start("beta");
  await f.waitRunningOn("t", "alpha");
});
flips.after(async () => f.close());

flips("during 200 edits flipping a process between two nodes, every call is answered or told to retry, never 'unknown error'", async () => {
  let stop = false;
  const failures: string[] = [];
  let answered = 0;
  const caller = (async () => {
    while (!stop) {
      for (const node of ["alpha", "beta"]) {
        try {
          await f.client(node).post("call", { name: "t", method: "note", args: [String(answered)] }, { timeoutMs: 10000 });
          answered++;
        } catch (error) {
          if (!isFerryError(error) || (!error.retryable && error.code !== "process_not_found")) failures.push(String((error as Error).message));
        }
      }
    }
  })();
  for (let i = 0; i < 200; i++) {
    f.writeConfig({ t: `module: Tally, node: ${i % 2 ? "alpha" : "beta"}` });
    await until(async () => (await f.post<ProcessInfo[]>(i % 2 ? "alpha" : "beta", "ps", {})).some((p) => p.name === "t" && p.desired === (i % 2 ? "alpha" : "beta")), "the edit to be read", 10000, 2);
  }
  const last = await f.waitRunningOn("t", "alpha", 30000);
  stop = true;
  await caller;
  assert.equal(failures, []);
  assert.ok(answered > 0);
  const history = await f.call<string[]>("alpha", "t", "history");
  assert.is(history.length, answered, "a call was lost or delivered twice");
  assert.ok(last.generation >= 1);
});

faults.run();
flips.run();
