/**
 * The CLI's view of a cluster: {@link ClusterClient} talks to every node of cluster.yaml at once
 * through the one API client (`daemon/api/client.ts`, here also called {@link NodeClient}).
 *
 * @example
 * ```ts
 * const cluster = new ClusterClient(await loadClusterConfig("cluster.yaml"));
 * const where = await cluster.locate("counter"); // { node: "alpha", generation: 3, ... } or null
 * ```
 * @module
 */
import type { LocateResponse } from "../schemas/api.schema.ts";
import type { ClusterConfig } from "../schemas/cluster.schema.ts";
import { FerryError, isFerryError } from "../daemon/errors.ts";
import { ApiClient, type JsonMessageType, type RequestBody, type RequestOptions } from "../daemon/api/client.ts";
import type { ResponseOf } from "../schemas/api.schema.ts";
import type { Transport } from "../daemon/api/transport.ts";

export type { RequestBody, RequestOptions };

/** Client of one node's daemon. */
export const NodeClient = ApiClient;
export type NodeClient = ApiClient;

/** Answers of a fan-out: nodes that take longer are most likely down or wedged. */
const defaultFanOutTimeoutMs = 2_000;

/** One node's outcome in a fan-out. */
export type NodeResult<R> =
  | { node: string; url: string; ok: true; value: R }
  | { node: string; url: string; ok: false; error: FerryError };

/** Where a process runs, as its holder reports it. */
export interface Location {
  node: string;
  generation: number;
  state: NonNullable<LocateResponse["state"]> | null;
}

/** What a {@link ClusterClient} needs of a loaded cluster.yaml (a `LoadedConfig` fits). */
export interface ClusterTarget {
  config: ClusterConfig;
  /** FERRY_SECRET or cluster.secret, already resolved. */
  secret: string;
}

/**
 * Client of every node of a cluster.
 *
 * @example
 * ```ts
 * const cluster = new ClusterClient(loaded);
 * for (const r of await cluster.fanOut("status", {})) console.log(r.node, r.ok ? r.value.version : r.error.message);
 * ```
 */
export class ClusterClient {
  /** Node clients in cluster.yaml order. */
  readonly nodes: readonly NodeClient[];
  readonly config: ClusterConfig;

  constructor(target: ClusterTarget, transport?: Transport) {
    this.config = target.config;
    this.nodes = Object.entries(target.config.nodes).map(([name, spec]) => new ApiClient(name, spec.url, target.secret, transport));
  }

  /**
   * The client of one node; a `FerryError` ("not_found") listing the nodes for an unknown name.
   *
   * @example
   * ```ts
   * const beta = cluster.node("beta");
   * ```
   */
  node(name: string): NodeClient {
    const found = this.nodes.find((n) => n.name === name);
    if (!found) {
      throw new FerryError("not_found", `No node named "${name}" in cluster.yaml`, {
        hint: `known nodes: ${this.nodes.map((n) => n.name).join(", ")}`,
      });
    }
    return found;
  }

  /**
   * Sends one message to every node in parallel; never throws, one result per node in
   * cluster.yaml order. The timeout is short by default so that a dead node costs little.
   *
   * @example
   * ```ts
   * const results = await cluster.fanOut("ps", {});
   * const answered = results.filter((r) => r.ok);
   * ```
   */
  fanOut<T extends JsonMessageType>(type: T, body: RequestBody<T>, options: RequestOptions = {}): Promise<NodeResult<ResponseOf<T>>[]> {
    const timeoutMs = options.timeoutMs ?? defaultFanOutTimeoutMs;
    return this.each((node) => node.post(type, body, { ...options, timeoutMs }));
  }

  /**
   * Runs `fn` against every node in parallel and collects results and FerryErrors per node.
   *
   * @example
   * ```ts
   * const results = await cluster.each((node) => node.post("status", {}, { timeoutMs: 500 }));
   * ```
   */
  async each<R>(fn: (node: NodeClient) => Promise<R>, nodes: readonly NodeClient[] = this.nodes): Promise<NodeResult<R>[]> {
    return await Promise.all(nodes.map(async (node): Promise<NodeResult<R>> => {
      try {
        return { node: node.name, url: node.url, ok: true, value: await fn(node) };
      } catch (error) {
        const ferryError = isFerryError(error)
          ? error
          : new FerryError("internal", `Request to node "${node.name}" failed: ${String(error)}`, { cause: error });
        return { node: node.name, url: node.url, ok: false, error: ferryError };
      }
    }));
  }

  /**
   * Which node holds `name` now, or null when no reachable node does. A node that is only
   * preparing an incoming hand-off (`inDoubt`) does not count. Throws the first node's error when
   * no node answered at all, since "nowhere" would then be a guess.
   *
   * @example
   * ```ts
   * const where = await cluster.locate("counter");
   * if (where) console.log(`counter runs on ${where.node} (generation ${where.generation})`);
   * ```
   */
  async locate(name: string, options: RequestOptions = {}): Promise<Location | null> {
    const results = await this.fanOut("locate", { name }, options);
    const answered = results.filter((r) => r.ok);
    if (answered.length === 0) {
      const first = results.find((r) => !r.ok);
      if (first && !first.ok) throw first.error;
    }
    let best: Location | null = null;
    for (const r of answered) {
      if (!r.ok || !r.value.holds || r.value.inDoubt) continue;
      const candidate: Location = { node: r.node, generation: r.value.generation ?? 0, state: r.value.state ?? null };
      // Two holders can only be seen mid-commit; the higher generation is the newer truth.
      if (!best || candidate.generation > best.generation) best = candidate;
    }
    return best;
  }
}
