/**
 * One handler per API message type. Adding a message: a request and a response schema in
 * `schemas/api.schema.ts`, a function here.
 * @module
 */
import process from "node:process";
import type { BalanceGrant, MessageType, NodeLoad, NodeStatus, RequestOf, ResponseOf } from "../../schemas/api.schema.ts";
import type { NodeState } from "../node/mod.ts";
import type { ReplicaStore } from "../store/replicas.ts";
import { FerryError } from "../errors.ts";
import type { SourceHandoffs } from "../handoff/mod.ts";
import { META_HEADER, PRECOPY_HEADER, serveBatch } from "../handoff/mod.ts";
import type { Platform } from "../adapters/platform.ts";
import { faults } from "../faults.ts";
import { snapshotChunks } from "../node/snapshot-stream.ts";
import type { ModuleRegistry } from "../modules/registry.ts";
import { type ConfigEditor, configMigrate } from "./config-migrate.ts";
import type { LogQuery, ProcessLogs } from "../logs/mod.ts";
import { bufferedResponse, jsonResponse, streamResponse } from "./lazy-response.ts";

/** A snapshot up to this size answers a `begin` in one write rather than as a stream. */
const BUFFERED_SNAPSHOT_BYTES = 64 * 1024;

/** Call answers dropped so far by the injected fault `dropCallAnswers`. */
let droppedCallAnswers = 0;

/** An answer whose body breaks before its first byte: the client sees the connection drop. */
function brokenAnswer(reason: string): Response {
  const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.error(new Error(reason)) });
  return streamResponse(stream, { headers: { "content-type": "application/json", "content-length": "64" } });
}

/** A fault that acts on a snapshot's transfer chunk by chunk is injected. */
function transferFaults(): boolean {
  return Boolean(faults.delayPerChunkMs) || faults.breakTransferAfterBytes !== undefined || faults.flipByteAt !== undefined;
}

/** Whether the node serves (`GET /healthz` answers 200) or is starting or stopping (503). */
export type NodeHealth = "starting" | "serving" | "stopping";

/** What the routes need of the daemon. */
export interface RouteContext {
  node: NodeState;
  handoffs: SourceHandoffs;
  balancer: {
    readonly policyName: string;
    readonly loads: NodeLoad[];
    readonly decisions: string[];
    readonly rounds: number;
    /** Answers a peer's `balance.request`: a movable process granted to it, if the policy agrees. */
    grant(request: RequestOf<"balance.request">): BalanceGrant;
  };
  /** Checkpoints this node keeps for its peers (multi-machine mode). */
  replicas: ReplicaStore;
  /** Asks the reconciler to look at these processes (all when absent) now. */
  reconcile(names?: string[]): void;
  platform: Pick<Platform, "name" | "version">;
  onShutdown(): void;
  /** The module versions this node can serve to peers (none until a registry is wired in). */
  modules: Pick<ModuleRegistry, "bundleByHash">;
  /** Edits cluster.yaml for `config.migrate` (given by the CLI's `ferry daemon`; absent in tests). */
  configEditor?: ConfigEditor | undefined;
  /** The node's process logs (`logs.read`, `logs.follow`). */
  logs: Pick<ProcessLogs, "read" | "follow">;
  /** The node's metrics as Prometheus text (`GET /metrics`). */
  metrics: { render(): string };
  health(): NodeHealth;
}

type MessageRoutes = { [K in MessageType]: (ctx: RouteContext, body: RequestOf<K>, signal: AbortSignal, bytes?: Uint8Array) => Promise<ResponseOf<K> | Response> };


