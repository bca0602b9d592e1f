// The real `ferry` binary, spawned the way users run it (`node cli/bin.mjs`, cwd = their project),
// for what needs no daemon: argument errors, validation, clear errors when daemons are down, and
// YAML edits made while the cluster is stopped.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(repo, "cli", "bin.mjs");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir = "";
let yaml = "";

// `node cli/bin.mjs`, also when this file runs under Deno (whose execPath is deno).
const node = "Deno" in globalThis ? "node" : process.execPath;

function run(args: string[], env: Record<string, string> = {}, command = node, prefix = [bin]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], {
      cwd: dir,
      env: { ...process.env, FERRY_CONFIG: "", FERRY_SECRET: "", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Loopback ports nobody listens on: the "daemon is down" case. Privileged ones, since a free
 * ephemeral port may be taken meanwhile by a daemon of a test running in parallel, which then
 * answers instead of refusing.
 */
const closedPorts = [1, 2] as const;

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-cli-"));
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await mkdir(join(dir, "processes"));
  await writeFile(
    join(dir, "processes", "Counter.ts"),
    "export default class Counter {\n  n = 0;\n  constructor(args: string[]) { this.n = Number(args[0] ?? 0); }\n  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) { while (!ctx.signal.aborted) await ctx.sleep(10); }\n  get() { return this.n; }\n}\n",
  );
  const [a, b] = closedPorts;
  yaml = `cluster:
  name: test
  secret: s3cret             # shared secret

nodes:
  alpha: { url: http://127.0.0.1:${a} }
  beta:  { url: http://127.0.0.1:${b} }

processes:
  # counts
  counter:
    module: Counter
    args: ["1"]
    node: alpha              # edit to migrate
`;
  await writeFile(join(dir, "cluster.yaml"), yaml);
});

test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("an unknown command exits 2 with one line naming it", async () => {
  const r = await run(["bogus"]);
  assert.is(r.code, 2);
  assert.is(r.stdout, "");
  assert.equal(lines(r.stderr), ['ferry: Unknown command "bogus" (see `ferry --help`)']);
});

test("an unknown flag and a missing argument exit 2 with one line", async () => {
  const flag = await run(["ps", "--frobnicate"]);
  assert.is(flag.code, 2);
  assert.equal(lines(flag.stderr).length, 1);
  assert.match(flag.stderr, /^ferry: Unknown argument: frobnicate \(see `ferry ps --help`\)\n$/);

  const missing = await run(["migrate", "counter"]);
  assert.is(missing.code, 2);
  assert.equal(lines(missing.stderr).length, 1);
  assert.match(missing.stderr, /^ferry: Not enough non-option arguments/);
});

test("no command at all exits 2 and --help exits 0 listing the commands", async () => {
  const none = await run([]);
  assert.is(none.code, 2);
  assert.equal(lines(none.stderr), ["ferry: Missing command (see `ferry --help`)"]);
  const help = await run(["--help"]);
  assert.is(help.code, 0);
  for (const name of ["up", "down", "status", "ps", "migrate", "create", "rm", "call", "upgrade", "events", "validate", "daemon"]) {
    assert.match(help.stdout, new RegExp(`ferry ${name}\\b`));
  }
});

test("validate accepts a good config and summarises it", async () => {
  const r = await run(["validate"]);
  assert.is(r.stderr, "");
  assert.is(r.code, 0);
  assert.is(r.stdout, "cluster.yaml is valid: 2 nodes, 1 process, 1 module\n");
});

