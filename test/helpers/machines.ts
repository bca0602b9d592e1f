/**
 * "Separate machines" on one host for multi-machine tests. Each machine is its own copy of a
 * project directory — its own cluster.yaml, its own `processes/` holding only the modules given
 * for it, its own data dir — and runs one node's daemon through the real CLI (the command line
 * `ferry up` uses), with its own network stack when the host allows it (see `netns.ts`: a Linux
 * network namespace per machine on a private bridge; otherwise loopback ports). Nothing is shared
 * through the filesystem and, in netns mode, nothing through 127.0.0.1.
 *
 * The helper writes the YAML text the test gives it (a function of the addresses it allocated),
 * so it knows nothing of the config's schema: a local-mode file and one with
 * `cluster.store.etcd: [...]` are written the same way. With `etcd`, an etcd cluster is started
 * on the host address every machine reaches, and its endpoints are in the layout.
 *
 * @example
 * ```ts
 * const lab = await Machines.create({
 *   machines: [{ node: "alpha", modules: ["Tally"] }, { node: "beta" }],
 *   etcd: { members: 3 },
 *   config: (layout) => clusterYaml(layout, { settings: { store: { etcd: layout.etcd } } }),
 * });
 * try {
 *   await lab.startAll();
 *   const { stdout } = await lab.machine("beta").cli(["status", "--json"]);
 *   await lab.machine("alpha").kill();
 * } finally {
 *   await lab.close();
 * }
 * ```
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { parse } from "yaml";
import { daemonCommandLine, findDeno } from "../../cli/daemon-command.ts";
import { ApiClient, type JsonMessageType } from "../../daemon/api/client.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import { OwnedChild } from "./child.ts";
import { EtcdCluster, type EtcdOptions } from "./etcd.ts";
import { type NetworkMode, TestNetwork } from "./netns.ts";
import { freePorts } from "./ports.ts";
import { GiveUp, waitFor } from "./wait.ts";

const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const fixtures = join(repo, "test/fixtures/processes");
/** The secret {@link clusterYaml} writes and {@link Machine.client} uses by default. */
export const MACHINE_SECRET = "test-secret-of-the-machines";
/** Port every daemon listens on in netns mode (each machine has an address of its own). */
const NETNS_PORT = 7101;

/** What one machine holds and runs. */
export interface MachineSpec {
  /** The node whose daemon this machine runs; also the machine's name. */
  node: string;
  /** Fixture modules (`test/fixtures/processes/<name>.ts`) copied into its processes/. @default [] */
  modules?: string[];
  /** More files, path relative to the machine's directory → content (a module of its own, input data). */
  files?: Record<string, string>;
  /** Runtime of its daemon (and of its `runtime:` in {@link clusterYaml}). @default "node" */
  runtime?: "node" | "deno";
}

/** Where one machine's daemon is reached. */
export interface MachineAddress {
  node: string;
  host: string;
  port: number;
  url: string;
  runtime: "node" | "deno";
}

/** What the addresses turned out to be: the input of the config function. */
export interface Layout {
  mode: NetworkMode;
  /** The test host as the machines see it (where etcd listens): the bridge address or 127.0.0.1. */
  hostAddress: string;
  /** node → its daemon's address, in the order the machines were given. */
  machines: Record<string, MachineAddress>;
  /** etcd client URLs when `etcd` was asked for, else empty. */
  etcd: string[];
}

export interface MachinesOptions {
  machines: MachineSpec[];
  /** The cluster.yaml text each machine starts with (`node` is the machine it is for). */
  config: (layout: Layout, node: string) => string;
  /** Start an etcd cluster every machine can reach. */
  etcd?: Omit<EtcdOptions, "host">;
  /** See {@link TestNetwork.create}. @default "auto" */
  network?: "auto" | NetworkMode;
}

/** The result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A plain cluster.yaml for `layout`: name, {@link MACHINE_SECRET}, `settings` as more `cluster:`
 * keys (values written as JSON, which YAML reads as flow style), every machine under `nodes:`,
 * and `processes` as name → flow-mapping body.
 *
 * @example
 * ```ts
 * clusterYaml(layout, { settings: { store: { etcd: layout.etcd } }, processes: { c: "module: Tally, node: alpha" } });
 * ```
 */
