// The read-only commands and `call` against real daemons while cluster.yaml has errors: the
// daemons keep running the last good config, and the CLI shows them as they run, with a warning.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { FerryEvent, ProcessInfo } from "../../schemas/api.schema.ts";

const broken = suite("cli with a broken cluster.yaml");
let c: TestCluster;
let good = "";

const warning = "ferry: warning: cluster.yaml has errors (see `ferry validate`); ";

broken.before(async () => {
  c = await TestCluster.create({
    nodes: ["alpha", "beta"],
    modules: ["Tally"],
    processes: { tally: "module: Tally, node: alpha", other: "module: Tally, node: beta" },
  });
  good = c.readConfig();
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("tally", "alpha");
  await c.waitRunningOn("other", "beta");
});
broken.after(async () => c.close());

/**
 * The file as a user may break it: tally pointed at beta (which the daemons must ignore) and a
 * process of a module that does not exist. Waits until both daemons have seen and refused it.
 */
async function breakWith(text: string): Promise<void> {
  c.writeRaw(text);
  for (const node of ["alpha", "beta"]) {
    await until(async () => (await c.post<{ configError: string | null }>(node, "status", {})).configError, `${node} to refuse the edit`);
  }
}

const unknownModule = () =>
  good.replace("tally: { module: Tally, node: alpha }", "tally: { module: Tally, node: beta }") + "  ghost: { module: NoSuchModule, node: beta }\n";

broken("ps and ps --json show the processes as the daemons run them, desired included, with one warning", async () => {
  await breakWith(unknownModule());
  const json = await c.cli(["ps", "--json"]);
  assert.is(json.code, 0, json.stderr);
  assert.is(json.stderr, `${warning}showing the cluster as its daemons run it\n`);
  const rows = (JSON.parse(json.stdout) as ProcessInfo[]).map((p) => [p.name, p.node, p.desired, p.state]);
  assert.equal(rows, [["other", "beta", "beta", "running"], ["tally", "alpha", "alpha", "running"]]);

  const text = await c.cli(["ps"]);
  assert.is(text.code, 0, text.stderr);
  assert.is(text.stderr, `${warning}showing the cluster as its daemons run it\n`);
  assert.match(text.stdout, /^tally\s+Tally\s+[0-9a-f]{7}\s+alpha\s+alpha\s+running\b/m);
  assert.not.match(text.stdout, /ghost/);
});

broken("status reports every node and the processes as run, and says the file has errors", async () => {
  await breakWith(unknownModule());
  const r = await c.cli(["status", "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, `${warning}showing the cluster as its daemons run it\n`);
  const report = JSON.parse(r.stdout) as { cluster: string; configError: string | null; nodes: { node: string; reachable: boolean }[]; processes: ProcessInfo[] };
  assert.is(report.cluster, "test");
  assert.match(report.configError ?? "", /cluster\.yaml:\d+:\d+: Unknown module "NoSuchModule"/);
  assert.equal(report.nodes.map((n) => [n.node, n.reachable]), [["alpha", true], ["beta", true]]);
  assert.equal(report.processes.map((p) => [p.name, p.node, p.desired]), [["other", "beta", "beta"], ["tally", "alpha", "alpha"]]);
});

broken("call reaches the running process, with one warning", async () => {
  await breakWith(unknownModule());
  const r = await c.cli(["call", "tally", "note", "while-broken", "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, `${warning}calling the process where its daemons run it\n`);
  assert.type(JSON.parse(r.stdout), "number");
  const history = await c.call<string[]>("alpha", "tally", "history");
  assert.ok(history.includes("while-broken"), JSON.stringify(history));
});

broken("events lists the lifecycle of both nodes, with one warning", async () => {
  await breakWith(unknownModule());
  const r = await c.cli(["events", "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, `${warning}showing the events of the daemons it names\n`);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as FerryEvent);
  const started = events.filter((e) => e.type === "started").map((e) => [e.process, e.node]);
  assert.ok(started.some(([p, n]) => p === "tally" && n === "alpha"), JSON.stringify(started));
  assert.ok(started.some(([p, n]) => p === "other" && n === "beta"), JSON.stringify(started));
});

broken("a YAML syntax error elsewhere in the file does not stop ps, status or call either", async () => {
  await breakWith(good.replace("processes:", "processes:\n  bad: { module: Tally, node: [alpha }"));
  for (const args of [["ps", "--json"], ["status", "--json"], ["call", "other", "get"]]) {
    const r = await c.cli(args);
    assert.is(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^ferry: warning: cluster\.yaml has errors \(see `ferry validate`\); [^\n]+\n$/, args.join(" "));
  }
});

broken("migrate still refuses the broken file with its file:line:col", async () => {
  const text = unknownModule();
  await breakWith(text);
  const r = await c.cli(["migrate", "tally", "beta"]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^ferry: \S*cluster\.yaml:\d+:\d+: Unknown module "NoSuchModule"/);
  assert.is(c.readConfig(), text);
});

broken.run();
