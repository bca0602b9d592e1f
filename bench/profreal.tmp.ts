import process from "node:process";
import { sleep, TestCluster } from "/work/wt-core/test/helpers/cluster.ts";
process.env.FERRY_PROFILE = "1";
const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Heavy"], settings: { checkpointIntervalMs: 60000 } });
const spec = (n: string) => ({ p: `module: Heavy, node: ${n}, args: ["0.0009765625"]` });
c.writeConfig(spec("alpha"));
await Promise.all(["alpha", "beta"].map((n) => c.start(n)));
await c.waitRunningOn("p", "alpha");
const downs: number[] = [];
for (let i = 0; i < 30; i++) {
  const to = i % 2 ? "alpha" : "beta";
  c.writeConfig(spec(to));
  await c.post(to, "reconcile", { names: ["p"], reload: true });
  const info = await c.waitRunningOn("p", to, 10000);
  downs.push(info.lastDowntimeMs!);
  await sleep(150);
}
console.log(Object.values(c.logs).join("\n").split("\n").filter((l) => l.includes("COMMITERR") || l.includes("rror")).slice(-40).join("\n"));
const lines = Object.values(c.logs).join("\n").split("\n").filter((l) => l.includes("PROF "));
await c.close();
const marks = lines.map((l) => { const m = /PROF (\S+) (\S+) (.*)$/.exec(l)!; return { at: Number(m[1]), node: m[2]!, step: m[3]! }; }).sort((a, b) => a.at - b.at);
// split into moves at "config: changed" of the first node seen after a gap of >100ms
const gaps = new Map<string, number[]>();
for (let k = 0; k + 1 < marks.length; k++) {
  const d = marks[k + 1]!.at - marks[k]!.at;
  if (d > 100) continue;
  const label = `${marks[k]!.node} ${marks[k]!.step} → ${marks[k + 1]!.node} ${marks[k + 1]!.step}`;
  (gaps.get(label) ?? gaps.set(label, []).get(label)!).push(d);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [label, xs] of gaps) if (xs.length >= 5) console.log(`${label.padEnd(90)} n=${xs.length} ${med(xs).toFixed(3)}`);
console.log("downtime p50", med(downs));
const cut = marks.findIndex((m, i) => i > 40 && m.step.includes("request-status"));
for (const m of marks.slice(Math.max(0, cut - 25), cut + 6)) console.log("SEQ", m.at.toFixed(3), m.node, m.step);
