/**
 * `npm run bench`: measures hand-off downtime, throughput, latency and memory against real
 * daemons on loopback, prints a table and writes JSON (bench/results/latest.json). Not part of
 * the test run: timings belong here, where a loaded machine skews a report rather than failing CI.
 *
 * `npm run bench -- --quick` runs fewer iterations and skips the 10,000-process case.
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { repo, sleep, TestCluster, until } from "../test/helpers/cluster.ts";
import { counterSource } from "../test/helpers/modules.ts";
import type { FerryEvent, ProcessInfo } from "../schemas/api.schema.ts";

const quick = process.argv.includes("--quick");
const MiB = 1024 * 1024;

interface Row {
  metric: string;
  value: number;
  unit: string;
  target?: string;
  ok?: boolean;
}
const rows: Row[] = [];
function report(metric: string, value: number, unit: string, target?: { op: "<=" | ">="; limit: number }): void {
  const ok = target ? (target.op === "<=" ? value <= target.limit : value >= target.limit) : undefined;
  rows.push({ metric, value: Math.round(value * 1000) / 1000, unit, ...(target ? { target: `${target.op} ${target.limit}`, ok } : {}) });
  console.error(`  ${metric}: ${value.toFixed(3)} ${unit}`);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** Resident memory and its high-water mark of a daemon, from /proc. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}
/** Resets VmHWM so the next reading is the peak from now on (Linux, needs permission). */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // without permission the peak is the lifetime peak: an upper bound
  }
}
const pidOf = (c: TestCluster, node: string) => c.children.get(node)!.pid!;

async function moveAndWait(c: TestCluster, specOf: (node: string) => Record<string, string>, name: string, to: string, timeoutMs = 120000): Promise<ProcessInfo> {
  c.writeConfig(specOf(to));
  await c.post(to, "reconcile", { names: [name], reload: true });
  return c.waitRunningOn(name, to, timeoutMs);
}

async function smallHandoffs(): Promise<void> {
  console.error("1 KiB state: hand-off downtime");
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Heavy"], settings: { checkpointIntervalMs: 60000 } });
  try {
    const spec = (n: string) => ({ p: `module: Heavy, node: ${n}, args: ["0.0009765625"]` });
    c.writeConfig(spec("alpha"));
    await Promise.all(["alpha", "beta"].map((n) => c.start(n)));
    await c.waitRunningOn("p", "alpha");
    const downtimes: number[] = [];
    const n = quick ? 30 : 100;
    for (let i = 0; i < n; i++) {
      const info = await moveAndWait(c, spec, "p", i % 2 ? "alpha" : "beta");
      downtimes.push(info.lastDowntimeMs!);
      await sleep(150); // let the daemons' own config reloads settle between samples
    }
    report("1 KiB hand-off downtime p50", pct(downtimes, 50), "ms", { op: "<=", limit: 2 });
    report("1 KiB hand-off downtime p99", pct(downtimes, 99), "ms", { op: "<=", limit: 20 });

    console.error("hand edit of cluster.yaml → running elsewhere");
    const edits: number[] = [];
    for (let i = 0; i < (quick ? 10 : 30); i++) {
      const to = i % 2 ? "alpha" : "beta";
      const t0 = performance.now();
      c.writeConfig(spec(to));
      await until(async () => (await c.post<{ holds: boolean; state?: string }>(to, "locate", { name: "p" })).state === "running", "moved", 30000, 1);
      edits.push(performance.now() - t0);
      await sleep(150);
    }
    report("hand edit → running elsewhere p50", pct(edits, 50), "ms", { op: "<=", limit: 150 });

    console.error("ferry migrate → running elsewhere");
    const migrates: number[] = [];
    for (let i = 0; i < (quick ? 6 : 20); i++) {
      const to = i % 2 ? "alpha" : "beta";
      const r = await c.cli(["migrate", "p", to, "--json"]);
      if (r.code !== 0) throw new Error(`ferry migrate failed: ${r.stderr}`);
      migrates.push((JSON.parse(r.stdout) as { ms: number }).ms);
      await sleep(150);
    }
    report("ferry migrate → running elsewhere p50", pct(migrates, 50), "ms", { op: "<=", limit: 6 });
  } finally {
    await c.close();
  }
}

async function largeHandoff(mib: number): Promise<void> {
  console.error(`${mib} MiB state: downtime, throughput, peak extra memory`);
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Heavy"], settings: { checkpointIntervalMs: 3600000, handoffTimeoutMs: 120000 } });
  try {
    const spec = (n: string) => ({ big: `module: Heavy, node: ${n}, args: ["${mib}"]` });
    c.writeConfig(spec("alpha"));
    await Promise.all(["alpha", "beta"].map((n) => c.start(n)));
    await c.waitRunningOn("big", "alpha", 60000);
    await sleep(500);
    const before = { alpha: memory(pidOf(c, "alpha")).rss, beta: memory(pidOf(c, "beta")).rss };
    resetPeak(pidOf(c, "alpha"));
    resetPeak(pidOf(c, "beta"));
    const info = await moveAndWait(c, spec, "big", "beta");
    const peak = { alpha: memory(pidOf(c, "alpha")).hwm, beta: memory(pidOf(c, "beta")).hwm };
    const extra = Math.max(peak.alpha - before.alpha, 0) + Math.max(peak.beta - before.beta, 0);
    const verify = await c.call<number>("beta", "big", "verify");
    if (verify !== mib * MiB) throw new Error("state arrived damaged");
    report(`${mib} MiB hand-off downtime`, info.lastDowntimeMs!, "ms", mib === 256 ? { op: "<=", limit: 1500 } : undefined);
    report(`${mib} MiB throughput`, (info.lastTransferBytes! / MiB) / (info.lastDowntimeMs! / 1000), "MB/s");
    report(`${mib} MiB peak extra memory (both daemons)`, extra / (mib * MiB), "× state", mib === 256 ? { op: "<=", limit: 2 } : undefined);
  } finally {
    await c.close();
  }
}

