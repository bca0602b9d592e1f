// One cluster, three Node.js release lines: alpha's daemon runs on the Node that runs the tests
// (20), beta's on Node 22 and gamma's on Node 24, each started with the command line `ferry up`
// uses. TypeScript processes load on each (through Ferry's loader, where Node 22 and 24 also
// strip types themselves), state and file streams move between them, and the CLI run by each
// release drives the cluster.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { TestCluster, repo, shuffledAlphabet, until } from "../helpers/cluster.ts";
import { nodeBinary, otherNodeReleases } from "../helpers/node-releases.ts";
import type { NodeStatus, ProcessInfo } from "../../schemas/api.schema.ts";

const [node22, node24] = otherNodeReleases;
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;
const ALL_TRUE = { map: true, set: true, date: true, big: true, bytes: true, cycle: true };

let c: TestCluster;
let binaries: Record<string, string>;
const placed: Record<string, string> = {};

function place(name: string, spec: string): void {
  placed[name] = spec;
  c.writeConfig(placed);
}

const releases = suite("a cluster of daemons on Node 20, 22 and 24");

releases.before(async () => {
  const [b22, b24] = await Promise.all([nodeBinary(node22), nodeBinary(node24)]);
  binaries = { beta: b22, gamma: b24 };
  c = await TestCluster.create({
    nodes: ["alpha", "beta", "gamma"],
    modules: ["Rich"],
    nodeBinaries: binaries,
    settings: { checkpointIntervalMs: 200, handoffTimeoutMs: 20000 },
  });
  // The demo as users have it: its streams come from "ferry/sdk".
  writeFileSync(join(c.dir, "processes/AlphabetSorter.ts"), readFileSync(join(repo, "processes/AlphabetSorter.ts"), "utf8"));
  mkdirSync(join(c.dir, "data"));
  place("rich", "module: Rich, node: alpha");
  await Promise.all(["alpha", "beta", "gamma"].map((n) => c.start(n)));
  await c.waitRunningOn("rich", "alpha");
});
releases.after(async () => c?.close());

releases("each daemon runs on its release of Node and reports it", async () => {
  const versions = await Promise.all(["alpha", "beta", "gamma"].map(async (n) => (await c.post<NodeStatus>(n, "status", {})).version));
  assert.equal(versions, [process.versions.node, node22, node24]);
});

releases("rich state of a TypeScript process moves 20 → 22 → 24 → 20 intact", async () => {
  for (const [i, node] of ["beta", "gamma", "alpha"].entries()) {
    place("rich", `module: Rich, node: ${node}`);
    const p = await c.waitRunningOn("rich", node);
    assert.is(p.generation, i + 1);
    assert.equal(await c.call(node, "rich", "check"), ALL_TRUE, `after the hop to ${node}`);
    assert.is(await c.call(node, "rich", "big_"), (2n ** 70n).toString());
  }
});

releases("the sorter's file streams go on across the releases: every line sorted, once", async () => {
  const lines = Array.from({ length: 40 }, shuffledAlphabet);
  writeFileSync(join(c.dir, "data/in.txt"), lines.join("\n") + "\n");
  const output = () => (existsSync(join(c.dir, "data/out.txt")) ? readFileSync(join(c.dir, "data/out.txt"), "utf8").split("\n").filter(Boolean) : []);
  const spec = (node: string) => `module: AlphabetSorter, node: ${node}, args: ["data/in.txt", "data/out.txt", "20"]`;
  place("sorter", spec("alpha"));
  let written = 0;
  for (const node of ["beta", "gamma", "alpha", "gamma"]) {
    // Each move happens mid-run: a few more lines were written where it ran before.
    written = await until(() => (output().length >= written + 3 ? output().length : 0), `${written + 3} sorted lines`, 20000);
    place("sorter", spec(node));
    await until(async () => (await c.ps()).some((p) => p.name === "sorter" && p.node === node && ["running", "completed"].includes(p.state)), `sorter on ${node}`, 20000);
  }
  await until(async () => (await c.ps()).some((p) => p.name === "sorter" && p.state === "completed"), "the sorter to complete", 30000);
  const sorted = lines.map((l) => [...l].sort().join(""));
  assert.equal(output(), sorted, "a line was lost, written twice or out of order");
});

for (const [node, release] of [["beta", node22], ["gamma", node24]] as const) {
  releases(`the CLI on Node ${release} answers --version, validates, lists and migrates`, async () => {
    const runtime = { nodeBinary: binaries[node]! };
    const v = await c.cli(["--version"], {}, runtime);
    assert.equal([v.code, v.stdout.trim()], [0, version], v.stderr);
    const valid = await c.cli(["validate"], {}, runtime);
    assert.is(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /is valid: 3 nodes, 2 processes, 2 modules/);
    const from = (await c.ps()).find((p) => p.name === "rich" && p.state === "running")!.node;
    const to = from === node ? "alpha" : node;
    const moved = await c.cli(["migrate", "rich", to], {}, runtime);
    assert.is(moved.code, 0, moved.stderr);
    await c.waitRunningOn("rich", to);
    const ps = await c.cli(["ps", "--json"], {}, runtime);
    assert.is(ps.code, 0, ps.stderr);
    const rich = (JSON.parse(ps.stdout) as ProcessInfo[]).find((p) => p.name === "rich");
    assert.equal([rich?.node, rich?.state], [to, "running"]);
    assert.equal(await c.call(to, "rich", "check"), ALL_TRUE);
  });
}

releases("the lazy web classes pass their unit tests on 22 and 24, where a global cannot be watched", async () => {
  for (const node of ["beta", "gamma"]) {
    const run = spawnSync(binaries[node]!, ["--import", "tsx", "test/daemon/api/plain-headers.test.ts"], { cwd: repo, encoding: "utf8", timeout: 60_000 });
    assert.is(run.status, 0, `${node}: ${run.stdout}${run.stderr}`);
  }
});

releases.run();
