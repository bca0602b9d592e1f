/**
 * Multi-machine mode under faults: code that exists on one machine only, a machine frozen past
 * its lease, an etcd member lost, etcd down altogether.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { clusterYaml, type Layout, type Machine, Machines } from "../helpers/machines.ts";
import { until } from "../helpers/cluster.ts";
import type { NodeStatus, ProcessInfo } from "../../schemas/api.schema.ts";

function config(layout: Layout, processes: Record<string, string>): string {
  return clusterYaml(layout, {
    settings: { store: { etcd: layout.etcd }, checkpointIntervalMs: 200, balancer: { intervalMs: 200, goneAfterMs: 2000, minStayMs: 600000 } },
    processes,
  });
}


const call = async (m: Machine, name: string, method: string, args: string[] = []) => (await m.client().post("call", { name, method, args })).value;

// ------------------------------------------------------------------------------------------------

const code = suite("code travels");
let lab: Machines;
// Ferry's file streams by the SDK's name, resolved by each machine's own install.
const greeter = `import { greet } from "./greeting.ts";
import { TransactionalFileWriter } from "ferry/sdk";
interface Ctx { signal: AbortSignal; sleep(ms: number): Promise<void> }
export default class Greeter {
  said = 0;
  log?: TransactionalFileWriter;
  constructor(_args: string[]) {}
  async run(ctx: Ctx) { while (!ctx.signal.aborted) { this.said++; await ctx.sleep(20); } }
  hello(args: string[]) { return greet(args[0] ?? "you") + " #" + this.said; }
  streams() { return typeof TransactionalFileWriter; }
}
`;

code.before(async () => {
  lab = await Machines.create({
    machines: [
      { node: "alpha", files: { "processes/Greeter.ts": greeter, "processes/greeting.ts": "export const greet = (who: string) => `hello, ${who}`;\n" } },
      { node: "beta" },
    ],
    etcd: { members: 1 },
    config: (layout) => config(layout, { g: "module: Greeter, node: alpha" }),
  });
  await lab.startAll();
  await lab.runsOn("g", "alpha");
});
code.after(async () => lab.close());

code("an edit on the machine that has a module moves its process to one that lacks it: the code travels, verified by its hash", async () => {
  const [alpha, beta] = [lab.machine("alpha"), lab.machine("beta")];
  const before = (await call(alpha, "g", "hello", ["beta"])) as string;
  const migrate = await alpha.cli(["migrate", "g", "beta"]);
  assert.is(migrate.code, 0, migrate.stderr);
  await lab.runsOn("g", "beta");
  const after = (await call(beta, "g", "hello", ["beta"])) as string;
  assert.match(after, /^hello, beta #\d+$/);
  assert.ok(Number(after.split("#")[1]) >= Number(before.split("#")[1]), `the count went back: ${before} → ${after}`);
  assert.is(await call(beta, "g", "streams"), "function", "the SDK import resolved to beta's install");
  assert.not.match(readFileSync(join(beta.dir, "cluster.yaml"), "utf8"), /Greeter\.ts/);
  const status = await beta.post<NodeStatus>("status", {});
  assert.not.ok(status.modules.some((m) => m.name === "Greeter"), "beta's processes/ folder gained a module");
});

// ------------------------------------------------------------------------------------------------

const frozen = suite("a machine frozen past its lease");
let lab2: Machines;
let steps = "";

frozen.before(async () => {
  steps = join(tmpdir(), `ferry-steps-${process.pid}-${Date.now()}.log`);
  writeFileSync(steps, "");
  lab2 = await Machines.create({
    machines: [{ node: "alpha", modules: ["Stepper"] }, { node: "beta", modules: ["Stepper"] }],
    etcd: { members: 1 },
    config: (layout) => config(layout, { s: `module: Stepper, args: ["${steps}"]` }),
  });
  await lab2.startAll();
});
frozen.after(async () => lab2.close());

frozen("woken after another machine adopted its process, it runs no step of its stale copy", async () => {
  const holder = await until(async () => (await lab2.ps()).find((p) => p.name === "s" && p.state === "running"), "s running");
  const victim = lab2.machine(holder.node);
  const other = lab2.all.find((m) => m !== victim)!;
  await victim.pause();
  let adopted: ProcessInfo;
  try {
    adopted = await until(async () => (await other.post<ProcessInfo[]>("ps", {})).find((p) => p.name === "s" && p.state === "running" && p.generation > holder.generation), "s adopted", 30000, 100);
    await until(() => readFileSync(steps, "utf8").split("\n").filter((l) => l.startsWith(`${adopted.generation} `)).length >= 5, "the adopted copy to take steps");
  } finally {
    await victim.resume();
  }
  await until(async () => !(await victim.post<ProcessInfo[]>("ps", {})).some((p) => p.name === "s"), "the woken machine to drop its copy", 20000);
  const lines = readFileSync(steps, "utf8").trim().split("\n");
  const first = lines.findIndex((l) => Number(l.split(" ")[0]) === adopted.generation);
  assert.equal(lines.slice(first).filter((l) => Number(l.split(" ")[0]) < adopted.generation), []);
});

// ------------------------------------------------------------------------------------------------

const quorum = suite("etcd members lost");
let lab3: Machines;

quorum.before(async () => {
  lab3 = await Machines.create({
    machines: [{ node: "alpha", modules: ["Tally"] }, { node: "beta", modules: ["Tally"] }],
    etcd: { members: 3 },
    config: (layout) => config(layout, { c: "module: Tally, node: alpha" }),
  });
  await lab3.startAll();
  await lab3.runsOn("c", "alpha");
});
quorum.after(async () => lab3.close());

quorum("one of three etcd members killed: migrations go on", async () => {
  await lab3.etcd!.kill(0);
  await lab3.etcd!.waitHealthy();
  for (const to of ["beta", "alpha"]) {
    const migrate = await lab3.machine("alpha").cli(["migrate", "c", to]);
    assert.is(migrate.code, 0, migrate.stderr);
    await lab3.runsOn("c", to);
  }
});

quorum("etcd down altogether: running processes keep running, no migration starts, and it recovers when etcd returns", async () => {
  const [alpha, beta] = [lab3.machine("alpha"), lab3.machine("beta")];
  await call(alpha, "c", "note", ["before the outage"]);
  await lab3.etcd!.pause();
  try {
    await until(async () => {
      const answers = await Promise.all([alpha, beta].map((m) => m.client().post("liveness", {})));
      return answers.every((a) => !a.storeReachable);
    }, "both machines to notice", 20000);
    // Two and a half leases without the store: the counter must keep counting all along.
    const start = (await call(alpha, "c", "get")) as number;
    await until(async () => ((await call(alpha, "c", "get")) as number) > start + 250, "the counter to run for 2.5 leases", 30000, 100);
    const refused = await alpha.cli(["migrate", "c", "beta", "--no-wait"]);
    assert.is.not(refused.code, 0, "a migration was accepted while etcd was down");
    assert.match(refused.stderr, /Cannot publish|did not answer|unavailable/i);
    assert.ok((await lab3.ps()).some((p) => p.name === "c" && p.node === "alpha" && p.state === "running"));
  } finally {
    await lab3.etcd!.resume();
  }
  // The edit waiting in alpha's file is published once etcd answers, and c moves with its state.
  await lab3.runsOn("c", "beta", 40000);
  assert.equal(await call(beta, "c", "history"), ["before the outage"]);
});

code.run();
frozen.run();
quorum.run();
