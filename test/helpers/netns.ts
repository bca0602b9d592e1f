/**
 * Separate network stacks for test "machines" on one host. As root with iproute2, each machine
 * gets its own Linux network namespace (loopback up, one veth into a bridge in the root
 * namespace) and its own address in a private /24 (`10.77.X.0/24`, X picked so it overlaps no
 * address or route the host has, nor another test's bridge); the test host is `10.77.X.1` on the
 * bridge, so etcd listening there and the test's own clients reach every machine, and machines
 * reach each other, and nothing else. Elsewhere (not root, no `ip`), every machine is 127.0.0.1
 * and only its port tells it apart: {@link TestNetwork.mode} says which ran.
 *
 * Everything created carries the owner's pid (bridge alias `ferry-test:<pid>`); creating a
 * network first removes what a crashed earlier run left (namespaces, veths, bridge, and the
 * processes still inside those namespaces), and the test process removes its own on exit even
 * if the test forgot `close()`. Creation and that sweep run under a lock directory, so test
 * files running in parallel never take the same subnet or sweep each other's.
 *
 * @example
 * ```ts
 * const net = TestNetwork.create(["alpha", "beta"]);
 * try {
 *   net.address("alpha");                           // "10.77.4.10" (or "127.0.0.1")
 *   const { command, args } = net.wrap("alpha", "node", ["server.js"]);
 *   spawn(command, args);                            // runs inside alpha's namespace
 * } finally {
 *   net.close();
 * }
 * ```
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export type NetworkMode = "netns" | "loopback";

export interface NetworkOptions {
  /**
   * `auto` uses namespaces when they can be created and loopback otherwise; the environment
   * variable FERRY_TEST_NETWORK (`netns` | `loopback`) overrides `auto`.
   * @default "auto"
   */
  mode?: "auto" | NetworkMode;
}

const BRIDGE = /^ferrybr(\d{1,3})$/;
const VETH = /^ferry(\d{1,3})h\d+$/;
const NAMESPACE = /^ferry-(\d{1,3})-m\d+$/;
const ALIAS = /^ferry-test:(\d+)$/;
const LOCK_DIR = "ferry-test-net.lock";

/** Runs `ip` and returns its stdout; throws with its stderr on failure. */
function ip(...args: string[]): string {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`Cannot run "ip ${args.join(" ")}": ${stderr || (error as Error).message}`, { cause: error });
  }
}

/** `ip` for cleanup: failures (already gone) are fine. */
function ipQuiet(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Nothing to remove.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why namespaces cannot be used here, or undefined when they can be tried. */
function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `platform is "${process.platform}"`;
  if (process.getuid?.() !== 0) return "not running as root";
  try {
    ip("-V");
  } catch {
    return "iproute2 (ip) is not installed";
  }
  return undefined;
}