test("validate prints every problem of a broken cluster.yaml as file:line:col and exits 2", async () => {
  const broken = yaml.replace("{ url: http://127.0.0.1", "{ url: ftp://127.0.0.1").replace("  secret: s3cret", "  secret: s3cret\n  colour: blue");
  await writeFile(join(dir, "cluster.yaml"), broken);
  const r = await run(["validate"]);
  assert.is(r.code, 2);
  assert.is(r.stdout, "");
  const issues = lines(r.stderr);
  assert.is(issues.length, 2, r.stderr);
  assert.match(issues[0] ?? "", /^cluster\.yaml:4:3: Unknown field "colour"/);
  assert.match(issues[1] ?? "", /^cluster\.yaml:7:17: Field "url" of node "alpha" must be a URL like http:\/\/127\.0\.0\.1:7101, got "ftp:/);
});

test("validate reports YAML syntax errors with their position", async () => {
  await writeFile(join(dir, "cluster.yaml"), yaml.replace("  beta:  { url:", "  beta:  { url: [,"));
  const r = await run(["validate", "--json"]);
  assert.is(r.code, 2);
  const report = JSON.parse(r.stdout) as { valid: boolean; issues: { file: string; line: number; col: number }[] };
  assert.is(report.valid, false);
  assert.is(report.issues[0]?.file, "cluster.yaml");
  assert.is(report.issues[0]?.line, 7);
});

test("ps with every node down says which node it cannot reach, exits 3, shows no stack", async () => {
  const r = await run(["ps"]);
  assert.is(r.code, 3);
  assert.is(r.stdout, "");
  const out = lines(r.stderr);
  assert.is(out.length, 1, r.stderr);
  assert.match(out[0] ?? "", /^ferry: Cannot reach node "alpha" at http:\/\/127\.0\.0\.1:\d+ \(is its daemon running\? start it with `ferry up`\)$/);
  assert.not.match(r.stderr, /\n\s+at /);
});

test("--verbose adds the stack trace to the error", async () => {
  const r = await run(["ps", "--verbose"]);
  assert.is(r.code, 3);
  assert.match(r.stderr, /^ferry: Cannot reach node "alpha"/);
  assert.match(r.stderr, /\n\s+at /);
});

test("status with every node down still shows the nodes and the declared processes, their state unknown", async () => {
  const r = await run(["status", "--json"]);
  assert.is(r.code, 3);
  const report = JSON.parse(r.stdout) as { nodes: { node: string; reachable: boolean; error: { code: string } }[]; processes: { name: string; node: string; desired: string; state: string }[] };
  assert.equal(report.nodes.map((n) => [n.node, n.reachable, n.error.code]), [["alpha", false, "unreachable"], ["beta", false, "unreachable"]]);
  assert.equal(report.processes.map((p) => [p.name, p.node, p.desired, p.state]), [["counter", "-", "alpha", "unknown"]]);
});

test("call with every node down fails with the unreachable node and exit status 3", async () => {
  const r = await run(["call", "counter", "get"]);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stderr, /^ferry: Cannot reach node "alpha"/);
});

test("call of a process cluster.yaml does not declare is `not found` (exit 4) even with the daemons down", async () => {
  const r = await run(["call", "ghost", "get"]);
  assert.is(r.code, 4);
  assert.equal(lines(r.stderr), ['ferry: No process named "ghost" in cluster.yaml (known processes: counter)']);
});

test("ps with a broken cluster.yaml warns once, then asks the nodes it can still read", async () => {
  await writeFile(join(dir, "cluster.yaml"), yaml.replace("module: Counter", "module: Nope"));
  const r = await run(["ps"]);
  assert.is(r.code, 3);
  assert.equal(lines(r.stderr), [
    "ferry: warning: cluster.yaml has errors (see `ferry validate`); showing the cluster as its daemons run it",
    `ferry: Cannot reach node "alpha" at ${/http:\/\/127\.0\.0\.1:\d+/.exec(yaml)?.[0]} (is its daemon running? start it with \`ferry up\`)`,
  ]);
});

test("ps, status and call fail with the config error when no node of a broken cluster.yaml can be read", async () => {
  await writeFile(join(dir, "cluster.yaml"), yaml.replace(/url: http/g, "url: ftp"));
  for (const command of [["ps"], ["status"], ["call", "counter", "get"]]) {
    const r = await run(command);
    assert.is(r.code, 2, command.join(" "));
    assert.match(r.stderr, /^ferry: \.\/cluster\.yaml:6:17: Field "url" of node "alpha" must be a URL/, command.join(" "));
  }
});

test("migrate, create and rm refuse a broken cluster.yaml with its file:line:col and leave it alone", async () => {
  const broken = yaml.replace("  beta:  { url:", "  beta:  { url: [,");
  await writeFile(join(dir, "cluster.yaml"), broken);
  for (const command of [["migrate", "counter", "beta", "--no-wait"], ["create", "x", "Counter"], ["rm", "counter"]]) {
    const r = await run(command);
    assert.is(r.code, 2, command.join(" "));
    assert.match(r.stderr, /^ferry: \.\/cluster\.yaml:7:\d+: /, command.join(" "));
    assert.not.match(r.stderr, /warning/);
  }
  assert.is(await readFile(join(dir, "cluster.yaml"), "utf8"), broken);
});

