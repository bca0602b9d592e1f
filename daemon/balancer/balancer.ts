/**
 * The node's balancer loop. Every `intervalMs` it gathers every reachable node's load, runs the
 * policy, and carries out the moves that involve this node through the ordinary hand-off: as the
 * receiver it asks the source for a process (`balance.request`) and pulls it; as the sender it
 * grants a process to the receiver (`balance.offer`), which pulls it. The source always has the
 * last word: it grants only unpinned processes that have stayed `minStayMs` and are not moving.
 *
 * It also watches for nodes that are gone — API unreachable and heartbeat file stale for
 * `goneAfterMs` — and adopts their unpinned processes from their latest checkpoints, fencing the
 * gone node's journal first so that it does not resume them if it comes back.
 *
 * @example
 * ```ts
 * const balancer = new Balancer(runtime);
 * balancer.start();
 * ```
 * @module
 */
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { randomUUID } from "node:crypto";
import { Buffer } from "node:buffer";
import process from "node:process";
import { describeError, FerryError } from "../errors.ts";
import type { BalanceGrant, NodeLoad } from "../../schemas/api.schema.ts";
import type { NodeRuntime } from "../runtime.ts";
import { applyFence, applyRecord, readFences, writeFence } from "../store/mod.ts";
import type { JournalRecord, JournalState } from "../store/mod.ts";
import { isPolicy } from "./policy.ts";
import type { BalancerPolicy, BalancerView, Move } from "./policy.ts";
import { ReceiverInitiated } from "./receiver-initiated.ts";
import { grantProcess, hasUnpinned, movable, nodeLoad, wantProcess } from "./placement.ts";
import { adopt, checkFences } from "./adoption.ts";

const HEARTBEAT_MS = 1000;

/** Rendezvous hashing: every node that sees the same node list picks the same home for a name. */
export function homeOf(name: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const node of nodes) {
    let h = 2166136261;
    for (const ch of `${node}\u0000${name}`) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
    if (h > bestScore || (h === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = h;
    }
  }
  return best;
}

export class Balancer {
  readonly #runtime: NodeRuntime;
  #policy: BalancerPolicy = new ReceiverInitiated();
  #policyKey = "receiver-initiated";
  #timer?: ReturnType<typeof setInterval>;
  #heartbeat?: ReturnType<typeof setInterval>;
  #busy = false;
  /** Decisions shown by `ferry status`, newest last. */
  readonly decisions: string[] = [];
  loads: NodeLoad[] = [];
  /** When each peer was last heard from (API answered). */
  readonly #lastSeen = new Map<string, number>();
  readonly #startedAt = Date.now();

  constructor(runtime: NodeRuntime) {
    this.#runtime = runtime;
  }

  get policyName(): string {
    return this.#policyKey;
  }

