/**
 * The node's balancer, a runnable. Every `intervalMs` it gathers every reachable node's load,
 * runs the policy, and carries out the moves that involve this node through the ordinary
 * hand-off: as the receiver it asks the source for a process (`balance.request`) and pulls it; as
 * the sender it grants a process to the receiver (`balance.offer`), which pulls it. The source
 * always has the last word: it grants only unpinned processes that have stayed `minStayMs` and
 * are not moving.
 *
 * It also adopts the unpinned processes of nodes that are gone (see `adoption.ts`).
 *
 * @example
 * ```ts
 * manager.add(new Balancer(node, store, liveness, report));
 * ```
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { statSync } from "node:fs";
import { describeError, FerryError } from "../errors.ts";
import type { BalanceGrant, NodeLoad, RequestOf } from "../../schemas/api.schema.ts";
import type { NodeState } from "../node/mod.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
import type { PeerLiveness } from "../liveness/peers.ts";
import type { FailureReporter, Runnable } from "../manager.ts";
import { delay } from "../manager.ts";
import { isPolicy } from "./policy.ts";
import type { BalancerPolicy, BalancerView, Move } from "./policy.ts";
import { ReceiverInitiated } from "./receiver-initiated.ts";
import { Adoption } from "./adoption.ts";
import { registerProcessLoader } from "../modules/process-loader.ts";

export class Balancer implements Runnable {
  readonly name = "balancer";
  readonly #node: NodeState;
  readonly #liveness: PeerLiveness;
  readonly #adoption: Adoption;
  #policy: BalancerPolicy = new ReceiverInitiated();
  #policyKey = "receiver-initiated";
  /** Decisions shown by `ferry status`, newest last. */
  readonly decisions: string[] = [];
  loads: NodeLoad[] = [];
  /** Rounds completed (shown in status; tests await rounds instead of sleeping). */
  rounds = 0;

  constructor(node: NodeState, store: ClusterStore, liveness: PeerLiveness, report: FailureReporter) {
    this.#node = node;
    this.#liveness = liveness;
    this.#adoption = new Adoption(node, store, (text) => this.#decide(text), report);
  }

  get policyName(): string {
    return this.#node.settings.balancer.policy;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.#adoption.resumeUnfinished();
    while (!signal.aborted) {
      await delay(this.#node.settings.balancer.intervalMs, signal);
      if (signal.aborted) break;
      await this.tick(signal);
    }
    await this.#adoption.settled();
  }

  #decide(text: string): void {
    this.decisions.push(`${new Date().toISOString()} ${text}`);
    if (this.decisions.length > 20) this.decisions.shift();
    this.#node.events.emit({ type: "balanced", message: text });
  }

  /** Loads the configured policy (re-imported when its file changes). */
  async #loadPolicy(): Promise<void> {
    const setting = this.#node.settings.balancer.policy;
    if (setting === "receiver-initiated") {
      if (this.#policyKey !== setting) this.#policy = new ReceiverInitiated();
      this.#policyKey = setting;
      return;
    }
    const path = resolve(this.#node.loaded.dir, setting);
    let version: number;
    try {
      version = Math.floor(statSync(path).mtimeMs);
    } catch {
      throw new FerryError("module_not_found", `Balancer policy "${setting}" not found at ${path}`);
    }
    const key = `${path}?v=${version}`;
    if (key === this.#policyKey) return;
    // A policy written in TypeScript needs Node's type-stripping hooks in this (the main) thread.
    registerProcessLoader(path);
    const module = (await import(`${pathToFileURL(path).href}?v=${version}`)) as { default?: unknown };
    const exported = module.default;
    const policy = typeof exported === "function" ? new (exported as new () => unknown)() : exported;
    if (!isPolicy(policy)) throw new FerryError("module_invalid", `Balancer policy "${setting}" does not export a class or object with propose(view)`);
    this.#policy = policy;
    this.#policyKey = key;
    this.#decide(`policy ${setting} loaded`);
  }

  /** One round: loads, adoption of gone nodes, policy, moves. Failures are recorded as decisions. */
  async tick(signal?: AbortSignal): Promise<void> {
    const node = this.#node;
    try {
      await this.#loadPolicy();
      const loads: NodeLoad[] = [node.grants.load()];
      const unreachable: string[] = [];
      await Promise.all(node.peers().map(async (peer) => {
        try {
          loads.push(await peer.post("load", {}, { timeoutMs: 1000, ...(signal ? { signal } : {}) }));
          this.#liveness.seen(peer.name);
        } catch {
          unreachable.push(peer.name);
        }
      }));
      this.loads = loads.sort((a, b) => (a.node < b.node ? -1 : 1));
      for (const gone of unreachable) {
        if (await this.#liveness.isGone(gone)) this.#adoption.from(gone, loads.map((l) => l.node));
      }
      if (!node.grants.hasUnpinned(node.loaded.config.processes)) return;
      let moves: Move[];
      try {
        moves = this.#policy.propose(this.#view(this.loads));
      } catch (error) {
        throw new FerryError("internal", `Balancer policy failed: ${describeError(error)}`);
      }
      for (const move of moves) await this.#carryOut(move);
    } catch (error) {
      this.#decide(`error: ${describeError(error)}`);
    } finally {
      this.rounds++;
    }
  }

  /**
   * A peer's `balance.request`: grants it one of this node's movable processes, unless the policy
   * says that, with this node's load as it is now, the move no longer holds.
   */
  grant(request: RequestOf<"balance.request">): BalanceGrant {
    const node = this.#node;
    const policy = this.#policy;
    if (request.load !== undefined && policy.grants) {
      const own = node.grants.load();
      let agreed: boolean;
      try {
        agreed = policy.grants({ to: request.to, load: request.load }, this.#view([own, ...this.loads.filter((l) => l.node !== node.node)]));
      } catch (error) {
        this.#decide(`error: Balancer policy failed: ${describeError(error)}`);
        return { name: null };
      }
      if (!agreed) {
        this.#decide(`${request.to} asked for a process; not given: load ${own.load.toFixed(2)} here against ${request.load.toFixed(2)} there`);
        return { name: null };
      }
    }
    return node.grants.grant(request.process, request.to);
  }

  /** What a policy sees: these nodes' loads, this node's movable processes and the settings. */
  #view(nodes: NodeLoad[]): BalancerView {
    const node = this.#node;
    return { self: node.node, nodes, candidates: node.grants.movable(), settings: node.settings.balancer };
  }

  async #carryOut(move: Move): Promise<void> {
    const node = this.#node;
    if (move.to === node.node && move.from !== node.node) {
      const peer = node.peer(move.from);
      if (!peer) return;
      // Our load as it is now, for the giver's policy to weigh against its own; a giver of an
      // older release refuses the field unread, and is asked without it.
      const request = { to: node.node, load: node.grants.load().load, ...(move.process ? { process: move.process } : {}) };
      const grant = await peer.post("balance.request", request, { timeoutMs: 2000, newFields: ["load"] });
      if (!grant.name) return;
      this.#decide(`${grant.name}: ${move.from} → ${move.to} (${move.reason})`);
      node.grants.want(grant.name, move.from, grant.generation ?? 0);
    } else if (move.from === node.node && move.to !== node.node && move.process) {
      const peer = node.peer(move.to);
      const grant = node.grants.grant(move.process, move.to);
      if (!peer || !grant.name) return;
      this.#decide(`${grant.name}: ${move.from} → ${move.to} (${move.reason})`);
      await peer.post("balance.offer", { name: grant.name, generation: grant.generation ?? 0, from: node.node }, { timeoutMs: 2000 });
    }
  }
}