export function clusterYaml(layout: Layout, options: { settings?: Record<string, unknown>; processes?: Record<string, string> } = {}): string {
  return [
    "cluster:",
    "  name: machines",
    `  secret: ${MACHINE_SECRET}`,
    // Namespaced machines talk plain HTTP on private addresses the test made: an explicit opt-in.
    ...Object.entries({ ...(layout.mode === "netns" ? { insecure: true } : {}), ...options.settings }).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    "nodes:",
    ...Object.values(layout.machines).map((m) => `  ${m.node}: { url: "${m.url}"${m.runtime === "deno" ? ", runtime: deno" : ""} }`),
    "processes:" + (Object.keys(options.processes ?? {}).length ? "" : " {}"),
    ...Object.entries(options.processes ?? {}).map(([name, body]) => `  ${name}: { ${body} }`),
    "",
  ].join("\n");
}

export class Machine {
  readonly node: string;
  /** This machine's project directory. */
  readonly dir: string;
  /** Its cluster.yaml. */
  readonly file: string;
  readonly address: MachineAddress;
  /** Its network namespace (netns mode). */
  readonly namespace: string | undefined;
  /** The network this machine sits on. */
  readonly network: TestNetwork;
  #daemon: OwnedChild | undefined;
  #earlierLogs = "";

  /** @internal Built by {@link Machines.create}. */
  constructor(dir: string, address: MachineAddress, network: TestNetwork) {
    this.node = address.node;
    this.dir = dir;
    this.file = join(dir, "cluster.yaml");
    this.address = address;
    this.network = network;
    this.namespace = network.namespace(address.node);
  }

  get url(): string {
    return this.address.url;
  }

  /** Everything this machine's daemon printed, across restarts. */
  get log(): string {
    return this.#earlierLogs + (this.#daemon?.log ?? "");
  }

  /** The daemon's pid while it runs. */
  get pid(): number | undefined {
    return this.#daemon?.running ? this.#daemon.pid : undefined;
  }

  /** True while the daemon process exists (paused included). */
  get running(): boolean {
    return this.#daemon?.running ?? false;
  }

  readConfig(): string {
    return readFileSync(this.file, "utf8");
  }

