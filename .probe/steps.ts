import { InProcessCluster } from "../test/helpers/in-process.ts";
import { until } from "../test/helpers/cluster.ts";
const c = await InProcessCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], processes: { t: "module: Tally, node: alpha" } });
await c.start("alpha");
await c.start("beta");
await until(async () => (await c.client("alpha").post("locate", { name: "t" })).state === "running", "t running");
const gaps = new Map<string, number[]>();
const downs: number[] = [];
for (let i = 0; i < 30; i++) {
  const to = i % 2 ? "alpha" : "beta";
  for (const node of c.nodes.values()) node.state.trace.clear();
  c.writeConfig({ t: `module: Tally, node: ${to}` });
  await c.applyConfig();
  await until(async () => (await c.client(to).post("ps", {})).some((p) => p.name === "t" && p.state === "running" && p.node === to), "moved");
  const info = (await c.client(to).post("ps", {})).find((p) => p.name === "t")!;
  downs.push(info.lastDowntimeMs!);
  const marks = [...c.nodes.values()].flatMap((n) => n.state.trace.of("t")).sort((a, b) => a.at - b.at);
  for (let k = 1; k < marks.length; k++) {
    const key = `${marks[k - 1]!.step} -> ${marks[k]!.step}`;
    (gaps.get(key) ?? gaps.set(key, []).get(key)!).push(marks[k]!.at - marks[k - 1]!.at);
  }
  await new Promise((r) => setTimeout(r, 50));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, v] of gaps) console.log(med(v).toFixed(2).padStart(8), k);
console.log("downtime p50", med(downs));
await c.close();