const messages: MessageRoutes = {
  async status({ node, platform, balancer }): Promise<NodeStatus> {
    const memory = process.memoryUsage();
    const ps = node.ps();
    return {
      node: node.node,
      cluster: node.loaded.config.cluster.name,
      runtime: platform.name,
      version: platform.version,
      pid: process.pid,
      uptimeMs: Date.now() - node.startedAt,
      url: node.loaded.config.nodes[node.node]!.url,
      load: {
        processes: node.processes().length,
        running: ps.filter((p) => p.state === "running").length,
        executors: node.pool.workers,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      },
      configError: node.configError,
      configRevision: node.configRevision,
      store: node.storeKind,
      storage: node.storageProblems,
      balancer: { policy: balancer.policyName, loads: balancer.loads, decisions: [...balancer.decisions], rounds: balancer.rounds },
      modules: node.modules(),
      processes: ps,
    };
  },

  async ps({ node }) {
    return node.ps();
  },

  async shutdown({ onShutdown }) {
    setTimeout(onShutdown, 10);
    return { ok: true };
  },

  async call({ node }, body) {
    const answer = await node.call(body.name, body.method, body.args, body.timeoutMs ?? node.settings.callTimeoutMs, body.callId);
    if (faults.dropCallAnswers && droppedCallAnswers < faults.dropCallAnswers) {
      droppedCallAnswers++;
      return brokenAnswer("injected fault: call answer dropped");
    }
    return answer;
  },

  async reconcile({ node, reconcile }, body) {
    if (body.reload) await node.reloadConfig();
    reconcile(body.names);
    return { ok: true };
  },

  async locate({ node }, body) {
    return node.locate(body.name);
  },

  async "locate.batch"({ node }, body) {
    return Object.fromEntries(body.names.map((name) => [name, node.locate(name)]));
  },

  async load({ node }) {
    return node.grants.load();
  },

  async "balance.request"({ balancer }, body) {
    return balancer.grant(body);
  },

  async "balance.offer"({ node }, body) {
    node.grants.want(body.name, body.from, body.generation);
    return { ok: true };
  },

  async "handoff.begin"({ handoffs }, body) {
    const { snapshot, meta } = await handoffs.begin(body);
    const headers = { "content-type": "application/octet-stream", [META_HEADER]: JSON.stringify(meta) };
    // A small snapshot goes out in one write (the injected transfer faults need the stream).
    if (snapshot instanceof Uint8Array && snapshot.byteLength <= BUFFERED_SNAPSHOT_BYTES && !transferFaults()) return bufferedResponse(snapshot, { headers });
    const chunks = snapshotChunks(snapshot, "send")[Symbol.asyncIterator]();
    let offset = 0;
    // Streamed in chunks (a large state straight from its executor); a destination that
    // disconnects mid-transfer cancels the stream, and the process resumes here at once instead
    // of waiting for the hand-off timeout.
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (faults.delayPerChunkMs) await new Promise((r) => setTimeout(r, faults.delayPerChunkMs));
        if (faults.breakTransferAfterBytes !== undefined && offset >= faults.breakTransferAfterBytes && offset < snapshot.byteLength) {
          handoffs.streamBroken(body.name, body.handoffId);
          chunks.return?.()?.catch(() => {});
          return controller.error(new Error("injected fault: transfer broken"));
        }
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
        } catch (error) {
          handoffs.streamBroken(body.name, body.handoffId);
          return controller.error(error);
        }
        if (next.done) return controller.close();
        let chunk = next.value;
        const flip = faults.flipByteAt;
        if (flip !== undefined && flip >= offset && flip < offset + chunk.byteLength) {
          chunk = chunk.slice();
          chunk[flip - offset]! ^= 1;
        }
        controller.enqueue(chunk);
        offset += chunk.byteLength;
      },
      cancel() {
        chunks.return?.()?.catch(() => {});
        handoffs.streamBroken(body.name, body.handoffId);
      },
    });
    return streamResponse(stream, { headers: { ...headers, "content-length": String(snapshot.byteLength) } });
  },

  async "handoff.commit"({ handoffs }, body) {
    return handoffs.commit(body);
  },

  async "handoff.abort"({ handoffs }, body) {
    return handoffs.abort(body);
  },

  async "handoff.status"({ handoffs }, body) {
    return handoffs.status(body);
  },

  async "handoff.batch"({ handoffs, node }, body) {
    return serveBatch(handoffs, body.items, (type, name) => node.trace.mark("api", type, name));
  },

  async "handoff.precopy"({ node }, body) {
    const { parts, round } = await node.precopy.round(body);
    const length = parts.reduce((sum, part) => sum + part.byteLength, 0);
    const headers = { "content-type": "application/octet-stream", "content-length": String(length), [PRECOPY_HEADER]: JSON.stringify(round) };
    // The link a begin's transfer breaks on breaks a round's too.
    const limit = faults.breakTransferAfterBytes ?? Infinity;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let sent = 0;
        for (const part of parts) {
          if (sent + part.byteLength > limit) {
            controller.enqueue(part.subarray(0, limit - sent));
            return controller.error(new Error("injected fault: transfer broken"));
          }
          controller.enqueue(part);
          sent += part.byteLength;
        }
        controller.close();
      },
    });
    return streamResponse(stream, { headers });
  },

  async "handoff.precopy.end"({ node }, body) {
    node.precopy.end(body);
    return { ok: true };
  },

  async "checkpoint.replicate"({ replicas }, body, _signal, bytes) {
    await replicas.save({ ...body, bytes: bytes ?? new Uint8Array() });
    return { ok: true };
  },

  async liveness({ node }) {
    return { storeReachable: node.storeReachable };
  },

  async "checkpoint.fetch"({ replicas, node }, body) {
    const bytes = replicas.read(body.name, body.generation);
    if (!bytes) throw new FerryError("checkpoint_missing", `Node "${node.node}" keeps no replica of "${body.name}" at generation ${body.generation}`);
    return bufferedResponse(bytes, { headers: { "content-type": "application/octet-stream" } });
  },

  async "module.fetch"({ node, modules }, body) {
    const bundle = await modules.bundleByHash(body.hash);
    if (bundle) return bundle;
    // 404 rather than the code's usual 422: this node lacks that version, another peer may have it.
    const error = {
      code: "module_not_found",
      message: `No module version "${body.hash.slice(0, 12)}" on node "${node.node}"`,
      hint: "ask a node whose processes/ folder or module cache holds it",
      retryable: false,
    };
    return jsonResponse({ error }, { status: 404 });
  },

  async nodes({ node }) {
    const { config } = node.loaded;
    return { cluster: config.cluster.name, node: node.node, nodes: Object.entries(config.nodes).map(([name, spec]) => ({ name, url: spec.url })) };
  },

  async "config.migrate"(ctx, body) {
    return await configMigrate(ctx, body);
  },

  async "process.upgrade"({ node }, body) {
    return node.upgrade(body.name, { dryRun: body.dryRun });
  },

  async "logs.read"({ logs }, body) {
    return logs.read(logQuery(body));
  },

  async "logs.follow"({ logs }, body, signal) {
    const query = logQuery(body);
    return ndjson((stop) => logs.follow(query, stop), signal);
  },
};

function logQuery(body: RequestOf<"logs.read">): LogQuery {
  if (body.sinceTs !== undefined && Number.isNaN(Date.parse(body.sinceTs))) {
    throw new FerryError("bad_request", `Invalid "sinceTs" "${body.sinceTs}"`, { hint: "an ISO time, e.g. 2026-11-27T03:00:00Z" });
  }
  return body;
}

/** A streamed NDJSON answer of what `items` yields, ended when the client hangs up. */
function ndjson(items: (signal: AbortSignal) => AsyncGenerator<unknown>, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });
  const iterator = items(stop.signal);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(JSON.stringify(value) + "\n"));
    },
    cancel() {
      stop.abort();
      void iterator.return(undefined);
    },
  });
  return streamResponse(stream, { headers: { "content-type": "application/x-ndjson" } });
}

function events({ node }: RouteContext, follow: boolean, signal: AbortSignal): Response {
  if (!follow) {
    const text = node.events.recent().map((e) => JSON.stringify(e) + "\n").join("");
    return bufferedResponse(text, { headers: { "content-type": "application/x-ndjson" } });
  }
  return ndjson((stop) => node.events.follow(stop), signal);
}

export const routes = { messages, events };
