/**
 * Self-fencing: a node frozen (SIGSTOP) for longer than its lease has its unpinned processes
 * adopted elsewhere; once it wakes (SIGCONT) its stale copies must not take a single step.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const fencing = suite("self-fencing of a frozen node");
let c: TestCluster;
let file: string;

fencing.before(async () => {
  c = await TestCluster.create({
    nodes: ["alpha", "beta"],
    modules: ["Stepper"],
    settings: { checkpointIntervalMs: 200, balancer: { intervalMs: 200, goneAfterMs: 1500, minStayMs: 60000 } },
  });
  file = join(c.dir, "steps.log");
  writeFileSync(file, "");
  c.writeConfig({ s: `module: Stepper, args: ["${file}"]` });
  await c.start("alpha");
  await c.start("beta");
});
fencing.after(async () => c.close());

/** Lines written after the first line of `generation`, by an older generation. */
function staleSteps(generation: number): string[] {
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const first = lines.findIndex((l) => Number(l.split(" ")[0]) === generation);
  if (first < 0) return [];
  return lines.slice(first).filter((l) => Number(l.split(" ")[0]) < generation);
}

for (let round = 1; round <= 3; round++) {
  fencing(`round ${round}: the woken node runs no step of the adopted process`, async () => {
    const holder = await until(async () => (await c.ps()).find((p: ProcessInfo) => p.name === "s" && p.state === "running"), "s running");
    const other = holder.node === "alpha" ? "beta" : "alpha";
    const child = c.children.get(holder.node)!;
    child.kill("SIGSTOP");
    try {
      const adopted = await until(async () => {
        const p = (await c.post<ProcessInfo[]>(other, "ps", {})).find((q) => q.name === "s" && q.state === "running");
        return p && p.generation > holder.generation && p;
      }, `s adopted by ${other}`, 30000, 100);
      // The adopter has run it for a while before the frozen node wakes.
      await until(() => readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith(`${adopted.generation} `)).length >= 5, "the adopted copy to take steps");
    } finally {
      child.kill("SIGCONT");
    }
    await until(async () => !(await c.post<ProcessInfo[]>(holder.node, "ps", {})).some((p) => p.name === "s"), `${holder.node} to drop its fenced copy`, 15000);
    const running = (await c.ps()).filter((p) => p.name === "s" && p.state === "running");
    assert.equal(running.map((p) => p.node), [other]);
    assert.equal(staleSteps(running[0]!.generation), []);
    const fenced = [];
    for await (const e of c.client(holder.node).events(false)) if (e.type === "fenced" && e.process === "s" && e.generation === holder.generation) fenced.push(e);
    assert.is(fenced.length, 1, `${holder.node} did not record its fence once`);
  });
}

fencing.run();
