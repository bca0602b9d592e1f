/**
 * One handler per API message type. Adding a message: a schema in `schemas/api.schema.ts`, a
 * function here.
 * @module
 */
import process from "node:process";
import type { MessageType, NodeStatus, RequestOf } from "../../schemas/api.schema.ts";
import type { NodeRuntime } from "../runtime.ts";
import { abortHandoff, beginHandoff, commitHandoff, handoffStatus, rollback } from "../handoff/outgoing.ts";
import { META_HEADER } from "../handoff/incoming.ts";
import type { Platform } from "../adapters/platform.ts";
import { faults } from "../faults.ts";
import { grantProcess, nodeLoad, wantProcess } from "../balancer/placement.ts";

export interface RouteContext {
  runtime: NodeRuntime;
  platform: Pick<Platform, "name" | "version">;
  onShutdown(): void;
}

type MessageRoutes = { [K in MessageType]: (ctx: RouteContext, body: RequestOf<K>) => Promise<unknown> };

const CHUNK = 1 << 20;

const messages: MessageRoutes = {
  async status({ runtime, platform }): Promise<NodeStatus> {
    const memory = process.memoryUsage();
    const ps = runtime.ps();
    return {
      node: runtime.node,
      cluster: runtime.loaded.config.cluster.name,
      runtime: platform.name,
      version: platform.version,
      pid: process.pid,
      uptimeMs: Date.now() - runtime.startedAt,
      url: runtime.loaded.config.nodes[runtime.node]!.url,
      load: {
        processes: runtime.table.size,
        running: ps.filter((p) => p.state === "running").length,
        executors: runtime.pool.workers,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      },
      configError: runtime.configError,
      balancer: { policy: runtime.settings.balancer.policy, loads: runtime.balancer.loads, decisions: [...runtime.balancer.decisions] },
      modules: [...runtime.modules.values()].map(({ version: _v, ...m }) => m),
      processes: ps,
    };
  },

  async ps({ runtime }) {
    return runtime.ps();
  },

  async shutdown({ onShutdown }) {
    setTimeout(onShutdown, 10);
    return { ok: true };
  },

  async call({ runtime }, body) {
    return runtime.call(body.name, body.method, body.args, body.timeoutMs ?? runtime.settings.callTimeoutMs);
  },

  async reconcile({ runtime }, body) {
    if (body.reload) await runtime.reloadConfig();
    for (const name of body.names ?? []) runtime.queue.add(name);
    if (!body.names) runtime.enqueueAll();
    return { ok: true };
  },

  async locate({ runtime }, body) {
    return runtime.locate(body.name);
  },

  async load({ runtime }) {
    return nodeLoad(runtime);
  },

  async "balance.request"({ runtime }, body) {
    return grantProcess(runtime, body.process, body.to);
  },

  async "balance.offer"({ runtime }, body) {
    wantProcess(runtime, body.name, body.from, body.generation);
    return { ok: true };
  },

  async "locate.batch"({ runtime }, body) {
    return Object.fromEntries(body.names.map((name) => [name, runtime.locate(name)]));
  },

  async "handoff.begin"({ runtime }, body) {
    const { snapshot, meta } = await beginHandoff(runtime, body);
    let offset = 0;
    // Streamed in chunks; a destination that disconnects mid-transfer cancels the stream, and the
    // process resumes here at once instead of waiting for the hand-off timeout.
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (offset >= snapshot.byteLength) return controller.close();
        if (faults.delayPerChunkMs) await new Promise((r) => setTimeout(r, faults.delayPerChunkMs));
        if (faults.breakTransferAfterBytes !== undefined && offset >= faults.breakTransferAfterBytes) {
          const local = runtime.table.get(body.name);
          if (local) void rollback(runtime, local, body.handoffId, "the transfer broke off");
          return controller.error(new Error("injected fault: transfer broken"));
        }
        const end = Math.min(offset + CHUNK, snapshot.byteLength);
        controller.enqueue(snapshot.subarray(offset, end));
        offset = end;
      },
      cancel() {
        const local = runtime.table.get(body.name);
        if (local) void rollback(runtime, local, body.handoffId, "the destination disconnected mid-transfer");
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(snapshot.byteLength),
        [META_HEADER]: JSON.stringify(meta),
      },
    });
  },

  async "handoff.commit"({ runtime }, body) {
    return commitHandoff(runtime, body);
  },

  async "handoff.abort"({ runtime }, body) {
    return abortHandoff(runtime, body);
  },

  async "handoff.status"({ runtime }, body) {
    return handoffStatus(runtime, body);
  },
};

function events({ runtime }: RouteContext, follow: boolean, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  if (!follow) {
    const text = runtime.events.recent().map((e) => JSON.stringify(e) + "\n").join("");
    return new Response(text, { headers: { "content-type": "application/x-ndjson" } });
  }
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });
  const iterator = runtime.events.follow(stop.signal);
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
  return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
}

export const routes = { messages, events };
