/**
 * A real etcd cluster for one test: 1 or 3 members of the `etcd` binary on free ports of one
 * address (loopback, or the bridge address the test machines reach), each with its own temp data
 * dir, fast elections, and logs kept. Faults are real: a member is SIGKILLed, the whole cluster is
 * frozen with SIGSTOP (its ports stay open and nothing answers) or stopped with its data kept, and
 * every wait is for an observed state (a status answer, a put/get round trip, a process state).
 * A crashed earlier test run's members are found by their owner file and killed on the next start.
 *
 * @example
 * ```ts
 * const etcd = await EtcdCluster.start({ members: 3 });
 * try {
 *   await etcd.kill(0);                 // SIGKILL member 0
 *   await etcd.waitHealthy();           // the other two still have a leader and serve put/get
 *   await etcd.restart(0);
 * } finally {
 *   await etcd.stop();                  // every member killed, data dirs removed
 * }
 * ```
 * @module
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Etcd3 } from "etcd3";
import { OwnedChild } from "./child.ts";
import { freePorts } from "./ports.ts";
import { GiveUp, waitFor } from "./wait.ts";

export interface EtcdOptions {
  /** @default 1 */
  members?: 1 | 3;
  /** Address every member listens on, for clients and peers. @default "127.0.0.1" */
  host?: string;
  /** Raft heartbeat. @default 50 */
  heartbeatMs?: number;
  /** Raft election timeout. @default 500 */
  electionMs?: number;
  /** The etcd binary. @default process.env.FERRY_TEST_ETCD ?? "etcd" */
  binary?: string;
  /** How long start() and restarts wait for the cluster to serve. @default 30000 */
  timeoutMs?: number;
}

/** One member: its name, URLs, data dir and, while it runs, its process. */
export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The current process (undefined before the first start); logs of earlier runs are in {@link EtcdCluster.log}. */
  child: OwnedChild | undefined;
}

const PREFIX = "ferry-etcd-";
const OWNER_FILE = "owner.json";

/** True when `pid` names a live process (signal 0 probes without delivering anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Kills the members a crashed earlier test run left behind (their owner process is gone) and
 * removes their directories. A member is killed only if its command line still names its dir,
 * so a reused pid is left alone.
 */
function reapLeftovers(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    let owner: { owner: number; members: number[] };
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8"));
    } catch {
      continue; // Being created right now, or not ours.
    }
    if (alive(owner.owner)) continue;
    for (const pid of owner.members) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)) process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A client that fails fast: a short dial timeout, so a dead endpoint is not waited on for 30 s. */
function quickClient(hosts: string[]): Etcd3 {
  return new Etcd3({ hosts, dialTimeout: 1_000 });
}

export class EtcdCluster {
  /** Client URLs of every member, in member order (whether it runs now or not). */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  /** Where the members listen. */
  readonly host: string;
  readonly #root: string;
  readonly #args: (i: number) => string[];
  readonly #binary: string;
  readonly #timeoutMs: number;
  readonly #logs: string[];
  #stopped: Promise<void> | undefined;

  private constructor(root: string, host: string, members: EtcdMember[], args: (i: number) => string[], binary: string, timeoutMs: number) {
    this.#root = root;
    this.host = host;
    this.members = members;
    this.endpoints = members.map((m) => m.clientUrl);
    this.#args = args;
    this.#binary = binary;
    this.#timeoutMs = timeoutMs;
    this.#logs = members.map(() => "");
  }

  /**
   * Starts a fresh cluster and resolves once it has a leader and serves a put/get round trip.
   * A port taken in the meantime by someone else makes it try again on new ports.
   *
   * @example
   * ```ts
   * const etcd = await EtcdCluster.start({ members: 3, host: "10.77.3.1" });
   * etcd.endpoints; // ["http://10.77.3.1:40211", "http://10.77.3.1:38907", "http://10.77.3.1:45533"]
   * ```
   */
  static async start(options: EtcdOptions = {}): Promise<EtcdCluster> {
    const binary = options.binary ?? process.env.FERRY_TEST_ETCD ?? "etcd";
    const probe = spawnSync(binary, ["--version"], { encoding: "utf8" });
    if (probe.error || probe.status !== 0) {
      throw new Error(`Cannot start etcd: "${binary} --version" failed (${probe.error?.message ?? probe.stderr.trim()}); install Debian's etcd-server (.ci/run does) or set FERRY_TEST_ETCD`);
    }
    reapLeftovers();
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const cluster = await EtcdCluster.#create(options);
      try {
        for (let i = 0; i < cluster.members.length; i++) cluster.#spawn(i);
        await cluster.waitHealthy(cluster.#timeoutMs);
        return cluster;
      } catch (error) {
        last = error;
        const portTaken = cluster.members.some((_, i) => /address already in use/.test(cluster.log(i)));
        await cluster.stop();
        if (!portTaken) break;
      }
    }
    throw last;
  }

