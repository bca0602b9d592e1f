/**
 * `node --import tsx bench/profile-handoff.ts [n]`: where a small hand-off's downtime goes. Two
 * nodes in this process (real node state, executors, journals; requests through the API handler
 * without sockets) move a 1 KiB process back and forth; the trace marks of both nodes share one
 * clock, so each step's median duration is the gap to the next mark.
 * @module
 */
import process from "node:process";
import { InProcessCluster } from "../test/helpers/in-process.ts";
import { until } from "../test/helpers/cluster.ts";

const n = Number(process.argv[2] ?? 40);
const c = await InProcessCluster.create({ nodes: ["alpha", "beta"], modules: ["Heavy"], settings: { checkpointIntervalMs: 60000 }, processes: { p: `module: Heavy, node: alpha, args: ["0.0009765625"]` } });
await c.start("alpha");
await c.start("beta");
await until(async () => (await c.client("alpha").post("locate", { name: "p" })).state === "running", "p running").catch((e) => { console.log(c.logs.join("\n")); throw e; });
const gaps = new Map<string, number[]>();
const downtimes: number[] = [];
for (let i = 0; i < n; i++) {
  const to = i % 2 ? "alpha" : "beta";
  for (const node of c.nodes.values()) node.state.trace.clear();
  c.writeConfig({ p: `module: Heavy, node: ${to}, args: ["0.0009765625"]` });
  await c.applyConfig();
  await until(async () => (await c.client(to).post("ps", {})).some((p) => p.name === "p" && p.state === "running"), "moved", 10000, 1);
  const info = (await c.client(to).post("ps", {})).find((p) => p.name === "p")!;
  downtimes.push(info.lastDowntimeMs ?? NaN);
  const marks = [...c.nodes.values()].flatMap((node) => node.state.trace.of("p")).sort((a, b) => a.at - b.at);
  for (let k = 0; k + 1 < marks.length; k++) {
    const label = `${marks[k]!.node === to ? "dest" : "src "} ${marks[k]!.room}: ${marks[k]!.step}`;
    (gaps.get(label) ?? gaps.set(label, []).get(label)!).push(marks[k + 1]!.at - marks[k]!.at);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [label, xs] of gaps) console.log(`${label.padEnd(48)} ${med(xs).toFixed(3)} ms`);
console.log(`downtime p50 ${med(downtimes).toFixed(3)} ms`);
await c.close();
