/**
 * Integration-test harness: a real cluster of daemons, each a child process running the real CLI
 * (`ferry daemon --node X`) on a free loopback port, in a temp directory with its own cluster.yaml
 * and processes/ folder. Stops are real signals (SIGTERM, or SIGKILL for crash tests).
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import { daemonCommandLine, findDeno } from "../../cli/daemon-command.ts";
import { ApiClient, type JsonMessageType } from "../../daemon/api/client.ts";

export const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const fixtures = join(repo, "test/fixtures/processes");
const bin = join(repo, "cli/bin.mjs");
/**
 * The clusters' secret: one per test process, so a daemon of another test file running at the same
 * time, which may have taken a port a stopped node of this one used, refuses rather than answers.
 */
export const SECRET = `test-secret-${process.pid}`;
/** The deno binary the `deno` npm package installed (what `ferry up` runs a `runtime: deno` node with). */
export const deno = findDeno();
/** Runtime of nodes that `runtimes` does not name; FERRY_TEST_RUNTIME=deno runs a whole suite on Deno. */
const defaultRuntime = process.env.FERRY_TEST_RUNTIME === "deno" ? "deno" : "node";

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value, or fails with `what` after `timeoutMs`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15000, everyMs = 25): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ClusterOptions {
  nodes: string[];
  /** Extra `cluster:` settings, e.g. { checkpointIntervalMs: 200 }. */
  settings?: Record<string, unknown>;
  /** name -> YAML flow mapping body, e.g. { c: "module: Tally, node: alpha" } */
  processes?: Record<string, string>;
  /** Fixture modules to copy into processes/ (all when absent). */
  modules?: string[];
  /** node -> runtime its daemon runs on (written to cluster.yaml, used by start()). */
  runtimes?: Record<string, "node" | "deno">;
  /** node -> the Node.js binary its daemon runs on, for a node on Node (this process's when absent). */
  nodeBinaries?: Record<string, string>;
}

/** What runs the CLI: Node (this process's binary, or the one named), or Deno. */
export type CliRuntime = "node" | "deno" | { nodeBinary: string };

export class TestCluster {
  readonly dir: string;
  readonly file: string;
  readonly ports: Record<string, number>;
  readonly logs: Record<string, string> = {};
  readonly children = new Map<string, ChildProcess>();
  readonly #options: ClusterOptions;

  private constructor(dir: string, ports: Record<string, number>, options: ClusterOptions) {
    this.dir = dir;
    this.file = join(dir, "cluster.yaml");
    this.ports = ports;
    this.#options = options;
  }