test("--config and FERRY_CONFIG pick the file; a missing one is a one-line error", async () => {
  await writeFile(join(dir, "other.yaml"), yaml);
  assert.is((await run(["validate", "--config", "other.yaml"])).code, 0);
  assert.is((await run(["validate"], { FERRY_CONFIG: "other.yaml" })).stdout, "other.yaml is valid: 2 nodes, 1 process, 1 module\n");
  const missing = await run(["ps", "--config", "nope.yaml"]);
  assert.is(missing.code, 2);
  assert.equal(lines(missing.stderr), ['ferry: Cannot read config "nope.yaml" (Pass --config <file> or set FERRY_CONFIG)']);
});

test("migrate --no-wait edits only the node value while the daemons are down", async () => {
  const r = await run(["migrate", "counter", "beta", "--no-wait"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, "counter: alpha → beta requested (cluster.yaml updated)\n");
  assert.match(r.stderr, /no daemon answered/);
  assert.is(await readFile(join(dir, "cluster.yaml"), "utf8"), yaml.replace("node: alpha              #", "node: beta              #"));
});

test("migrate to an unknown node or of an unknown process exits 4 and leaves the file alone", async () => {
  const node = await run(["migrate", "counter", "delta", "--no-wait"]);
  assert.is(node.code, 4);
  assert.equal(lines(node.stderr), ['ferry: No node named "delta" in cluster.yaml (known nodes: alpha, beta)']);
  const proc = await run(["migrate", "ghost", "beta", "--no-wait"]);
  assert.is(proc.code, 4);
  assert.equal(lines(proc.stderr), ['ferry: No process named "ghost" in cluster.yaml (known processes: counter)']);
  assert.is(await readFile(join(dir, "cluster.yaml"), "utf8"), yaml);
});

test("create then rm round-trips cluster.yaml byte for byte, args after -- kept as strings", async () => {
  const created = await run(["create", "tally", "Counter", "--node", "beta", "--json", "--", "007", "--flag"]);
  assert.is(created.code, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout), { process: "tally", module: "Counter", args: ["007", "--flag"], node: "beta" });
  const text = await readFile(join(dir, "cluster.yaml"), "utf8");
  assert.is(text, yaml + '  tally:\n    module: Counter\n    args: ["007", --flag]\n    node: beta\n');

  const removed = await run(["rm", "tally"]);
  assert.is(removed.code, 0, removed.stderr);
  assert.is(removed.stdout, "Removed tally\n");
  assert.is(await readFile(join(dir, "cluster.yaml"), "utf8"), yaml);
});

test("create refuses an unknown module and an existing name without touching the file", async () => {
  const module = await run(["create", "x", "Nope"]);
  assert.is(module.code, 1);
  assert.equal(lines(module.stderr), ['ferry: No module named "Nope" in processes (known modules: Counter)']);
  const taken = await run(["create", "counter", "Counter"]);
  assert.is(taken.code, 7);
  assert.match(taken.stderr, /^ferry: Process "counter" already exists in cluster\.yaml/);
  assert.is(await readFile(join(dir, "cluster.yaml"), "utf8"), yaml);
});

test("down with no daemon running reports each node as not running and succeeds", async () => {
  const r = await run(["down"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, "alpha: not running\nbeta: not running\n");
});

const deno = join(repo, "node_modules", "@deno", `${process.platform}-${process.arch}-glibc`, "deno");
test("the same CLI runs under Deno: `deno run -A cli/main.ts` gives the same answers", async () => {
  if (!existsSync(deno)) return; // only where the deno npm package installed its binary
  const main = join(repo, "cli", "main.ts");
  const ok = await run(["validate"], {}, deno, ["run", "-A", main]);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stdout, "cluster.yaml is valid: 2 nodes, 1 process, 1 module\n");
  const bad = await run(["bogus"], {}, deno, ["run", "-A", main]);
  assert.is(bad.code, 2);
  assert.equal(lines(bad.stderr), ['ferry: Unknown command "bogus" (see `ferry --help`)']);
  const down = await run(["ps"], {}, deno, ["run", "-A", main]);
  assert.is(down.code, 3);
  assert.match(down.stderr, /^ferry: Cannot reach node "alpha" at http:\/\/127\.0\.0\.1:\d+ \(is its daemon running\? start it with `ferry up`\)\n$/);
});

test.run();