/** A held lock directory (mkdir is atomic); a lock whose holder died is taken over. */
function withLock<T>(body: () => T): T {
  const base = statSafe("/run")?.isDirectory() ? "/run" : tmpdir();
  const lock = join(base, LOCK_DIR);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        // Just created, pid not written yet (or the holder died right there: see the age check).
      }
      const age = Date.now() - (statSafe(lock)?.mtimeMs ?? Date.now());
      if ((holder && !alive(holder)) || (!holder && age > 10_000)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`Cannot lock "${lock}" for test networks: held by pid ${holder}`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function statSafe(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

interface Link {
  ifname: string;
  ifalias?: string;
}

function links(): Link[] {
  return JSON.parse(ip("-j", "link", "show")) as Link[];
}

function namespaces(): string[] {
  const out = ip("-j", "netns", "list").trim();
  return out ? (JSON.parse(out) as { name: string }[]).map((n) => n.name) : [];
}

/** Subnet numbers X whose bridge belongs to a live test process. */
function liveSubnets(all: Link[]): Set<number> {
  const live = new Set<number>();
  for (const link of all) {
    const bridge = BRIDGE.exec(link.ifname);
    const owner = ALIAS.exec(link.ifalias ?? "");
    if (bridge && owner && alive(Number(owner[1]))) live.add(Number(bridge[1]));
  }
  return live;
}

/** Kills what runs inside namespace `ns` and deletes it. */
function removeNamespace(ns: string): void {
  let pids: number[] = [];
  try {
    pids = ip("netns", "pids", ns).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Gone already.
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }
  ipQuiet("netns", "del", ns);
}

/** Removes the namespaces, veths and bridges of test networks whose owner process is gone. */
function sweepLeftovers(): void {
  const all = links();
  const live = liveSubnets(all);
  for (const ns of namespaces()) {
    const m = NAMESPACE.exec(ns);
    if (m && !live.has(Number(m[1]))) removeNamespace(ns);
  }
  for (const link of all) {
    const m = VETH.exec(link.ifname) ?? BRIDGE.exec(link.ifname);
    if (m && !live.has(Number(m[1]))) ipQuiet("link", "del", link.ifname);
  }
}

/** IPv4 prefixes the host already uses (addresses and routes), as [network, bits]. */
function usedPrefixes(): [number, number][] {
  const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const out: [number, number][] = [];
  for (const iface of JSON.parse(ip("-j", "-4", "addr", "show")) as { addr_info?: { local: string; prefixlen: number }[] }[]) {
    for (const a of iface.addr_info ?? []) out.push([toInt(a.local), a.prefixlen]);
  }
  for (const r of JSON.parse(ip("-j", "-4", "route", "show", "table", "all")) as { dst: string }[]) {
    if (r.dst === "default" || !/^\d+\.\d+\.\d+\.\d+/.test(r.dst)) continue;
    const [addr, bits] = r.dst.split("/");
    out.push([toInt(addr!), bits === undefined ? 32 : Number(bits)]);
  }
  return out;
}

/** The first X whose 10.77.X.0/24 overlaps nothing in use and has no bridge of ours. */
function pickSubnet(all: Link[]): number {
  const used = usedPrefixes();
  const taken = new Set(all.flatMap((l) => BRIDGE.exec(l.ifname)?.[1] ?? []).map(Number));
  for (let x = 0; x < 256; x++) {
    if (taken.has(x)) continue;
    const net = ((10 * 256 + 77) * 256 + x) * 256;
    const overlaps = used.some(([addr, bits]) => {
      const common = Math.min(bits, 24);
      const shift = 2 ** (32 - common);
      return Math.floor(addr / shift) === Math.floor(net / shift);
    });
    if (!overlaps) return x;
  }
  throw new Error("Cannot pick a test subnet: every 10.77.X.0/24 overlaps an address or route of this host");
}

const open = new Set<TestNetwork>();
let hooked = false;

export class TestNetwork {
  /** Which kind of isolation this network gives. */
  readonly mode: NetworkMode;
  /** Why namespaces were not used (loopback mode only). */
  readonly fallbackReason: string | undefined;
  /** The test host's address as the machines see it: the bridge, or 127.0.0.1. */
  readonly hostAddress: string;
  /** The `/24` in netns mode (e.g. "10.77.4.0/24"). */
  readonly subnet: string | undefined;
  readonly #names: string[];
  readonly #x: number | undefined;
  #closed = false;

  private constructor(names: string[], x: number | undefined, fallbackReason: string | undefined) {
    this.#names = names;
    this.#x = x;
    this.mode = x === undefined ? "loopback" : "netns";
    this.fallbackReason = fallbackReason;
    this.hostAddress = x === undefined ? "127.0.0.1" : `10.77.${x}.1`;
    this.subnet = x === undefined ? undefined : `10.77.${x}.0/24`;
  }

  /**
   * Creates one namespace per name (or, when they cannot be created and `mode` is `auto`, a
   * loopback network). With `mode: "netns"` a failure throws instead of falling back.
   *
   * @example
   * ```ts
   * const net = TestNetwork.create(["alpha", "beta"]);
   * console.log(net.mode, net.fallbackReason ?? "");
   * ```
   */
  static create(names: string[], options: NetworkOptions = {}): TestNetwork {
    const env = process.env.FERRY_TEST_NETWORK;
    const mode = options.mode === "auto" || options.mode === undefined ? (env === "netns" || env === "loopback" ? env : "auto") : options.mode;
    if (new Set(names).size !== names.length) throw new Error(`Cannot create a test network: machine names "${names.join(", ")}" repeat`);
    if (mode === "loopback") return TestNetwork.#track(new TestNetwork(names, undefined, "loopback asked for"));
    const reason = netnsUnavailable();
    if (reason && mode === "netns") throw new Error(`Cannot create network namespaces: ${reason}`);
    if (reason) return TestNetwork.#track(new TestNetwork(names, undefined, reason));
    let network: TestNetwork | undefined;
    try {
      const x = withLock(() => {
        sweepLeftovers();
        const chosen = pickSubnet(links());
        const bridge = `ferrybr${chosen}`;
        ip("link", "add", "name", bridge, "type", "bridge");
        try {
          ip("link", "set", bridge, "alias", `ferry-test:${process.pid}`);
        } catch (error) {
          ipQuiet("link", "del", bridge);
          throw error;
        }
        return chosen;
      });
      network = TestNetwork.#track(new TestNetwork(names, x, undefined));
      network.#build();
      return network;
    } catch (error) {
      network?.close();
      if (mode === "netns") throw error;
      return TestNetwork.#track(new TestNetwork(names, undefined, (error as Error).message));
    }
  }

  /**
   * Why {@link TestNetwork.create} would fall back to loopback here (FERRY_TEST_NETWORK included),
   * or undefined when it will try namespaces.
   *
   * @example
   * ```ts
   * if (TestNetwork.unavailable()) console.log("loopback only");
   * ```
   */
  static unavailable(): string | undefined {
    return process.env.FERRY_TEST_NETWORK === "loopback" ? "loopback asked for" : netnsUnavailable();
  }

  /**
   * Removes what test processes that are gone left behind: their namespaces (killing what still
   * runs inside), veths and bridges. {@link TestNetwork.create} does it before it creates one.
   *
   * @example
   * ```ts
   * TestNetwork.sweep();
   * ```
   */
  static sweep(): void {
    if (netnsUnavailable()) return;
    withLock(sweepLeftovers);
  }

  static #track(network: TestNetwork): TestNetwork {
    open.add(network);
    if (!hooked) {
      hooked = true;
      process.on("exit", () => {
        for (const n of open) n.close();
      });
    }
    return network;
  }

  #build(): void {
    const bridge = this.#bridge()!;
    // Bridged frames skip the host's iptables, whatever its FORWARD policy.
    ipQuiet("link", "set", bridge, "type", "bridge", "nf_call_iptables", "0");
    ip("addr", "add", `${this.hostAddress}/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
    this.#names.forEach((_, i) => {
      const ns = this.namespace(this.#names[i]!)!;
      const inner = `ferry${this.#x}n${i}`;
      ip("netns", "add", ns);
      ip("-n", ns, "link", "set", "lo", "up");
      ip("link", "add", this.#veth(i), "type", "veth", "peer", "name", inner, "netns", ns);
      ip("link", "set", this.#veth(i), "master", bridge, "up");
      ip("-n", ns, "addr", "add", `${this.#addressOf(i)}/24`, "dev", inner);
      ip("-n", ns, "link", "set", inner, "up");
    });
  }

  #index(name: string): number {
    const i = this.#names.indexOf(name);
    if (i < 0) throw new Error(`No machine "${name}" in this test network: machines are ${this.#names.join(", ")}`);
    return i;
  }

  #bridge(): string | undefined {
    return this.#x === undefined ? undefined : `ferrybr${this.#x}`;
  }

  #veth(i: number): string {
    return `ferry${this.#x}h${i}`;
  }

  #addressOf(i: number): string {
    return this.#x === undefined ? "127.0.0.1" : `10.77.${this.#x}.${10 + i}`;
  }

  /** The machines' names, in creation order. */
  get names(): readonly string[] {
    return this.#names;
  }

  /**
   * The address machine `name` listens on and is reached at.
   *
   * @example
   * ```ts
   * net.address("beta"); // "10.77.4.11" in netns mode, "127.0.0.1" in loopback mode
   * ```
   */
  address(name: string): string {
    return this.#addressOf(this.#index(name));
  }

  /** The namespace of machine `name` (netns mode), e.g. "ferry-4-m1". */
  namespace(name: string): string | undefined {
    return this.#x === undefined ? undefined : `ferry-${this.#x}-m${this.#index(name)}`;
  }

  /**
   * The command line that runs `command` inside machine `name`'s namespace (`ip netns exec`
   * replaces itself with the command, so the pid and signals are the command's own); in
   * loopback mode the command unchanged.
   *
   * @example
   * ```ts
   * net.wrap("alpha", "node", ["-v"]); // { command: "ip", args: ["netns", "exec", "ferry-4-m0", "node", "-v"] }
   * ```
   */
  wrap(name: string, command: string, args: string[]): { command: string; args: string[] } {
    const ns = this.namespace(name);
    return ns ? { command: "ip", args: ["netns", "exec", ns, command, ...args] } : { command, args };
  }

  /**
   * Cuts machine `name` off the network (its veth goes down): the host, etcd and the other
   * machines are unreachable from it and it from them, while its processes keep running.
   * Netns mode only.
   *
   * @example
   * ```ts
   * net.disconnect("alpha");
   * net.reconnect("alpha");
   * ```
   */
  disconnect(name: string): void {
    ip("link", "set", this.#vethOf(name, "disconnect"), "down");
  }

  /** Brings machine `name`'s link back up after {@link TestNetwork.disconnect}. */
  reconnect(name: string): void {
    ip("link", "set", this.#vethOf(name, "reconnect"), "up");
  }

  #vethOf(name: string, action: string): string {
    const i = this.#index(name);
    if (this.#x === undefined) throw new Error(`Cannot ${action} machine "${name}": it needs network namespaces (${this.fallbackReason})`);
    return this.#veth(i);
  }

  /**
   * Kills whatever still runs in the namespaces, removes them, their veths and the bridge.
   * Idempotent and synchronous (it also runs from the exit hook).
   *
   * @example
   * ```ts
   * net.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    open.delete(this);
    if (this.#x === undefined) return;
    this.#names.forEach((name, i) => {
      // Deleting the veth first: a deleted namespace's devices go away only later, asynchronously.
      ipQuiet("link", "del", this.#veth(i));
      removeNamespace(this.namespace(name)!);
    });
    ipQuiet("link", "del", this.#bridge()!);
  }
}