  start(): void {
    this.#beat();
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
    this.#timer = setInterval(() => void this.tick(), this.#runtime.settings.balancer.intervalMs);
  }

  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
  }

  /** A file whose mtime says this daemon is alive, for peers that cannot reach its API. */
  #beat(): void {
    void checkFences(this.#runtime);
    const file = join(this.#runtime.dataDir, "alive");
    try {
      const now = new Date();
      if (existsSync(file)) utimesSync(file, now, now);
      else writeFileSync(file, String(process.pid));
    } catch {
      // the data directory is checked elsewhere; a missed beat only delays nothing
    }
  }

  /** Loads the configured policy (re-imported when its file changes). */
  async #loadPolicy(): Promise<void> {
    const setting = this.#runtime.settings.balancer.policy;
    if (setting === "receiver-initiated") {
      if (this.#policyKey !== setting) this.#policy = new ReceiverInitiated();
      this.#policyKey = setting;
      return;
    }
    const path = resolve(this.#runtime.loaded.dir, setting);
    let version: number;
    try {
      version = Math.floor(statSync(path).mtimeMs);
    } catch {
      throw new FerryError("module_not_found", `Balancer policy "${setting}" not found at ${path}`);
    }
    const key = `${path}?v=${version}`;
    if (key === this.#policyKey) return;
    const module = (await import(`${pathToFileURL(path).href}?v=${version}`)) as { default?: unknown };
    const exported = module.default;
    const policy = typeof exported === "function" ? new (exported as new () => unknown)() : exported;
    if (!isPolicy(policy)) throw new FerryError("module_invalid", `Balancer policy "${setting}" does not export a class or object with propose(view)`);
    this.#policy = policy;
    this.#policyKey = key;
    this.#decide(`policy ${setting} loaded`);
  }

  #decide(text: string): void {
    this.decisions.push(`${new Date().toISOString()} ${text}`);
    if (this.decisions.length > 20) this.decisions.shift();
    this.#runtime.events.emit({ type: "balanced", message: text });
  }

  /** One round: loads, policy, moves, adoption of gone nodes. Never runs twice at once. */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#loadPolicy();
      const runtime = this.#runtime;
      const loads: NodeLoad[] = [nodeLoad(runtime)];
      const unreachable: string[] = [];
      await Promise.all([...runtime.peers.values()].map(async (peer) => {
        try {
          loads.push(await peer.post<NodeLoad>("load", {}, 1000));
          this.#lastSeen.set(peer.name, Date.now());
        } catch {
          unreachable.push(peer.name);
        }
      }));
      this.loads = loads.sort((a, b) => (a.node < b.node ? -1 : 1));
      for (const gone of unreachable.filter((n) => this.#isGone(n))) await this.#adoptFrom(gone, loads.map((l) => l.node));
      if (!hasUnpinned(runtime)) return;
      const view: BalancerView = { self: runtime.node, nodes: this.loads, candidates: movable(runtime), settings: runtime.settings.balancer };
      let moves: Move[];
      try {
        moves = this.#policy.propose(view);
      } catch (error) {
        throw new FerryError("internal", `Balancer policy failed: ${describeError(error)}`);
      }
      for (const move of moves) await this.#carryOut(move);
    } catch (error) {
      this.#decide(`error: ${describeError(error)}`);
    } finally {
      this.#busy = false;
    }
  }

  async #carryOut(move: Move): Promise<void> {
    const runtime = this.#runtime;
    if (move.to === runtime.node && move.from !== runtime.node) {
      const peer = runtime.peers.get(move.from);
      if (!peer) return;
      const grant = await peer.post<BalanceGrant>("balance.request", { to: runtime.node, ...(move.process ? { process: move.process } : {}) }, 2000);
      if (!grant.name) return;
      this.#decide(`${grant.name}: ${move.from} → ${move.to} (${move.reason})`);
      wantProcess(runtime, grant.name, move.from, grant.generation ?? 0);
    } else if (move.from === runtime.node && move.to !== runtime.node && move.process) {
      const peer = runtime.peers.get(move.to);
      const grant = grantProcess(runtime, move.process, move.to);
      if (!peer || !grant.name) return;
      this.#decide(`${grant.name}: ${move.from} → ${move.to} (${move.reason})`);
      await peer.post("balance.offer", { name: grant.name, generation: grant.generation ?? 0, from: runtime.node }, 2000);
    }
  }

  /**
   * Whether `node`, unreachable, can be ignored when deciding who creates `name`: it is gone and
   * its journal does not own `name` (if it does, adoption takes it over instead).
   */
  ignorable(node: string, name: string): boolean {
    if (!this.#isGone(node)) return false;
    const file = join(this.#runtime.loaded.dataDir, node, "journal.ndjson");
    try {
      const mtime = statSync(file).mtimeMs;
      let cached = this.#journals.get(node);
      if (!cached || cached.mtime !== mtime) {
        cached = { mtime, state: replay(readFileSync(file, "utf8")) };
        this.#journals.set(node, cached);
      }
      return !cached.state.owned.has(name);
    } catch {
      return true; // never journalled anything
    }
  }
  readonly #journals = new Map<string, { mtime: number; state: JournalState }>();

  /** Gone: its API has not answered and its heartbeat file has not moved for goneAfterMs. */
  #isGone(node: string): boolean {
    const limit = this.#runtime.settings.balancer.goneAfterMs;
    const seen = this.#lastSeen.get(node) ?? this.#startedAt;
    if (Date.now() - seen < limit) return false;
    try {
      return Date.now() - statSync(join(this.#runtime.loaded.dataDir, node, "alive")).mtimeMs > limit;
    } catch {
      return true;
    }
  }

  /**
   * Takes over the unpinned processes a gone node held, each by exactly one adopter (a lock file
   * decides) and at most once (a `released` record in the gone node's journal fences it).
   */
  async #adoptFrom(gone: string, alive: string[]): Promise<void> {
    const runtime = this.#runtime;
    const dir = join(runtime.loaded.dataDir, gone);
    const journalFile = join(dir, "journal.ndjson");
    if (!existsSync(journalFile)) return;
    const state = replay(readFileSync(journalFile, "utf8"));
    for (const fence of readFences(dir)) applyFence(state, fence);
    for (const owned of state.owned.values()) {
      const spec = runtime.desired(owned.name);
      if (!spec || spec.node !== undefined || owned.status === "prepared") continue;
      if (homeOf(owned.name, alive) !== runtime.node) continue;
      if (runtime.table.has(owned.name)) continue;
      const lock = join(dir, `adopt-${owned.name}@${owned.generation}`);
      try {
        writeFileSync(lock, runtime.node, { flag: "wx" });
      } catch {
        continue; // another node adopts it
      }
      const checkpoint = state.checkpoints.get(owned.name);
      let snapshot: Uint8Array | undefined;
      if (checkpoint?.generation === owned.generation) {
        snapshot = checkpoint.data
          ? new Uint8Array(Buffer.from(checkpoint.data, "base64"))
          : readOptional(join(dir, "checkpoints", `${owned.name}@${owned.generation}.snap`));
      }
      const handoffId = `adopt-${randomUUID()}`;
      writeFence(dir, { name: owned.name, generation: owned.generation, to: runtime.node, handoffId });
      // A node that only seemed gone (slow, not dead) sees the fence at its next heartbeat and
      // drops its copy; give it that long before this copy runs.
      await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
      if (!this.#isGone(gone)) {
        this.#decide(`${owned.name}: ${gone} is back; it drops its copy (fenced) and this node adopts it`);
      }
      await adopt(runtime, owned, snapshot, gone);
      this.#decide(`${owned.name}: adopted from ${gone}, which is gone (${snapshot ? "from its latest checkpoint" : "no checkpoint: restarted from its args"})`);
    }
  }
}

function replay(text: string): JournalState {
  const state: JournalState = { owned: new Map(), checkpoints: new Map(), released: new Map(), aborted: new Set() };
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      applyRecord(state, JSON.parse(line) as JournalRecord);
    } catch {
      // torn last line
    }
  }
  return state;
}

function readOptional(file: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(file));
  } catch {
    return undefined;
  }
}