  static async #create(options: EtcdOptions): Promise<EtcdCluster> {
    const count = options.members ?? 1;
    const host = options.host ?? "127.0.0.1";
    const root = mkdtempSync(join(tmpdir(), PREFIX));
    writeFileSync(join(root, OWNER_FILE), JSON.stringify({ owner: process.pid, members: [] }));
    const ports = await freePorts(host, count * 2);
    const hostPart = host.includes(":") ? `[${host}]` : host;
    const members: EtcdMember[] = Array.from({ length: count }, (_, i) => ({
      name: `m${i}`,
      clientUrl: `http://${hostPart}:${ports[2 * i]}`,
      peerUrl: `http://${hostPart}:${ports[2 * i + 1]}`,
      dataDir: join(root, `m${i}`),
      child: undefined,
    }));
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const token = `ferry-test-${randomBytes(6).toString("hex")}`;
    const args = (i: number): string[] => {
      const m = members[i]!;
      return [
        "--name", m.name,
        "--data-dir", m.dataDir,
        "--listen-client-urls", m.clientUrl,
        "--advertise-client-urls", m.clientUrl,
        "--listen-peer-urls", m.peerUrl,
        "--initial-advertise-peer-urls", m.peerUrl,
        "--initial-cluster", initialCluster,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", token,
        "--heartbeat-interval", String(options.heartbeatMs ?? 50),
        "--election-timeout", String(options.electionMs ?? 500),
        "--logger", "zap",
        "--log-level", "warn",
      ];
    };
    const binary = options.binary ?? process.env.FERRY_TEST_ETCD ?? "etcd";
    return new EtcdCluster(root, host, members, args, binary, options.timeoutMs ?? 30_000);
  }

  #spawn(i: number): void {
    const member = this.#member(i);
    if (member.child?.running) throw new Error(`Cannot start etcd member "${member.name}": it is already running`);
    mkdirSync(member.dataDir, { recursive: true, mode: 0o700 });
    // Keep earlier runs' output: a restarted member's log continues its first one's.
    this.#logs[i] += member.child?.log ?? "";
    member.child = OwnedChild.spawn(this.#binary, this.#args(i), { cwd: this.#root });
    this.#writeOwner();
  }

  #writeOwner(): void {
    const pids = this.members.flatMap((m) => (m.child?.running && m.child.pid !== undefined ? [m.child.pid] : []));
    if (existsSync(this.#root)) writeFileSync(join(this.#root, OWNER_FILE), JSON.stringify({ owner: process.pid, members: pids }));
  }

  #member(i: number): EtcdMember {
    const member = this.members[i];
    if (!member) throw new Error(`No etcd member "${i}": members are 0..${this.members.length - 1}`);
    return member;
  }

  /** Indexes of the members whose process runs now (paused ones included). */
  running(): number[] {
    return this.members.flatMap((m, i) => (m.child?.running ? [i] : []));
  }

  /** Everything member `i` logged (warnings and errors), across restarts. */
  log(i: number): string {
    return this.#logs[i]! + (this.#member(i).child?.log ?? "");
  }

  /**
   * A new client on the endpoints of the running members (or the given ones), with a 1 s dial
   * timeout; the caller closes it. etcd3's default fault handling holds a host off for 5 s after
   * three failed attempts, so take a new client after a fault rather than waiting on an old one.
   *
   * @example
   * ```ts
   * const client = etcd.client();
   * try { await client.put("k").value("v"); } finally { client.close(); }
   * ```
   */
  client(endpoints: readonly string[] = this.running().map((i) => this.endpoints[i]!)): Etcd3 {
    return quickClient([...endpoints]);
  }

  /**
   * Resolves once every running member answers `maintenance.status()` naming the same leader and
   * a put/get round trip through them succeeds; rejects after `timeoutMs` with the last reason
   * and the members' logs. A member that exited on its own fails it at once.
   *
   * @example
   * ```ts
   * await etcd.waitHealthy(10_000);
   * ```
   */
  async waitHealthy(timeoutMs = this.#timeoutMs): Promise<void> {
    const indexes = this.running();
    if (indexes.length === 0) throw new Error("Cannot wait for etcd to be healthy: no member runs (restart() or up() first)");
    try {
      await waitFor(async () => {
        for (const i of indexes) {
          const child = this.members[i]!.child!;
          if (!child.running) throw new GiveUp(`etcd member "${this.members[i]!.name}" exited (${child.exit})`);
        }
        const leaders = await Promise.all(indexes.map((i) => this.#leaderSeenBy(i)));
        if (leaders.some((l) => l === "0" || l !== leaders[0])) return false;
        return await this.#roundTrip(indexes.map((i) => this.endpoints[i]!));
      }, `etcd members ${indexes.join(", ")} to be healthy`, timeoutMs, 50);
    } catch (error) {
      const logs = indexes.map((i) => `--- ${this.members[i]!.name}\n${this.log(i).trim()}`).join("\n");
      throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
    }
  }

  async #leaderSeenBy(i: number): Promise<string> {
    const client = quickClient([this.endpoints[i]!]);
    try {
      const status = await client.maintenance.status({ deadline: Date.now() + 1_000 });
      return String(status.leader);
    } finally {
      client.close();
    }
  }

  async #roundTrip(endpoints: string[]): Promise<boolean> {
    const client = quickClient(endpoints);
    try {
      const value = randomBytes(8).toString("hex");
      await client.put("ferry-test/health").value(value).options({ deadline: Date.now() + 2_000 });
      return (await client.get("ferry-test/health").options({ deadline: Date.now() + 2_000 }).string()) === value;
    } finally {
      client.close();
    }
  }

  /**
   * Sends `signal` to member `i` and resolves once it exited (SIGKILL: a crash, nothing flushed).
   *
   * @example
   * ```ts
   * await etcd.kill(1);
   * ```
   */
  async kill(i: number, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const child = this.#member(i).child;
    if (child?.running) await child.stop(signal);
    this.#writeOwner();
  }

  /**
   * Starts member `i` again on its data dir and ports, and resolves once it answers a status
   * request (it rejoins; call {@link EtcdCluster.waitHealthy} to wait for the whole cluster).
   *
   * @example
   * ```ts
   * await etcd.kill(1);
   * await etcd.restart(1);
   * await etcd.waitHealthy();
   * ```
   */
  async restart(i: number): Promise<void> {
    const member = this.#member(i);
    if (member.child?.running) await this.kill(i);
    this.#spawn(i);
    await waitFor(async () => {
      if (!member.child!.running) throw new GiveUp(`etcd member "${member.name}" exited (${member.child!.exit})`);
      return (await this.#leaderSeenBy(i)) !== undefined;
    }, `etcd member "${member.name}" to answer`, this.#timeoutMs, 50).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.log(i).trim()}`, { cause: error });
    });
  }

  /**
   * Freezes every running member with SIGSTOP: etcd is "down" but its ports stay open, so clients
   * hang until their deadline (the partition-like failure). Resolves once all are stopped.
   *
   * @example
   * ```ts
   * await etcd.pause();
   * await assertRejects(client.get("k").options({ deadline: Date.now() + 500 }));
   * await etcd.resume();
   * ```
   */
  async pause(): Promise<void> {
    await Promise.all(this.running().map((i) => this.members[i]!.child!.pause()));
  }

  /** Continues every frozen member (SIGCONT); then {@link EtcdCluster.waitHealthy} awaits service. */
  async resume(): Promise<void> {
    await Promise.all(this.running().map((i) => this.members[i]!.child!.resume()));
  }

  /**
   * Stops every member (SIGTERM by default), keeping their data: etcd is down and connections are
   * refused. {@link EtcdCluster.up} brings the same cluster back.
   *
   * @example
   * ```ts
   * await etcd.down();
   * await etcd.up();
   * ```
   */
  async down(signal: "SIGKILL" | "SIGTERM" = "SIGTERM"): Promise<void> {
    // One at a time: members terminated together each wait seconds for peers that are leaving.
    for (let i = 0; i < this.members.length; i++) await this.kill(i, signal);
  }

  /** Starts every stopped member on its kept data and resolves once the cluster is healthy. */
  async up(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) if (!this.members[i]!.child?.running) this.#spawn(i);
    await this.waitHealthy();
  }

  /**
   * Kills every member and removes the data dirs. Idempotent: later calls return the same promise.
   *
   * @example
   * ```ts
   * await etcd.stop();
   * ```
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await Promise.all(this.members.map((m) => m.child?.stop("SIGKILL")));
      rmSync(this.#root, { recursive: true, force: true });
    })();
    return this.#stopped;
  }
}
