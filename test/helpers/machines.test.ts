/**
 * The machines helper: two "machines", each its own project directory and (as root) its own
 * network namespace, run plain local-mode daemons of one two-node cluster.yaml, see each other,
 * and leave nothing behind — not even when their test process dies.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { clusterYaml, type Layout, Machines } from "./machines.ts";
import { TestNetwork } from "./netns.ts";
import { repo } from "./cluster.ts";
import { procState } from "./child.ts";
import { waitFor } from "./wait.ts";

const machines = suite("Machines");
const labs: Machines[] = [];
machines.after.each(async () => {
  for (const lab of labs.splice(0)) await lab.close();
});

/** Our test's namespaces and links (netns mode), by the names the network gives them. */
function leftovers(net: TestNetwork): string[] {
  const found: string[] = [];
  const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const name of net.names) if (namespaces.includes(net.namespace(name)!)) found.push(net.namespace(name)!);
  const bridge = `ferrybr${net.hostAddress.split(".")[2]}`;
  if (execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).includes(`${bridge}:`)) found.push(bridge);
  return found;
}

type Status = { nodes: { node: string; reachable: boolean; url: string }[]; processes: { name: string; node: string; state: string }[] };

machines("two machines run the same two-node cluster.yaml from their own copies and answer status from each", async () => {
  const lab = await Machines.create({
    machines: [{ node: "alpha", modules: ["Tally"] }, { node: "beta", modules: ["Tally", "Idle"] }],
    config: (layout: Layout) => clusterYaml(layout, { processes: { counter: "module: Tally, node: alpha" } }),
  });
  labs.push(lab);
  console.log(`  machines ran in ${lab.mode} mode${lab.network.fallbackReason ? ` (${lab.network.fallbackReason})` : ""}`);
  const [alpha, beta] = [lab.machine("alpha"), lab.machine("beta")];

  // Separate project directories: own file, own modules only.
  assert.is.not(alpha.dir, beta.dir);
  assert.is(alpha.readConfig(), beta.readConfig());
  assert.equal(readdirSync(join(alpha.dir, "processes")).sort(), ["Tally.ts", "package.json"]);
  assert.equal(readdirSync(join(beta.dir, "processes")).sort(), ["Idle.ts", "Tally.ts", "package.json"]);
  assert.is.not(alpha.url, beta.url);
  if (lab.mode === "netns") {
    assert.is.not(alpha.address.host, beta.address.host);
    assert.is(lab.layout.hostAddress, `${lab.network.subnet!.replace(/0\/24$/, "")}1`);
  }

  await lab.startAll();
  if (lab.mode === "netns") {
    // Each daemon runs inside its machine's own network namespace.
    for (const m of [alpha, beta]) assert.is(execFileSync("ip", ["netns", "identify", String(m.pid)], { encoding: "utf8" }).trim(), m.namespace);
  }
  for (const m of [alpha, beta]) {
    const result = await m.cli(["status", "--json"]);
    assert.is(result.code, 0, `status from ${m.node}: ${result.stderr}`);
    const status = JSON.parse(result.stdout) as Status;
    assert.equal(status.nodes.map((n) => [n.node, n.reachable, n.url]), [["alpha", true, alpha.url], ["beta", true, beta.url]]);
  }
  const ps = await waitFor(async () => {
    const result = await beta.cli(["ps", "--json"]);
    const list = JSON.parse(result.stdout) as Status["processes"];
    return list.find((p) => p.name === "counter" && p.state === "running") && list;
  }, "the counter running, as seen from beta", 30_000, 200);
  assert.equal(ps.map((p) => [p.name, p.node]), [["counter", "alpha"]]);
  assert.match(alpha.log, /listening on/);
  assert.ok(existsSync(alpha.dataDir) && !existsSync(join(beta.dir, ".ferry", "alpha")), "alpha's data stays on alpha");

  const net = lab.network;
  await lab.close();
  assert.not.ok(existsSync(alpha.dir), "the machines' directories are removed");
  if (net.mode === "netns") assert.equal(leftovers(net), [], "namespaces, veths and bridge are removed");
});

machines("kill -9, SIGSTOP/SIGCONT and a lost data dir act on one machine only", async () => {
  const lab = await Machines.create({ machines: [{ node: "alpha", modules: ["Tally"] }, { node: "beta", modules: ["Tally"] }], config: (l) => clusterYaml(l) });
  labs.push(lab);
  const [alpha, beta] = [lab.machine("alpha"), lab.machine("beta")];
  await lab.startAll();

  const pid = alpha.pid!;
  // The pid is the daemon's own (`ip netns exec` replaces itself), so signals reach the daemon.
  assert.is(readFileSync(`/proc/${pid}/comm`, "utf8").trim(), "node");
  await alpha.kill();
  assert.is(procState(pid), undefined, "alpha's daemon is gone");
  assert.ok(beta.running);
  const fromBeta = JSON.parse((await beta.cli(["status", "--json"])).stdout) as Status;
  assert.equal(fromBeta.nodes.map((n) => [n.node, n.reachable]), [["alpha", false], ["beta", true]]);

  assert.ok(existsSync(alpha.dataDir));
  alpha.deleteDataDir();
  assert.not.ok(existsSync(alpha.dataDir));
  await alpha.start();
  assert.ok(existsSync(alpha.dataDir), "a fresh data dir on restart");

  await beta.pause();
  assert.is(procState(beta.pid!), "T");
  await beta.resume();
  const status = await alpha.post<{ node: string }>("status", {});
  assert.is(status.node, "alpha");
  const again = await beta.post<{ node: string }>("status", {});
  assert.is(again.node, "beta");
});