async function manyProcesses(): Promise<void> {
  console.error("1,000 processes moved by one edit");
  const N = 1000;
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Idle"], settings: { checkpointIntervalMs: 60000 } });
  try {
    const all = (node: string) => Object.fromEntries(Array.from({ length: N }, (_, i) => [`p${i}`, `module: Idle, node: ${node}`]));
    c.writeConfig(all("alpha"));
    await Promise.all(["alpha", "beta"].map((n) => c.start(n)));
    await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === N, "all running", 120000, 100);
    await sleep(1000);
    report("RSS of a daemon with 1,000 idle processes", memory(pidOf(c, "alpha")).rss / MiB, "MiB");
    const t0 = performance.now();
    c.writeConfig(all("beta"));
    await c.post("beta", "reconcile", { reload: true });
    await until(async () => (await c.post<ProcessInfo[]>("beta", "ps", {})).filter((p) => p.state === "running").length === N, "all moved", 120000, 20);
    report("1,000 processes moved by one edit", (performance.now() - t0) / 1000, "s", { op: "<=", limit: 2 });
  } finally {
    await c.close();
  }
}

async function idleMemory(n: number): Promise<void> {
  console.error(`${n} idle processes on one daemon`);
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Idle"], settings: { checkpointIntervalMs: 60000 } });
  try {
    c.writeConfig(Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, "module: Idle, node: alpha"])));
    const t0 = performance.now();
    await c.start("alpha");
    await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === n, "all running", 300000, 500);
    report(`start ${n} processes`, (performance.now() - t0) / 1000, "s");
    await sleep(2000);
    const rss = memory(pidOf(c, "alpha")).rss;
    report(`RSS of a daemon with ${n} idle processes`, rss / MiB, "MiB", n === 10000 ? { op: "<=", limit: 1024 } : undefined);
    report(`RSS per idle process (${n})`, rss / n / 1024, "KiB");
  } finally {
    await c.close();
  }
}

/**
 * Hot upgrade: the downtime of each process's swap onto a new version of its module (suspend,
 * restore into the new class, upgrade(), resume()), from the daemons' `upgraded` events.
 */
async function upgradeSwap(): Promise<void> {
  const n = quick ? 10 : 50;
  const rounds = quick ? 3 : 10;
  console.error(`hot upgrade: ${n} processes, ${rounds} new versions`);
  const c = await TestCluster.create({ nodes: ["alpha"], modules: [], settings: { checkpointIntervalMs: 60000 } });
  const file = join(c.dir, "processes/Swap.ts");
  const source = (round: number) => counterSource(`r${round}`, "upgrade(_from: string) {}").replace("class Ticker", "class Swap");
  try {
    writeFileSync(file, source(0));
    c.writeConfig(Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, "module: Swap, node: alpha"])));
    await c.start("alpha");
    await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === n, "all running", 120000, 100);
    const upgraded = async () => {
      const res = await fetch(`${c.url("alpha")}/v1/events`, { headers: { authorization: "Bearer test-secret" } });
      return (await res.text()).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as FerryEvent).filter((e) => e.type === "upgraded" && e.ms !== undefined);
    };
    for (let round = 1; round <= rounds; round++) {
      writeFileSync(file, source(round));
      await until(async () => (await upgraded()).length >= n * round, `round ${round} upgraded`, 120000, 50);
    }
    const swaps = (await upgraded()).map((e) => e.ms!);
    report("upgrade swap downtime p50", pct(swaps, 50), "ms");
    report("upgrade swap downtime p99", pct(swaps, 99), "ms");
  } finally {
    await c.close();
  }
}

function machine(): Record<string, string | number> {
  return { node: process.version, cpus: (readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm) ?? []).length, date: new Date().toISOString() };
}

async function main(): Promise<void> {
  await smallHandoffs();
  await largeHandoff(64);
  await largeHandoff(256);
  await manyProcesses();
  await upgradeSwap();
  if (!quick) await idleMemory(10000);
  const width = Math.max(...rows.map((r) => r.metric.length));
  console.log(`${"metric".padEnd(width)}  ${"value".padStart(10)}  unit      target     met`);
  for (const r of rows) {
    console.log(`${r.metric.padEnd(width)}  ${String(r.value).padStart(10)}  ${r.unit.padEnd(8)}  ${(r.target ?? "").padEnd(9)}  ${r.ok === undefined ? "" : r.ok ? "yes" : "NO"}`);
  }
  const result = { machine: machine(), rows };
  mkdirSync(join(repo, "bench/results"), { recursive: true });
  writeFileSync(join(repo, "bench/results/latest.json"), JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result));
}

await main();
