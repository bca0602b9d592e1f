/**
 * Ferry as a user installs it: the package `npm pack` makes, installed with its run-time
 * dependencies only into an empty project that has its own cluster.yaml and processes/. `ferry`
 * comes from node_modules/.bin, `ferry up` starts the daemons with Node directly, a process
 * written in TypeScript imports `ferry/sdk` by name, and Deno resolves that name the same way.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { deno, freePort, repo, until } from "../helpers/cluster.ts";

/** Runs a program to its end (killed after `timeoutMs`), with what it printed. */
function runChild(command: string, args: string[], options: { cwd: string; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const installed = suite("the packed Ferry, installed in an empty project");
let project: string;
let up: ChildProcess | undefined;
let upOutput = "";
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

async function npm(args: string[], cwd: string): Promise<string> {
  const result = await runChild("npm", args, { cwd, timeoutMs: 180_000 });
  assert.is(result.code, 0, `npm ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

function ferry(args: string[]) {
  return runChild(join(project, "node_modules/.bin/ferry"), args, { cwd: project, timeoutMs: 60_000 });
}

installed.before(async () => {
  project = mkdtempSync(join(tmpdir(), "ferry-installed-"));
  const packs = join(project, "packs");
  mkdirSync(packs);
  // dist/ was built by the test run; packing must not rebuild it under the other tests' feet.
  await npm(["pack", "--ignore-scripts", "--pack-destination", packs], repo);
  const tarball = join(packs, readdirSync(packs).find((f) => f.endsWith(".tgz"))!);
  // As the README advises a project of its own: cbor-extract pinned to the release whose platform
  // packages the registry has, and no dependency's install script run.
  const advised = { overrides: { "cbor-extract": "2.2.2" }, allowScripts: { "cbor-extract": false, protobufjs: false } };
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-cluster", private: true, type: "module", ...advised }, null, 2));
  await npm(["install", tarball, "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"], project);

  const [alpha, beta] = [await freePort(), await freePort()];
  writeFileSync(join(project, "cluster.yaml"), [
    "cluster:",
    "  name: mine",
    "  secret: package-test-secret-0123456789",
    "  checkpointIntervalMs: 200",
    "nodes:",
    `  alpha: { url: "http://127.0.0.1:${alpha}" }`,
    `  beta: { url: "http://127.0.0.1:${beta}" }`,
    "processes:",
    "  greeter:   # my own process",
    "    module: Greeter",
    "    node: alpha",
    "",
  ].join("\n"));
  mkdirSync(join(project, "processes"));
  mkdirSync(join(project, "data"));
  writeFileSync(join(project, "processes/Greeter.ts"), `import { type ProcessContext, TransactionalFileWriter } from "ferry/sdk";

export default class Greeter {
  said = 0;
  out = new TransactionalFileWriter("data/greetings.txt");
  constructor(_args: string[]) {}
  async run(ctx: ProcessContext): Promise<void> {
    while (!ctx.signal.aborted) {
      this.out.writeLine(\`hello \${++this.said}\`);
      await ctx.sleep(20);
    }
  }
  count(_args: string[]): number {
    return this.said;
  }
}
`);
});

installed.after(async () => {
  if (up && up.exitCode === null) {
    up.kill("SIGINT");
    await new Promise((resolve) => up!.once("exit", resolve));
  }
  rmSync(project, { recursive: true, force: true });
});

installed("the install has no TypeScript loader and no dev dependency", () => {
  for (const devOnly of ["tsx", "typescript", "json-schema-to-ts", "uvu"]) {
    assert.not.ok(existsSync(join(project, "node_modules", devOnly)), `${devOnly} was installed`);
  }
  assert.ok(existsSync(join(project, "node_modules/ferry/dist/cli/main.js")), "the package lacks its built JavaScript");
});

installed("ferry --version and ferry validate answer from node_modules/.bin", async () => {
  const v = await ferry(["--version"]);
  assert.equal([v.code, v.stdout.trim()], [0, version]);
  const valid = await ferry(["validate"]);
  assert.is(valid.code, 0, valid.stderr);
  assert.match(valid.stdout, /cluster\.yaml is valid: 2 nodes, 1 process, 1 module/);
});

installed("ferry up runs the user's TypeScript process, which migrates with its file stream, and ferry down stops it", async () => {
  up = spawn(join(project, "node_modules/.bin/ferry"), ["up"], { cwd: project, stdio: ["ignore", "pipe", "pipe"] });
  up.stdout!.on("data", (d) => (upOutput += d));
  up.stderr!.on("data", (d) => (upOutput += d));
  const running = async (node: string) => {
    const ps = await ferry(["ps", "--json"]);
    const row = ps.code === 0 ? (JSON.parse(ps.stdout) as Array<{ name: string; node: string; state: string }>).find((p) => p.name === "greeter") : undefined;
    return row?.node === node && row.state === "running";
  };
  await until(() => running("alpha"), `greeter running on alpha (ferry up said: ${upOutput})`, 60_000, 200);
  // Daemons run under Node directly: no npm exec or npx between the supervisor and them.
  const children = readFileSync(`/proc/${up.pid}/task/${up.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  assert.is(children.length, 2, "one daemon per node");
  for (const pid of children) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    assert.is(argv[0], process.execPath);
    assert.ok(argv.some((a) => a.endsWith("node_modules/ferry/dist/cli/main.js")), `daemon started as ${argv.join(" ")}`);
  }
  // The install brought cbor-extract's prebuilt addon for this platform (nothing was compiled),
  // and both daemons loaded it.
  assert.ok(existsSync(join(project, "node_modules/@cbor-extract", `cbor-extract-${process.platform}-${process.arch}`)), "no prebuilt addon was installed");
  assert.is(upOutput.match(/CBOR native acceleration on/g)?.length, 2, upOutput);

  const moved = await ferry(["migrate", "greeter", "beta"]);
  assert.is(moved.code, 0, moved.stderr);
  await until(() => running("beta"), "greeter running on beta");
  const said = Number((await ferry(["call", "greeter", "count", "--json"])).stdout);
  await until(() => readFileSync(join(project, "data/greetings.txt"), "utf8").split("\n").length > said + 2, "greetings written on beta");
  const lines = readFileSync(join(project, "data/greetings.txt"), "utf8").trim().split("\n");
  assert.equal(lines, lines.map((_, i) => `hello ${i + 1}`), "a greeting was lost or written twice across the move");
  assert.match(readFileSync(join(project, "cluster.yaml"), "utf8"), /greeter: {3}# my own process\n {4}module: Greeter\n {4}node: beta/);

  const down = await ferry(["down"]);
  assert.is(down.code, 0, down.stderr);
  const code = await new Promise((resolve) => (up!.exitCode !== null ? resolve(up!.exitCode) : up!.once("exit", resolve)));
  assert.is(code, 0, upOutput);
});

installed("Deno runs the installed package's built CLI and resolves ferry/sdk the same way", async () => {
  // Deno strips no types under node_modules: the installed package runs its JavaScript there.
  const result = await runChild(deno, ["run", "-A", join(project, "node_modules/ferry/dist/cli/main.js"), "validate"], { cwd: project, timeoutMs: 120_000 });
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /is valid: 2 nodes, 1 process, 1 module/);
});

installed.run();
