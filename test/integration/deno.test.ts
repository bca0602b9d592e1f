// One cluster, two runtimes: alpha's daemon runs on Node, beta's on Deno (`runtime: deno` in
// cluster.yaml; started with the command line `ferry up` uses). Processes and their state move
// between them both ways, the CLI run by Deno (`deno run -A cli/main.ts`) drives Node daemons,
// and a Deno source whose destination disconnects mid-transfer rolls back at once.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, repo, shuffledAlphabet, until, violations } from "../helpers/cluster.ts";
import type { NodeStatus, ProcessInfo } from "../../schemas/api.schema.ts";

let c: TestCluster;
let locks: string;
/** The processes section of cluster.yaml, rewritten whole on every edit. */
const placed: Record<string, string> = {};

function place(name: string, spec: string): void {
  placed[name] = spec;
  c.writeConfig(placed);
}

const ALL_TRUE = { map: true, set: true, date: true, big: true, bytes: true, cycle: true };

const mixed = suite("a cluster of a Node and a Deno daemon");

mixed.before(async () => {
  c = await TestCluster.create({
    nodes: ["alpha", "beta"],
    runtimes: { alpha: "node", beta: "deno" },
    settings: { checkpointIntervalMs: 300, handoffTimeoutMs: 20000 },
  });
  locks = join(c.dir, "locks");
  mkdirSync(locks);
  mkdirSync(join(c.dir, "data"));
  place("rich", "module: Rich, node: alpha");
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("rich", "alpha");
});
mixed.after(async () => c.close());

mixed("each daemon reports the runtime it runs on, and `ferry status` shows it", async () => {
  const alpha = await c.post<NodeStatus>("alpha", "status", {});
  const beta = await c.post<NodeStatus>("beta", "status", {});
  assert.equal([alpha.runtime, alpha.version], ["node", process.versions.node]);
  assert.is(beta.runtime, "deno");
  assert.match(beta.version, /^2\.\d+\.\d+/);
  const status = await c.cli(["status", "--json"]);
  assert.is(status.code, 0, status.stderr);
  const nodes = (JSON.parse(status.stdout) as { nodes: NodeStatus[] }).nodes;
  assert.equal(nodes.map((n) => [n.node, n.runtime]), [["alpha", "node"], ["beta", "deno"]]);
});

mixed("Map/Set/Date/BigInt/Uint8Array/cyclic state migrates Node → Deno → Node intact", async () => {
  for (const [i, node] of ["beta", "alpha", "beta", "alpha"].entries()) {
    const from = node === "beta" ? "alpha" : "beta";
    const ticks = await c.call<number>(from, "rich", "get_ticks");
    place("rich", `module: Rich, node: ${node}`);
    const p = await c.waitRunningOn("rich", node);
    assert.is(p.generation, i + 1);
    assert.is(p.migrations, i + 1);
    assert.equal(await c.call(node, "rich", "check"), ALL_TRUE, `after the hop to ${node}`);
    assert.is(await c.call(node, "rich", "big_"), (2n ** 70n).toString());
    assert.ok((await c.call<number>(node, "rich", "get_ticks")) >= ticks, "the tick count went back");
  }
});

mixed("the CLI run by Deno lists, calls and migrates processes of Node daemons", async () => {
  const ps = await c.cli(["ps", "--json"], {}, "deno");
  assert.is(ps.code, 0, ps.stderr);
  const rich = (JSON.parse(ps.stdout) as ProcessInfo[]).find((p) => p.name === "rich");
  assert.equal([rich?.node, rich?.desired, rich?.state, rich?.generation], ["alpha", "alpha", "running", 4]);

  const check = await c.cli(["call", "rich", "check", "--json"], {}, "deno");
  assert.is(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout), ALL_TRUE);
  const big = await c.cli(["call", "rich", "big_", "--json"], {}, "deno");
  assert.is(JSON.parse(big.stdout), (2n ** 70n).toString());

  const migrate = await c.cli(["migrate", "rich", "beta"], {}, "deno");
  assert.is(migrate.code, 0, migrate.stderr);
  assert.match(migrate.stdout, /rich: alpha → beta/);
  assert.match(c.readConfig(), /# written by the test harness/, "the YAML edit dropped the comment");
  assert.equal(await c.call("beta", "rich", "check"), ALL_TRUE);
  const back = await c.cli(["migrate", "rich", "alpha"], {}, "deno");
  assert.is(back.code, 0, back.stderr);
  assert.is((await c.waitRunningOn("rich", "alpha")).generation, 6);

  const unknown = await c.cli(["call", "rich", "nope"], {}, "deno");
  assert.is(unknown.code, (await c.cli(["call", "rich", "nope"])).code, "the two CLIs exit differently");
  assert.match(unknown.stderr, /^ferry: .*"nope"/);
});