  /** Replaces this machine's cluster.yaml the way an editor saves (write aside, rename). */
  writeConfig(text: string): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.file);
  }

  /** This node's data directory: `<cluster.dataDir (default .ferry)>/<node>` under the machine's dir. */
  get dataDir(): string {
    let configured: unknown;
    try {
      configured = (parse(this.readConfig()) as { cluster?: { dataDir?: unknown } } | null)?.cluster?.dataDir;
    } catch {
      // A broken file (tests write those on purpose) still has the default place.
    }
    return join(this.dir, typeof configured === "string" ? configured : ".ferry", this.node);
  }

  /** Removes the node's data directory (journal, checkpoints): the machine lost its disk. */
  deleteDataDir(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /**
   * Starts this machine's daemon (`ferry daemon --node <node>` inside its namespace) and, unless
   * `wait` is false, resolves once its API answers HTTP; fails at once with the log if it exits.
   *
   * @example
   * ```ts
   * await lab.machine("alpha").start();
   * await lab.machine("beta").start({ env: { FERRY_TRACE: "1" }, wait: false });
   * ```
   */
  async start(options: { env?: Record<string, string>; wait?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.#daemon?.running) throw new Error(`Cannot start machine "${this.node}": its daemon already runs (pid ${this.#daemon.pid})`);
    this.#earlierLogs += this.#daemon?.log ?? "";
    const line = daemonCommandLine(this.address.runtime, this.node, this.file);
    const { command, args } = this.network.wrap(this.node, line.command, line.args);
    const daemon = OwnedChild.spawn(command, args, { cwd: this.dir, env: { ...process.env, ...line.env, FERRY_SECRET: "", FERRY_CONFIG: "", ...options.env } });
    this.#daemon = daemon;
    if (options.wait === false) return;
    await waitFor(async () => {
      if (!daemon.running) throw new GiveUp(`daemon of machine "${this.node}" exited (${daemon.exit}):\n${daemon.log.trim()}`);
      await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.body?.cancel());
      return true;
    }, `machine "${this.node}" to answer on ${this.url}`, options.timeoutMs ?? 30_000, 50);
  }

  /**
   * Stops the daemon by `signal` and resolves once it exited: SIGTERM is a graceful stop,
   * SIGKILL a crash. No-op when it is not running.
   *
   * @example
   * ```ts
   * await lab.machine("alpha").stop();
   * ```
   */
  async stop(signal: "SIGTERM" | "SIGINT" | "SIGKILL" = "SIGTERM"): Promise<void> {
    await this.#daemon?.stop(signal);
  }

  /** `kill -9` of the daemon; resolves once it is gone. */
  kill(): Promise<void> {
    return this.stop("SIGKILL");
  }

  /** SIGSTOP: the machine freezes (its sockets stay open, nothing answers); resolves once stopped. */
  async pause(): Promise<void> {
    await this.#running("pause").pause();
  }

  /** SIGCONT after {@link Machine.pause}; resolves once it runs again. */
  async resume(): Promise<void> {
    await this.#running("resume").resume();
  }

  /** Cuts the machine off the network, its daemon still running (netns mode only). */
  disconnect(): void {
    this.network.disconnect(this.node);
  }

  /** Undoes {@link Machine.disconnect}. */
  reconnect(): void {
    this.network.reconnect(this.node);
  }

  #running(action: string): OwnedChild {
    if (!this.#daemon?.running) throw new Error(`Cannot ${action} machine "${this.node}": its daemon is not running`);
    return this.#daemon;
  }

  /**
   * Runs the CLI on this machine: inside its namespace, from its directory, with its
   * cluster.yaml, under Node (`cli/bin.mjs`) or Deno (`cli/main.ts`).
   *
   * @example
   * ```ts
   * const { code, stdout } = await lab.machine("beta").cli(["ps", "--json"]);
   * ```
   */
  cli(args: string[], options: { env?: Record<string, string>; runtime?: "node" | "deno"; timeoutMs?: number } = {}): Promise<CliResult> {
    const line = options.runtime === "deno" ? { command: findDeno(), args: ["run", "-A", join(repo, "cli/main.ts")] } : { command: process.execPath, args: [join(repo, "cli/bin.mjs")] };
    // The config by FERRY_CONFIG, not --config: args after "--" belong to the process created.
    return this.run(line.command, [...line.args, ...args], { ...options, env: { FERRY_CONFIG: this.file, ...options.env } });
  }

  /**
   * Runs any program on this machine (inside its namespace, from its directory) to completion,
   * killing it after `timeoutMs`. FERRY_SECRET and FERRY_CONFIG are cleared unless `env` sets them.
   *
   * @example
   * ```ts
   * const { stdout } = await lab.machine("alpha").run(process.execPath, ["-e", "console.log(1)"]);
   * ```
   */
  run(command: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
    const wrapped = this.network.wrap(this.node, command, args);
    const env = { ...process.env, FERRY_SECRET: "", FERRY_CONFIG: "", ...options.env };
    const child = OwnedChild.spawn(wrapped.command, wrapped.args, { cwd: this.dir, env });
    const timer = setTimeout(() => void child.stop("SIGKILL"), options.timeoutMs ?? 60_000);
    return child.closed.then(() => {
      clearTimeout(timer);
      return { code: typeof child.exit === "number" ? child.exit : 1, stdout: child.stdout, stderr: child.stderr };
    });
  }

  /** The API client of this machine's daemon (the one the CLI and the peers use), from the test host. */
  client(secret = MACHINE_SECRET): ApiClient {
    return new ApiClient(this.node, this.url, secret);
  }

  /** Sends one API message to this machine's daemon. */
  async post<T = unknown>(type: string, body: unknown, secret = MACHINE_SECRET): Promise<T> {
    return (await this.client(secret).post(type as JsonMessageType, body as never, { timeoutMs: 30_000 })) as T;
  }
}

export class Machines {
  readonly network: TestNetwork;
  readonly layout: Layout;
  /** The etcd cluster, when `etcd` was asked for. */
  readonly etcd: EtcdCluster | undefined;
  readonly #machines: Map<string, Machine>;
  readonly #root: string;
  #closed: Promise<void> | undefined;

  private constructor(root: string, network: TestNetwork, layout: Layout, etcd: EtcdCluster | undefined, machines: Map<string, Machine>) {
    this.#root = root;
    this.network = network;
    this.layout = layout;
    this.etcd = etcd;
    this.#machines = machines;
  }

  /** Which isolation ran: `netns` or `loopback`. */
  get mode(): NetworkMode {
    return this.network.mode;
  }

