/**
 * Integration-test harness for clusters served over HTTPS: real daemons (`ferry daemon --node X`,
 * each a child process under its runtime) on free loopback ports with `https://127.0.0.1:<port>`
 * URLs, certificates made by openssl for the test (`certs.ts`) under `<dir>/certs`, and clients
 * that check them as the CLI does (the cluster CA, or pinned fingerprints).
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { daemonCommandLine } from "../../cli/daemon-command.ts";
import { ApiClient, type JsonMessageType } from "../../daemon/api/client.ts";
import { clientTlsOf } from "../../daemon/api/client-tls.ts";
import { httpTransport, type Transport } from "../../daemon/api/transport.ts";
import { loadClusterConfig } from "../../daemon/config/load.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import { deno, fixtures, freePort, repo, until } from "./cluster.ts";
import { makeTestPki, type TestCert, type TestPki } from "./certs.ts";

/** Long enough to pass the off-loopback check, should a test listen on 0.0.0.0. */
export const TLS_SECRET = "tls-test-secret-of-32-bytes-long";
const defaultRuntime = process.env.FERRY_TEST_RUNTIME === "deno" ? "deno" : "node";

export interface TlsClusterOptions {
  nodes: string[];
  /** name -> YAML flow mapping body, e.g. { t: "module: Tally, node: alpha" } */
  processes?: Record<string, string>;
  /** Fixture modules to copy into processes/. */
  modules: string[];
  runtimes?: Record<string, "node" | "deno">;
  /** More `cluster:` settings, e.g. { tlsCheckIntervalMs: 100 }. */
  settings?: Record<string, string | number>;
}

export class TlsCluster {
  readonly dir: string;
  readonly file: string;
  readonly pki: TestPki;
  readonly ports: Record<string, number>;
  readonly logs: Record<string, string> = {};
  readonly children = new Map<string, ChildProcess>();
  readonly #options: TlsClusterOptions;
  #transport: Transport | undefined;

  private constructor(dir: string, pki: TestPki, ports: Record<string, number>, options: TlsClusterOptions) {
    this.dir = dir;
    this.file = join(dir, "cluster.yaml");
    this.pki = pki;
    this.ports = ports;
    this.#options = options;
  }

  static async create(options: TlsClusterOptions): Promise<TlsCluster> {
    const dir = mkdtempSync(join(tmpdir(), "ferry-tls-"));
    const pki = await makeTestPki(join(dir, "certs"));
    const ports: Record<string, number> = {};
    for (const node of options.nodes) ports[node] = await freePort();
    mkdirSync(join(dir, "processes"));
    writeFileSync(join(dir, "processes/package.json"), '{ "type": "module" }\n');
    for (const module of options.modules) copyFileSync(join(fixtures, `${module}.ts`), join(dir, "processes", `${module}.ts`));
    const cluster = new TlsCluster(dir, pki, ports, options);
    cluster.writeConfig(options.processes ?? {});
    return cluster;
  }

  url(node: string): string {
    return `https://127.0.0.1:${this.ports[node]}`;
  }

  /** The certificate each node serves: the first node `server`, the others `server2`. */
  certOf(node: string): TestCert {
    return this.#options.nodes.indexOf(node) === 0 ? this.pki.server : this.pki.server2;
  }

  runtime(node: string): "node" | "deno" {
    return this.#options.runtimes?.[node] ?? defaultRuntime;
  }

