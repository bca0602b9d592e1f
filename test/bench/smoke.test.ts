import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repo } from "../helpers/cluster.ts";

// The benchmark is run by hand, so a change that breaks one of its sections would otherwise go
// unnoticed until someone needs its figures. At toy sizes it proves every section still runs
// against real daemons and reports what bench/results/latest.json promises.
const bench = suite("bench");

/** Every key a full run writes (README, "Benchmark"), the ones other tools read among them. */
const KEYS = [
  "floor.httpRttP50Ms",
  "floor.httpRttCrossProcessP50Ms",
  "floor.fsyncP50Ms",
  "floor.workerRttP50Ms",
  "floor.smallHandoffCriticalPathMs",
  "floor.spaced.httpRttCrossProcessP50Ms",
  "floor.spaced.fsyncP50Ms",
  "floor.spaced.workerRttP50Ms",
  "floor.spaced.smallHandoffCriticalPathMs",
  "startup.node.floorP50Ms",
  "startup.node.versionP50Ms",
  "startup.node.validateP50Ms",
  "startup.node.psP50Ms",
  "startup.deno.floorP50Ms",
  "startup.deno.versionP50Ms",
  "startup.deno.psP50Ms",
  "idle1.rssMiB",
  "idle100.rssMiB",
  "downtime1KiB.p50Ms",
  "downtime1KiB.p99Ms",
  "editToRunning.p50Ms",
  "cliMigrateWall.p50Ms",
  "state256MiB.downtimeMs",
  "state256MiB.peakExtraMemoryRatio",
  "checkpoint256MiB.firstStallMs",
  "checkpoint256MiB.longestStallMs",
  "precopy256MiB.longestStallMs",
  "precopy256MiB.downtimeMs",
  "moves1000.totalMs",
  "idle10000.rssMiB",
];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repo, "bench/main.ts"), ...args], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

bench("every section runs at toy sizes and reports every key of a full run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-bench-smoke-"));
  try {
    const file = join(dir, "out.json");
    const r = await run(["--smoke", `--out=${file}`]);
    assert.is(r.code, 0, `the benchmark failed:\n${r.stderr.slice(-2000)}`);
    const result = JSON.parse(readFileSync(file, "utf8")) as { smoke?: boolean; keys: Record<string, number | null>; rows: { metric: string; value: number }[] };
    assert.is(result.smoke, true, "a smoke run says so in what it writes");
    assert.equal(Object.keys(result.keys).sort(), [...KEYS].sort());
    for (const key of KEYS) {
      const value = result.keys[key];
      assert.ok(typeof value === "number" && Number.isFinite(value) && value >= 0, `${key} is ${value}`);
    }
    // Downtimes are measured, not defaulted: a hand-off always takes some time.
    for (const key of ["downtime1KiB.p50Ms", "state256MiB.downtimeMs", "precopy256MiB.downtimeMs", "moves1000.totalMs", "cliMigrateWall.p50Ms"]) {
      assert.ok(result.keys[key]! > 0, `${key} is ${result.keys[key]}`);
    }
    assert.ok(result.rows.every((row) => Number.isFinite(row.value)), "every row of the table has a figure");
    assert.match(r.stdout, /^metric\s+value\s+unit/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

bench.run();