  static async create(options: ClusterOptions): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), "ferry-it-"));
    const ports: Record<string, number> = {};
    for (const node of options.nodes) ports[node] = await freePort();
    const cluster = new TestCluster(dir, ports, options);
    mkdirSync(join(dir, "processes"));
    writeFileSync(join(dir, "processes/package.json"), '{ "type": "module" }\n');
    for (const file of readdirSync(fixtures)) {
      if (!options.modules || options.modules.includes(file.replace(/\.ts$/, ""))) copyFileSync(join(fixtures, file), join(dir, "processes", file));
    }
    cluster.writeConfig(options.processes ?? {});
    return cluster;
  }

  runtime(node: string): "node" | "deno" {
    return this.#options.runtimes?.[node] ?? defaultRuntime;
  }

  url(node: string): string {
    return `http://127.0.0.1:${this.ports[node]}`;
  }

  /** Writes cluster.yaml with these processes (the rest of the file from the options). */
  writeConfig(processes: Record<string, string>, settings: Record<string, unknown> = {}): void {
    const all = { checkpointIntervalMs: 500, stallMs: 2000, suspendDeadlineMs: 2000, handoffTimeoutMs: 5000, ...this.#options.settings, ...settings };
    const lines = [
      "# written by the test harness",
      "cluster:",
      "  name: test",
      `  secret: ${SECRET}`,
      ...Object.entries(all).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      "nodes:",
      ...this.#options.nodes.map((n) => `  ${n}: { url: "${this.url(n)}"${this.runtime(n) === "deno" ? ", runtime: deno" : ""} }`),
      "processes:",
      ...Object.entries(processes).map(([name, body]) => `  ${name}: { ${body} }`),
      "",
    ];
    this.writeRaw(lines.join("\n"));
  }

  writeRaw(text: string): void {
    // Rename into place like an editor's atomic save, so a daemon never reads half a file.
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.file);
  }

  readConfig(): string {
    return readFileSync(this.file, "utf8");
  }

  /** Runs the CLI to completion, as `node cli/bin.mjs` or as `deno run -A cli/main.ts`. */
  cli(args: string[], env: Record<string, string> = {}, runtime: CliRuntime = "node"): Promise<{ code: number; stdout: string; stderr: string }> {
    const command = runtime === "deno" ? [deno, "run", "-A", join(repo, "cli/main.ts")] : [runtime === "node" ? process.execPath : runtime.nodeBinary, bin];
    return new Promise((resolve) => {
      const child = spawn(command[0]!, [...command.slice(1), ...args, "--config", this.file], {
        cwd: this.dir,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }

  /** Starts a node's daemon under its runtime (the command line `ferry up` uses) and waits until its API answers. */
  async start(node: string, env: Record<string, string> = {}): Promise<void> {
    if (this.children.has(node)) throw new Error(`${node} already started`);
    this.logs[node] ??= "";
    const line = daemonCommandLine(this.runtime(node), node, this.file);
    const binary = this.runtime(node) === "node" ? this.#options.nodeBinaries?.[node] : undefined;
    const child = spawn(binary ?? line.command, line.args, {
      cwd: this.dir,
      env: { ...process.env, ...line.env, FERRY_SECRET: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (this.logs[node] += d));
    child.stderr!.on("data", (d) => (this.logs[node] += d));
    this.children.set(node, child);
    // A daemon that exits (refused its config, lost its port) is reported at once, with what
    // it printed, rather than as a node that did not answer for 20 s.
    let exit: string | undefined;
    child.on("exit", (code, signal) => {
      exit = signal ?? `code ${code}`;
      if (this.children.get(node) === child) this.children.delete(node);
    });
    await until(async () => exit ?? (await this.post(node, "status", {}).catch(() => undefined)) !== undefined, `node ${node} to answer`, 20000, 50);
    if (exit) throw new Error(`node ${node} exited (${exit}) before it answered; it printed:\n${this.logs[node]!.slice(-2000)}`);
  }

  /** Stops a node: SIGTERM (graceful) or SIGKILL (crash), and waits for the exit. */
  async stop(node: string, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.children.get(node);
    if (!child) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
    this.children.delete(node);
  }

  /** The API client of `node` (the same one the CLI and the peers use). */
  client(node: string, secret = SECRET): ApiClient {
    return new ApiClient(node, this.url(node), secret);
  }

  /** Sends one API message through the shared client; failures are its FerryErrors. */
  async post<T = unknown>(node: string, type: string, body: unknown, secret = SECRET): Promise<T> {
    return (await this.client(node, secret).post(type as JsonMessageType, body as never, { timeoutMs: 30000 })) as T;
  }

  /** Processes held (or being acquired) by every running node. */
  async ps(): Promise<ProcessInfo[]> {
    const all = await Promise.all([...this.children.keys()].map((n) => this.post<ProcessInfo[]>(n, "ps", {}).catch(() => [])));
    return all.flat();
  }

  /** Processes whose code runs now, by name → nodes (exactly-one checks). */
  async running(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const p of await this.ps()) {
      if (p.state !== "running" && p.state !== "completed") continue;
      out.set(p.name, [...(out.get(p.name) ?? []), p.node]);
    }
    return out;
  }

  /** Waits until `name` runs on `node` only. */
  async waitRunningOn(name: string, node: string, timeoutMs = 15000): Promise<ProcessInfo> {
    return until(async () => {
      const ps = await this.ps();
      const held = ps.filter((p) => p.name === name && p.state !== "starting");
      const here = held.find((p) => p.node === node && p.state === "running");
      return held.length === 1 && here ? here : undefined;
    }, `${name} running on ${node}`, timeoutMs);
  }

  async call<T = unknown>(node: string, name: string, method: string, args: string[] = []): Promise<T> {
    const r = await this.post<{ value: T }>(node, "call", { name, method, args });
    return r.value;
  }

  async close(): Promise<void> {
    await Promise.all([...this.children.keys()].map((n) => this.stop(n, "SIGKILL")));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Names of VIOLATION files the Exclusive fixture left in `dir` (two copies ran at once). */
export function violations(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith("VIOLATION-"));
}

/** One line of AlphabetSorter input: the 26 lowercase letters, shuffled. */
export function shuffledAlphabet(): string {
  const letters = [..."abcdefghijklmnopqrstuvwxyz"];
  for (let i = letters.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [letters[i], letters[j]] = [letters[j]!, letters[i]!];
  }
  return letters.join("");
}