  /**
   * cluster.yaml as `file` (default cluster.yaml): the cluster CA `certs/ca.pem` unless `ca` says
   * otherwise (null: none), and per node its certificate plus `nodeExtra` (YAML flow entries).
   */
  configText(processes: Record<string, string>, options: { ca?: string | null; nodeExtra?: Record<string, string>; listen?: Record<string, string> } = {}): string {
    const ca = options.ca === undefined ? "certs/ca.pem" : options.ca;
    const rel = (path: string) => path.slice(this.dir.length + 1);
    return [
      "cluster:",
      "  name: tls-test",
      `  secret: ${TLS_SECRET}`,
      "  checkpointIntervalMs: 500",
      "  handoffTimeoutMs: 5000",
      ...Object.entries(this.#options.settings ?? {}).map(([key, value]) => `  ${key}: ${value}`),
      ...(ca === null ? [] : [`  tls: { ca: ${ca} }`]),
      "nodes:",
      ...this.#options.nodes.map((n) => {
        const cert = this.certOf(n);
        const extra = options.nodeExtra?.[n] ? `, ${options.nodeExtra[n]}` : "";
        const runtime = this.runtime(n) === "deno" ? ", runtime: deno" : "";
        const listen = options.listen?.[n] ? `, listen: "${options.listen[n]}"` : "";
        return `  ${n}: { url: "${this.url(n)}"${listen}, tls: { cert: ${rel(cert.cert)}, key: ${rel(cert.key)}${extra} }${runtime} }`;
      }),
      "processes:",
      ...Object.entries(processes).map(([name, body]) => `  ${name}: { ${body} }`),
      "",
    ].join("\n");
  }

  /** Writes cluster.yaml, as an editor's atomic save does. */
  writeConfig(processes: Record<string, string>, text = this.configText(processes)): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.file);
  }

  /** Runs the CLI to completion against `config` (default: cluster.yaml), on Node or on Deno. */
  cli(args: string[], config = this.file, env: Record<string, string> = {}, runtime: "node" | "deno" = "node"): Promise<{ code: number; stdout: string; stderr: string }> {
    const command = runtime === "deno" ? [deno, "run", "-A", join(repo, "cli/main.ts")] : [process.execPath, join(repo, "cli/bin.mjs")];
    return new Promise((resolve) => {
      const child = spawn(command[0]!, [...command.slice(1), ...args, "--config", config], {
        cwd: this.dir,
        env: { ...process.env, FERRY_SECRET: "", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }

  /** Starts a node's daemon and waits until it answers over HTTPS. */
  async start(node: string): Promise<void> {
    this.logs[node] ??= "";
    const line = daemonCommandLine(this.runtime(node), node, this.file);
    const child = spawn(line.command, line.args, { cwd: this.dir, env: { ...process.env, ...line.env, FERRY_SECRET: "" }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (this.logs[node] += d));
    child.stderr!.on("data", (d) => (this.logs[node] += d));
    this.children.set(node, child);
    child.on("exit", () => {
      if (this.children.get(node) === child) this.children.delete(node);
    });
    try {
      await until(async () => (await this.post(node, "status", {}).catch(() => undefined)) !== undefined, `node ${node} to answer over https`, 60_000, 50);
    } catch (error) {
      throw new Error(`${(error as Error).message}; its log:\n${this.logs[node]}`);
    }
  }

  /** The API client of `node`, checking its certificate against the cluster CA. */
  async client(node: string): Promise<ApiClient> {
    if (!this.#transport) {
      const loaded = await loadClusterConfig(this.file, {});
      this.#transport = httpTransport({ tls: await clientTlsOf(loaded.config, loaded.dir) });
    }
    return new ApiClient(node, this.url(node), TLS_SECRET, this.#transport);
  }

  async post<T = unknown>(node: string, type: string, body: unknown): Promise<T> {
    return (await (await this.client(node)).post(type as JsonMessageType, body as never, { timeoutMs: 30_000 })) as T;
  }

  async ps(): Promise<ProcessInfo[]> {
    const all = await Promise.all([...this.children.keys()].map((n) => this.post<ProcessInfo[]>(n, "ps", {}).catch(() => [])));
    return all.flat();
  }

  /** Waits until `name` runs on `node` only. */
  waitRunningOn(name: string, node: string, timeoutMs = 30_000): Promise<ProcessInfo> {
    return until(async () => {
      const held = (await this.ps()).filter((p) => p.name === name && p.state !== "starting");
      const here = held.find((p) => p.node === node && p.state === "running");
      return held.length === 1 && here ? here : undefined;
    }, `${name} running on ${node}`, timeoutMs);
  }

  /** Stops a node's daemon gracefully (SIGTERM) and waits for it to exit. */
  async stop(node: string): Promise<void> {
    const child = this.children.get(node);
    if (!child) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  async close(): Promise<void> {
    await Promise.all([...this.children.values()].map((child) => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      return exited;
    }));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