  /**
   * Creates the network, etcd (if asked) and every machine's directory with its cluster.yaml,
   * processes/ and files; starts no daemon. Whatever was created is removed again if a step fails.
   *
   * @example
   * ```ts
   * const lab = await Machines.create({ machines: [{ node: "alpha" }, { node: "beta" }], config: (l) => clusterYaml(l) });
   * console.log(lab.mode); // "netns" as root with iproute2, else "loopback"
   * ```
   */
  static async create(options: MachinesOptions): Promise<Machines> {
    const names = options.machines.map((m) => m.node);
    const network = TestNetwork.create(names, { mode: options.network ?? "auto" });
    const root = mkdtempSync(join(tmpdir(), "ferry-machines-"));
    let etcd: EtcdCluster | undefined;
    try {
      etcd = options.etcd ? await EtcdCluster.start({ ...options.etcd, host: network.hostAddress }) : undefined;
      const ports = network.mode === "netns" ? names.map(() => NETNS_PORT) : await freePorts("127.0.0.1", names.length);
      const layout: Layout = { mode: network.mode, hostAddress: network.hostAddress, machines: {}, etcd: [...(etcd?.endpoints ?? [])] };
      options.machines.forEach((spec, i) => {
        const host = network.address(spec.node);
        layout.machines[spec.node] = { node: spec.node, host, port: ports[i]!, url: `http://${host}:${ports[i]}`, runtime: spec.runtime ?? "node" };
      });
      const machines = new Map<string, Machine>();
      for (const spec of options.machines) {
        const dir = join(root, spec.node);
        prepareDir(dir, spec);
        const machine = new Machine(dir, layout.machines[spec.node]!, network);
        machine.writeConfig(options.config(layout, spec.node));
        machines.set(spec.node, machine);
      }
      return new Machines(root, network, layout, etcd, machines);
    } catch (error) {
      await etcd?.stop();
      network.close();
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
  }

  /** The machine running `node`'s daemon. */
  machine(node: string): Machine {
    const machine = this.#machines.get(node);
    if (!machine) throw new Error(`No machine "${node}": machines are ${[...this.#machines.keys()].join(", ")}`);
    return machine;
  }

  /** Every machine, in the order given. */
  get all(): Machine[] {
    return [...this.#machines.values()];
  }

  /** Starts every machine's daemon together and resolves once all answer. */
  /** Every process the running machines hold (a machine that does not answer holds none). */
  async ps(): Promise<ProcessInfo[]> {
    const all = await Promise.all(this.all.filter((m) => m.running).map((m) => m.post<ProcessInfo[]>("ps", {}).catch(() => [])));
    return all.flat();
  }

  /** Waits until `name` runs on `node` and no other machine holds it. */
  runsOn(name: string, node: string, timeoutMs = 30000): Promise<ProcessInfo> {
    return waitFor(async () => {
      const held = (await this.ps()).filter((p) => p.name === name && p.state !== "starting");
      const here = held.find((p) => p.node === node && p.state === "running");
      return held.length === 1 ? here : undefined;
    }, `${name} running on ${node} only`, timeoutMs, 50);
  }

  async startAll(options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<void> {
    await Promise.all(this.all.map((m) => m.start(options)));
  }

  /** Writes the same cluster.yaml text on every machine. */
  writeConfigAll(text: string): void {
    for (const m of this.all) m.writeConfig(text);
  }

  /**
   * Kills every daemon, stops etcd, removes the network and every machine's directory.
   * Idempotent: later calls return the same promise.
   *
   * @example
   * ```ts
   * await lab.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all(this.all.map((m) => m.kill()));
      await this.etcd?.stop();
      this.network.close();
      rmSync(this.#root, { recursive: true, force: true });
    })();
    return this.#closed;
  }
}

/** A machine's project directory: processes/ (ESM, only its modules) and its extra files. */
function prepareDir(dir: string, spec: MachineSpec): void {
  mkdirSync(join(dir, "processes"), { recursive: true });
  writeFileSync(join(dir, "processes/package.json"), '{ "type": "module" }\n');
  for (const module of spec.modules ?? []) {
    const source = join(fixtures, `${module}.ts`);
    if (!existsSync(source)) throw new Error(`No fixture module "${module}" in ${fixtures}`);
    copyFileSync(source, join(dir, "processes", `${module}.ts`));
  }
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}
