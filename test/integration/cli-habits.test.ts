/**
 * The CLI habits users bring from other tools, through the real `ferry` binary against a real
 * 2-node cluster: `-o json|yaml|wide`, `describe`, `unknown` for processes no node can vouch
 * for, examples and exit statuses in `--help`, `completion`, and `service install`.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { spawn, spawnSync } from "node:child_process";
import { parse } from "yaml";
import { deno, repo, TestCluster } from "../helpers/cluster.ts";
import { errorCodes, failureOf } from "../../daemon/errors.ts";
import { NODE_DAEMON_FLAGS } from "../../cli/daemon-command.ts";

const cli = suite("CLI habits");
let c: TestCluster;

cli.before(async () => {
  c = await TestCluster.create({
    nodes: ["alpha", "beta"],
    modules: ["Tally"],
    processes: { tally: "module: Tally, node: alpha, args: [one, two]", other: "module: Tally, node: beta" },
  });
  await Promise.all([c.start("alpha"), c.start("beta")]);
  await c.waitRunningOn("tally", "alpha", 30_000);
  await c.waitRunningOn("other", "beta", 30_000);
});
cli.after(async () => c?.close());

cli("ps -o yaml and -o json print the same rows as --json; -o wide adds columns", async () => {
  const json = await c.cli(["ps", "--json"]);
  assert.is(json.code, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as { name: string; node: string }[];
  assert.equal(rows.map((r) => [r.name, r.node]), [["other", "beta"], ["tally", "alpha"]]);
  const asJson = await c.cli(["ps", "-o", "json"]);
  assert.equal(JSON.parse(asJson.stdout).map((r: { name: string }) => r.name), ["other", "tally"]);
  const yaml = await c.cli(["ps", "-o", "yaml"]);
  assert.is(yaml.code, 0, yaml.stderr);
  assert.equal((parse(yaml.stdout) as { name: string; node: string }[]).map((r) => [r.name, r.node]), [["other", "beta"], ["tally", "alpha"]]);
  const wide = await c.cli(["ps", "-o", "wide"]);
  assert.match(wide.stdout, /^NAME\s+MODULE\s+VERSION\s+NODE\s+DESIRED\s+STATE\s+GEN\s+MIGR\s+DOWNTIME\s+ARGS\s+PLACED\s+MOVED\s+STARTED\s+ERROR/);
  assert.match(wide.stdout, /tally .* one two +config/);
  const narrow = await c.cli(["ps"]);
  assert.not.match(narrow.stdout, /ARGS/);
});

cli("status -o yaml holds the document of status --json; --json with -o yaml is a usage error", async () => {
  const yaml = await c.cli(["status", "-o", "yaml"]);
  assert.is(yaml.code, 0, yaml.stderr);
  const doc = parse(yaml.stdout) as { cluster: string; nodes: { node: string; reachable: boolean }[]; processes: unknown[] };
  assert.is(doc.cluster, "test");
  assert.equal(doc.nodes.map((n) => [n.node, n.reachable]), [["alpha", true], ["beta", true]]);
  assert.is(doc.processes.length, 2);
  const both = await c.cli(["status", "--json", "-o", "yaml"]);
  assert.is(both.code, 2);
  assert.match(both.stderr, /--json and -o yaml/);
});

cli("describe shows a process's module version, its moves with downtime, and its events", async () => {
  const moved = await c.cli(["migrate", "tally", "beta"]);
  assert.is(moved.code, 0, moved.stderr);
  const text = await c.cli(["describe", "tally"]);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Name: +tally$/m);
  assert.match(text.stdout, /^Module: +Tally \(version [0-9a-f]+\)$/m);
  assert.match(text.stdout, /^Node: +beta$/m);
  assert.match(text.stdout, /^Migrations: +1$/m);
  assert.match(text.stdout, /\n  \S+ +alpha +beta +1 +[\d.]+ (ms|s) /);
  const doc = JSON.parse((await c.cli(["describe", "tally", "-o", "json"])).stdout) as { node: string; moves: { from: string; to: string; downtimeMs: number | null }[]; moduleVersion: string | null };
  assert.is(doc.node, "beta");
  assert.equal(doc.moves.map((m) => [m.from, m.to]), [["alpha", "beta"]]);
  assert.type(doc.moves[0]!.downtimeMs, "number");
  assert.ok(doc.moduleVersion);
  const ghost = await c.cli(["describe", "ghost"]);
  assert.is(ghost.code, failureOf("process_not_found").exit);
  assert.match(ghost.stderr, /No process named "ghost" \(known processes: other, tally\)/);
});

cli("--help lists every command's examples and the exit statuses of the failure table", async () => {
  const help = await c.cli(["--help"]);
  assert.is(help.code, 0);
  assert.match(help.stdout, /Exit status/);
  for (const code of errorCodes) assert.ok(help.stdout.includes(code), code);
  assert.match(help.stdout, new RegExp(`\\n  ${failureOf("unreachable").exit}  [^\\n]*unreachable`));
  for (const command of ["up", "down", "status", "ps", "describe", "migrate", "create", "rm", "call", "events", "validate", "daemon", "service"]) {
    const one = await c.cli([command, "--help"]);
    assert.match(one.stdout, /Examples:\n  ferry /, `${command} --help`);
  }
});

cli("--version answers the package's version: alone (before anything loads) or with other options, on Node and on Deno", async () => {
  const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;
  const run = (command: string, args: string[]) => spawnSync(command, args, { cwd: c.dir, encoding: "utf8" });
  for (const [command, args] of [
    [process.execPath, [join(repo, "cli/bin.mjs"), "--version"]],
    [process.execPath, [join(repo, "dist/cli/main.js"), "--version"]],
    [process.execPath, [join(repo, "cli/bin.mjs"), "--version", "--verbose"]],
    [deno, ["run", "-A", join(repo, "cli/main.ts"), "--version"]],
    [deno, ["run", "-A", join(repo, "dist/cli/main.js"), "--version"]],
  ] as const) {
    const r = run(command, [...args]);
    assert.equal([r.status, r.stdout.trim()], [0, version], `${command} ${args.join(" ")}: ${r.stderr}`);
  }
});

cli("a reader that closes the output early (events -f | head -1) ends the command quietly with 0, on Node and on Deno", async () => {
  for (const [command, args] of [
    [process.execPath, [join(repo, "cli/bin.mjs")]],
    [deno, ["run", "-A", join(repo, "cli/main.ts")]],
  ] as const) {
    const child = spawn(command, [...args, "events", "-f", "--config", c.file], { cwd: c.dir, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // What `head -1` does: read the first line, then close the pipe.
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    child.stdout!.destroy();
    // New events for the command to write into the closed pipe: a move there and back.
    const home = (await c.ps()).find((p) => p.name === "tally" && p.state === "running")!.node;
    for (const node of [home === "alpha" ? "beta" : "alpha", home]) {
      const moved = await c.cli(["migrate", "tally", node]);
      assert.is(moved.code, 0, moved.stderr);
    }
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 20_000))]);
    if (code === "still running") child.kill("SIGKILL");
    assert.equal([code, stderr], [0, ""], `${command} ${args.join(" ")}`);
  }
});

cli("completion prints a shell completion script for ferry", async () => {
  const script = await c.cli(["completion"]);
  assert.is(script.code, 0, script.stderr);
  assert.match(script.stdout, /ferry --get-completions/);
  // As the script calls it: every word of the line, the one under the cursor last (maybe empty).
  const complete = (...typed: string[]) => {
    const run = spawnSync(process.execPath, [join(repo, "cli/bin.mjs"), "--get-completions", "ferry", ...typed], { cwd: c.dir, encoding: "utf8", env: { ...process.env, FERRY_CONFIG: "" } });
    assert.is(run.status, 0, run.stderr);
    return run.stdout.split("\n").filter(Boolean);
  };
  assert.equal(complete("des"), ["describe"]);
  assert.equal(complete("migrate", ""), ["other", "tally"], "the processes of ./cluster.yaml");
  assert.equal(complete("migrate", "tally", ""), ["alpha", "beta"], "its nodes");
  assert.equal(complete("logs", "t"), ["tally"]);
  assert.equal(complete("create", "new", ""), ["Tally"], "the modules of the processes folder");
  assert.equal(complete("create", ""), [], "a new process's name is not one of the existing");
  assert.equal(complete("ps", "--node", ""), ["alpha", "beta"]);
  assert.equal(complete("up", "--node", "alpha,"), ["alpha,beta"], "up takes a list of nodes");
  assert.equal(complete("ps", "-o", ""), ["json", "yaml", "wide"]);
  assert.equal(complete("service", "i"), ["install"]);
  assert.ok(complete("migrate", "--").includes("--no-wait"));
  assert.ok(!complete("ps", "--").includes("--no-wait"), "only the command's own flags");
  // --config names another file: its names, not those of ./cluster.yaml.
  const other = join(c.dir, "other.yaml");
  writeFileSync(other, readFileSync(c.file, "utf8").replace(/^processes:[\s\S]*$/m, "processes:\n  solo: { module: Tally, node: beta }\n"));
  assert.equal(complete("--config", other, "describe", ""), ["solo"]);
  // Methods only the daemons know: the holder's answer.
  assert.equal(complete("call", "tally", ""), ["boom", "get", "history", "note"]);
  assert.equal(complete("call", "tally", "h"), ["history"]);
  assert.equal(complete("call", "ghost", ""), [], "no process of that name");
  // A file that cannot be read offers nothing, and the shell completes file names instead.
  assert.equal(complete("--config", join(c.dir, "missing.yaml"), "describe", ""), []);
});

cli("service install --print prints the unit and writes nothing; --user writes it to the user's systemd folder", async () => {
  const home = mkdtempSync(join(tmpdir(), "ferry-home-"));
  try {
    const env = { XDG_CONFIG_HOME: home, HOME: home };
    const printed = await c.cli(["service", "install", "--node", "beta", "--user", "--print"], env);
    assert.is(printed.code, 0, printed.stderr);
    // The built daemon, started by the runtime itself: no shim, no package runner.
    assert.ok(printed.stdout.includes(`ExecStart=${process.execPath} ${NODE_DAEMON_FLAGS.join(" ")} ${join(repo, "dist/cli/main.js")} daemon --node beta --config ${c.file}`), printed.stdout);
    assert.match(printed.stdout, new RegExp(`^WorkingDirectory=${c.dir}$`, "m"));
    assert.match(printed.stdout, /^Restart=on-failure$/m);
    assert.match(printed.stdout, /^KillSignal=SIGTERM$/m);
    assert.equal(readdirSync(home), []);
    const written = await c.cli(["service", "install", "--node", "beta", "--user"], env);
    assert.is(written.code, 0, written.stderr);
    const file = join(home, "systemd/user/ferry-beta.service");
    assert.ok(existsSync(file));
    assert.is(readFileSync(file, "utf8").trim(), printed.stdout.trim());
    assert.match(written.stdout, /systemctl --user daemon-reload && systemctl --user enable --now ferry-beta.service/);
    const unknown = await c.cli(["service", "install", "--node", "gamma", "--print"], env);
    assert.is(unknown.code, failureOf("not_found").exit);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

// Last: it stops the cluster.
cli("with every node down, status shows the processes as unknown, not starting", async () => {
  await Promise.all([c.stop("alpha"), c.stop("beta")]);
  const status = await c.cli(["status", "--json"]);
  assert.is(status.code, failureOf("unreachable").exit);
  const doc = JSON.parse(status.stdout) as { processes: { name: string; state: string }[] };
  assert.equal(doc.processes.map((p) => [p.name, p.state]), [["other", "unknown"], ["tally", "unknown"]]);
  const text = await c.cli(["status"]);
  assert.match(text.stdout, /tally +Tally +- +- +beta +unknown/);
});

cli.run();
