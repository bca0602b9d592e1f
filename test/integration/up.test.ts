/**
 * `ferry up --node`: runs the nodes it names, whatever host their URLs name, and only those;
 * an unknown name is refused before anything starts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { nodesToRun } from "../../cli/commands/up.ts";
import { FerryError } from "../../daemon/errors.ts";
import { repo, TestCluster, until } from "../helpers/cluster.ts";

const clusters: TestCluster[] = [];
let up: ChildProcess | undefined;
test.after.each(async () => {
  if (up && up.exitCode === null) {
    const exited = new Promise((resolve) => up!.once("exit", resolve));
    up.kill("SIGKILL");
    await exited;
  }
  up = undefined;
  for (const c of clusters.splice(0)) await c.close();
});

test("nodesToRun() takes the nodes named, remote-looking or not, and refuses a name cluster.yaml lacks", () => {
  const nodes: Array<[string, { url: string }]> = [["alpha", { url: "http://127.0.0.1:7101" }], ["beta", { url: "https://beta.example.net:7102" }]];
  assert.equal(nodesToRun(nodes, undefined).map(([n]) => n), ["alpha"]);
  assert.equal(nodesToRun(nodes, ["beta"]).map(([n]) => n), ["beta"]);
  assert.equal(nodesToRun(nodes, ["beta", "alpha"]).map(([n]) => n), ["alpha", "beta"]);
  const unknown = (() => {
    try {
      nodesToRun(nodes, ["gamma"]);
    } catch (error) {
      return error;
    }
  })();
  assert.instance(unknown, FerryError);
  assert.is((unknown as FerryError).message, 'No node named "gamma" in cluster.yaml');
  assert.is((unknown as FerryError).hint, "nodes: alpha, beta");
  const none = (() => {
    try {
      nodesToRun([["beta", { url: "https://beta.example.net:7102" }]], undefined);
    } catch (error) {
      return error;
    }
  })();
  assert.match((none as FerryError).hint ?? "", /--node/);
});

test("`ferry up --node beta` runs beta only, says why alpha is left out, and stops it on SIGINT", async () => {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Idle"], processes: { idle: "module: Idle, node: beta" } });
  clusters.push(c);
  let output = "";
  const child = spawn(process.execPath, [join(repo, "cli/bin.mjs"), "up", "--node", "beta", "--config", c.file], { cwd: c.dir, stdio: ["ignore", "pipe", "pipe"] });
  up = child;
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  await until(async () => (await c.post<{ node: string }>("beta", "status", {}).catch(() => undefined))?.node === "beta", "beta to answer");
  await until(async () => (await c.post<Array<{ name: string; state: string }>>("beta", "ps", {})).some((p) => p.name === "idle" && p.state === "running"), "idle to run on beta");
  assert.match(output, /alpha\s+http:\/\/127\.0\.0\.1:\d+\s+node\s+not named by --node/);
  assert.is((await c.post("alpha", "status", {}).then(() => "answered", (error: FerryError) => error.code)), "unreachable", "alpha was started");
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGINT");
  assert.is(await exited, 0, output);
  assert.is((await c.post("beta", "status", {}).then(() => "answered", (error: FerryError) => error.code)), "unreachable", "beta outlived ferry up");
});

test.run();