mixed("AlphabetSorter moves between runtimes mid-run: every line sorted, exactly once", async () => {
  // Copied as it is: "ferry/sdk" resolves to the install's streams on both runtimes.
  writeFileSync(join(c.dir, "processes/AlphabetSorter.ts"), readFileSync(join(repo, "processes/AlphabetSorter.ts"), "utf8"));
  const lines = Array.from({ length: 60 }, shuffledAlphabet);
  writeFileSync(join(c.dir, "data/in.txt"), lines.join("\n") + "\n");
  const spec = (node: string) => `module: AlphabetSorter, node: ${node}, args: ["data/in.txt", "data/out.txt", "50"]`;
  const written = () => (existsSync(join(c.dir, "data/out.txt")) ? readFileSync(join(c.dir, "data/out.txt"), "utf8").split("\n").length - 1 : 0);

  place("sorter", spec("alpha"));
  await c.waitRunningOn("sorter", "alpha");
  let at = await until(() => written(), "a first line on alpha");
  for (const [i, node] of ["beta", "alpha", "beta"].entries()) {
    place("sorter", spec(node));
    assert.is((await c.waitRunningOn("sorter", node)).generation, i + 1);
    at = await until(() => (written() > at ? written() : 0), `a line written on ${node}`);
  }
  assert.ok(at < lines.length, "the run ended before the last migration");
  const done = await until(async () => {
    const held = (await c.ps()).filter((p) => p.name === "sorter");
    return held.length === 1 && held[0]!.state === "completed" ? held[0] : undefined;
  }, "the sorter completed", 20000);
  assert.equal([done.node, done.migrations], ["beta", 3]);
  assert.is(readFileSync(join(c.dir, "data/out.txt"), "utf8"), lines.map((l) => [...l].sort().join("") + "\n").join(""));
  const completions = Object.values(c.logs).join("").split("[sorter] JOB COMPLETED").length - 1;
  assert.is(completions, 1, `JOB COMPLETED logged ${completions} times`);
});

mixed("a Deno source whose destination disconnects mid-transfer rolls back at once, then moves its 32 MiB state to Node", async () => {
  const SIZE = 32 * 1024 * 1024;
  const big = (node: string) => `module: Exclusive, node: ${node}, args: ["${locks}", "${SIZE}"]`;
  await c.stop("beta");
  await c.start("beta", { FERRY_FAULTS: JSON.stringify({ delayPerChunkMs: 100 }) });
  place("big", big("beta"));
  await c.waitRunningOn("big", "beta");
  place("big", big("alpha"));
  await until(async () => (await c.post<ProcessInfo[]>("beta", "ps", {})).find((p) => p.name === "big" && p.state === "migrating"), "big migrating", 10000, 5);
  const killed = Date.now();
  await c.stop("alpha", "SIGKILL");
  // The hand-off timeout is 20 s: a rollback well before it comes from the stream's cancel().
  const p = await until(async () => (await c.post<ProcessInfo[]>("beta", "ps", {})).find((q) => q.name === "big" && q.state === "running" && q.error?.includes("disconnected")), "the rollback on beta", 10000);
  assert.ok(Date.now() - killed < 10000);
  assert.match(p.error ?? "", /rolled back/);
  assert.is(await c.call("beta", "big", "verify"), SIZE);
  await c.start("alpha");
  const moved = await c.waitRunningOn("big", "alpha", 30000);
  assert.is(moved.generation, 1);
  assert.ok(moved.lastTransferBytes! > SIZE);
  assert.is(await c.call("alpha", "big", "verify"), SIZE);
  assert.equal(violations(locks), []);
});

mixed("a 32 MiB state streams from a Node source into a Deno destination intact, its checkpoint there verified", async () => {
  const SIZE = 32 * 1024 * 1024;
  const big = (node: string) => `module: Exclusive, node: ${node}, args: ["${locks}", "${SIZE}"]`;
  await c.waitRunningOn("big", "alpha", 30000);
  await c.call("alpha", "big", "note", ["from node"]);
  const before = (await c.ps()).find((p) => p.name === "big")!.generation;
  place("big", big("beta"));
  const moved = await c.waitRunningOn("big", "beta", 30000);
  assert.is(moved.generation, before + 1);
  assert.ok(moved.lastTransferBytes! > SIZE);
  assert.is(await c.call("beta", "big", "verify"), SIZE);
  assert.ok((await c.call<string[]>("beta", "big", "history")).includes("from node"));
  assert.ok(existsSync(join(c.dir, `.ferry/beta/checkpoints/big@${before + 1}.snap`)));
  assert.equal(violations(locks), []);
});

mixed.run();