machines("etcd started with the machines is reachable from inside every machine", async () => {
  const lab = await Machines.create({ machines: [{ node: "alpha" }, { node: "beta" }], etcd: { members: 1 }, config: (l) => clusterYaml(l) });
  labs.push(lab);
  assert.equal(lab.layout.etcd, [...lab.etcd!.endpoints]);
  assert.match(lab.layout.etcd[0]!, new RegExp(`^http://${lab.layout.hostAddress.replace(/\./g, "\\.")}:\\d+$`));
  // A put from each machine's own network stack, read back from the test host.
  const etcd3 = JSON.stringify(join(repo, "node_modules/etcd3"));
  for (const m of lab.all) {
    const script = `const { Etcd3 } = require(${etcd3});
      const c = new Etcd3({ hosts: ${JSON.stringify(lab.layout.etcd)}, dialTimeout: 2000 });
      c.put("from/${m.node}").value("${m.node}").options({ deadline: Date.now() + 10000 }).then(() => c.close(), (e) => { console.error(e.message); process.exit(1); });`;
    const result = await m.run(process.execPath, ["-e", script]);
    assert.is(result.code, 0, `put from ${m.node}: ${result.stderr}`);
  }
  if (lab.mode === "netns") {
    // The machine's 127.0.0.1 is its own: the host's ports are not there.
    const port = new URL(lab.layout.etcd[0]!).port;
    const probe = `require("node:net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", (e) => { console.log(e.code); process.exit(3); });`;
    const inside = await lab.machine("alpha").run(process.execPath, ["-e", probe]);
    assert.equal([inside.code, inside.stdout.trim()], [3, "ECONNREFUSED"]);
  }
  const client = lab.etcd!.client();
  try {
    const all = await client.getAll().prefix("from/").strings();
    assert.equal(all, { "from/alpha": "alpha", "from/beta": "beta" });
  } finally {
    client.close();
  }
});

machines("a writeConfig on one machine changes that machine's file only", async () => {
  const lab = await Machines.create({ machines: [{ node: "alpha" }, { node: "beta" }], config: (l, node) => `# for ${node}\n${clusterYaml(l)}` });
  labs.push(lab);
  assert.match(lab.machine("alpha").readConfig(), /^# for alpha\n/);
  assert.match(lab.machine("beta").readConfig(), /^# for beta\n/);
  lab.machine("beta").writeConfig("# edited on beta\n");
  assert.is(lab.machine("beta").readConfig(), "# edited on beta\n");
  assert.match(lab.machine("alpha").readConfig(), /^# for alpha\n/);
});

machines("a network left by a test process killed with SIGKILL is swept, with what runs inside it", async () => {
  const reason = TestNetwork.unavailable();
  if (reason) {
    console.log(`  skipped: network namespaces are not available here (${reason})`);
    return;
  }
  // A test process that builds a network, starts a process in it, and dies with no exit hook run.
  const script = `
    import { spawn } from "node:child_process";
    import { TestNetwork } from ${JSON.stringify(new URL("./netns.ts", import.meta.url).pathname)};
    const net = TestNetwork.create(["a", "b"], { mode: "netns" });
    const { command, args } = net.wrap("a", "sleep", ["600"]);
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    console.log(JSON.stringify({ a: net.namespace("a"), b: net.namespace("b"), bridge: "ferrybr" + net.hostAddress.split(".")[2], pid: child.pid }));
    process.kill(process.pid, "SIGKILL");`;
  const crashed = await new Promise<{ a: string; b: string; bridge: string; pid: number }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`The crashing test process printed no network: "${out}"`));
      }
    });
  });
  const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  const links = () => execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
  assert.ok(namespaces().includes(crashed.a) && links().includes(`${crashed.bridge}:`), "the crashed process's network outlived it");
  assert.ok(procState(crashed.pid) !== undefined, "so did the process inside it");

  TestNetwork.sweep();
  assert.not.ok(namespaces().includes(crashed.a) || namespaces().includes(crashed.b), "its namespaces are gone");
  assert.not.ok(links().includes(`${crashed.bridge}:`), "its bridge is gone");
  await waitFor(() => procState(crashed.pid) === undefined || procState(crashed.pid) === "Z", "the process inside to be killed", 10_000);
});

machines.run();
