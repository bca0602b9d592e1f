/**
 * Puts one node together: its state, the reconciler and work queue, the hand-off sessions, the
 * balancer, the lease, periodic checkpoints and resync, all under one manager, plus the API
 * handler that serves them. No server and no file watcher here: `daemon.ts` adds those for a
 * real daemon, and tests wire several assembled nodes through their handlers in one process.
 *
 * @example
 * ```ts
 * const assembled = await assembleNode({ node: "alpha", loaded, platform, onShutdown });
 * const res = await assembled.handler(new Request(`${url}/v1/ps`, { method: "POST", headers, body: "{}" }));
 * await assembled.stop();
 * ```
 * @module
 */
import type { LoadedConfig } from "./config/mod.ts";
import { join } from "node:path";
import { describeError } from "./errors.ts";
import { every, Manager, type Runnable } from "./manager.ts";
import { NodeState } from "./node/mod.ts";
import { NodeReconciler } from "./reconcile/node-reconciler.ts";
import { WorkQueue } from "./reconcile/queue.ts";
import { SourceHandoffs } from "./handoff/mod.ts";
import { Balancer } from "./balancer/mod.ts";
import { openStore } from "./store/open.ts";
import { ReplicaStore } from "./store/replicas.ts";
import type { Replicas } from "./store/etcd/etcd-store.ts";
import type { ClusterStore } from "./store/cluster-store.ts";
import { PeerLiveness } from "./liveness/peers.ts";
import { leaseRenewal, renewOnce } from "./liveness/lease.ts";
import { createHandler, type Handler } from "./api/handler.ts";
import type { Transport } from "./api/transport.ts";
import type { Platform } from "./adapters/platform.ts";
import type { ConfigEditor } from "./api/config-migrate.ts";
import { ProcessLogs, recordLifecycle } from "./logs/mod.ts";
import { NodeMetrics } from "./metrics/mod.ts";
import type { NodeHealth } from "./api/routes.ts";

export interface AssembleOptions {
  node: string;
  loaded: LoadedConfig;
  platform: Pick<Platform, "name" | "version">;
  /** Called when the API is asked to shut the node down. */
  onShutdown(): void;
  /** Re-reads the config (the daemon's watcher); absent in tests that set configs by hand. */
  reloadConfig?: () => Promise<void>;
  /** How this node reaches its peers. @default keep-alive HTTP */
  transport?: Transport;
  /** @default the store cluster.yaml names (etcd), else a LocalStore over its dataDir */
  store?: ClusterStore;
  /** The revision `loaded` is, when the store keeps revisions. */
  revision?: string;
  /** The module versions that revision names. */
  moduleHashes?: Record<string, string>;
  /** More loops to run under the node's manager (the daemon's config sync). */
  runnables?: Runnable[];
  log?: (level: "info" | "warn" | "error", line: string) => void;
  /** Lets the API edit cluster.yaml (`config.migrate`, the web page's move control). */
  configEditor?: ConfigEditor;
}

export interface AssembledNode {
  readonly state: NodeState;
  readonly handler: Handler;
  readonly store: ClusterStore;
  /** The output and lifecycle lines of the node's processes. */
  readonly logs: ProcessLogs;
  readonly metrics: NodeMetrics;
  /** Takes a new good config (from the watcher, or a revision from the store). */
  updateConfig(loaded: LoadedConfig, revision?: string, moduleHashes?: Record<string, string>): void;
  rejectConfig(error: unknown): void;
  /** Stops every loop, checkpoints every process, closes the executors and the journal. */
  stop(): Promise<void>;
}

/**
 * Assembles and starts one node (its processes are restored and its loops run).
 *
 * @example
 * ```ts
 * const { state, handler, stop } = await assembleNode(options);
 * ```
 */
export async function assembleNode(options: AssembleOptions): Promise<AssembledNode> {
  const log = options.log ?? ((level, line) => (level === "info" ? console.log : console.error)(line));
  const report = (source: string, error: unknown) => log("error", `ferry: ${source} failed: ${describeError(error)}`);
  const manager = new Manager(report);
  const settings = () => state.settings;
  const replicaStore = new ReplicaStore(join(options.loaded.dataDir, options.node, "replicas"));
  const store = options.store ?? (await openStore(options.node, options.loaded, { replicas: peerReplicas(options.node, () => state) }));
  let queue: WorkQueue | undefined;
  let metrics: NodeMetrics | undefined;
  let opened: NodeState | undefined;
  const logs = await ProcessLogs.open({
    node: options.node,
    dir: join(options.loaded.dataDir, options.node, "logs"),
    limits: () => (opened?.settings ?? options.loaded.config.cluster).logs,
    report,
  });
  const state: NodeState = await NodeState.open({
    node: options.node,
    loaded: options.loaded,
    store,
    tasks: manager.tasks,
    enqueue: (name) => queue?.add(name),
    ...(options.reloadConfig ? { reloadConfig: options.reloadConfig } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
    log,
    output: (name, generation, stream, text) => logs.write(name, generation, stream, text),
    journal: { onFsync: (ms) => metrics?.observeFsync(ms) },
    ...(options.revision ? { revision: options.revision } : {}),
    ...(options.moduleHashes ? { moduleHashes: options.moduleHashes } : {}),
    // The first lease is taken before any process is restored: fences written while this node
    // was down are seen before anything runs.
    beforeRestore: (s) => renewOnce(s, store),
  });
  opened = state;
  // Both read the events emitted while the node opened, then subscribe.
  const detachLogs = recordLifecycle(state.events, logs, (name) => state.get(name)?.generation);
  metrics = new NodeMetrics({ node: options.node, events: state.events, ps: () => state.ps(), modules: () => state.modules(), runtime: options.platform });
  const nodeMetrics = metrics;
  const liveness = new PeerLiveness(store, () => settings().balancer.goneAfterMs);
  queue = new WorkQueue(new NodeReconciler(state, liveness), {
    // One edit moving a thousand processes pulls them in one wave: their hand-off messages and
    // journal records travel in a few batches instead of a trickle of small ones.
    concurrency: 1024,
    onError: (name, error) => state.noteError(name, error),
    onRecovered: (name) => state.clearError(name),
  });
  const handoffs = new SourceHandoffs(state);
  const balancer = new Balancer(state, store, liveness, report);
  const enqueueAll = () => {
    for (const name of state.names()) queue!.add(name);
  };
  manager.add({
    name: "work queue",
    start: async (signal) => {
      enqueueAll();
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      queue!.close();
    },
  });
  manager.add(every("resync", 2000, () => {
    state.probeModules();
    // Level-triggered safety net; a name backing off after an error keeps its backoff.
    for (const name of state.names()) queue!.nudge(name);
  }, report));
  manager.add(every("checkpoints", () => settings().checkpointIntervalMs, async () => {
    const began = performance.now();
    const any = state.processes().some((p) => p.state === "running");
    await state.checkpointAll();
    if (any) nodeMetrics.observeCheckpointRound(performance.now() - began);
  }, report));
  manager.add(leaseRenewal(state, store, {
    intervalMs: () => Math.max(50, Math.min(1000, settings().balancer.goneAfterMs / 4)),
    carryMs: () => Math.max(100, settings().balancer.goneAfterMs - 250),
    storeDownEverywhere: async () => {
      const peers = state.peers();
      const timeoutMs = Math.max(100, Math.min(1000, settings().balancer.goneAfterMs / 4));
      const answers = await Promise.all(peers.map((p) => p.post("liveness", {}, { timeoutMs }).catch(() => undefined)));
      return answers.every((a) => a !== undefined && !a.storeReachable);
    },
    report,
  }));
  manager.add(balancer);
  manager.add(logs);
  for (const runnable of options.runnables ?? []) manager.add(runnable);
  manager.add({
    name: "hand-off sessions",
    start: (signal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => (handoffs.close(), resolve()), { once: true })),
  });
  manager.start();
  // Serving from here on (the handler exists only now); stopping once stop() began.
  const health = (): NodeHealth => (state.closing ? "stopping" : "serving");
  const handler = createHandler({
    node: state,
    replicas: replicaStore,
    modules: state.moduleVersions,
    handoffs,
    balancer,
    reconcile: (names) => (names ? names.forEach((n) => queue!.add(n)) : enqueueAll()),
    platform: options.platform,
    onShutdown: options.onShutdown,
    configEditor: options.configEditor,
    logs,
    metrics: nodeMetrics,
    health,
  });
  let stopping: Promise<void> | undefined;
  return {
    state,
    handler,
    store,
    logs,
    metrics: nodeMetrics,
    updateConfig: (loaded, revision, moduleHashes) => state.updateConfig(loaded, revision, moduleHashes),
    rejectConfig: (error) => state.rejectConfig(error),
    stop() {
      stopping ??= (async () => {
        state.beginClose();
        await manager.stop();
        await state.close();
        detachLogs();
        nodeMetrics.close();
        await logs.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

/**
 * How large checkpoints reach a peer and come back (multi-machine mode): the next peers after this
 * node in name order, so replicas spread over the cluster.
 */
export function peerReplicas(self: string, state: () => NodeState | undefined): Replicas {
  const peers = () => state()?.peers() ?? [];
  return {
    candidates() {
      const names = peers().map((p) => p.name).sort();
      const after = names.filter((n) => n > self);
      return [...after, ...names.filter((n) => n < self)];
    },
    async push(to, checkpoint) {
      const peer = state()?.peer(to);
      if (!peer) throw new Error(`no peer "${to}"`);
      const { bytes, ...meta } = checkpoint;
      await peer.postBytes("checkpoint.replicate", { ...meta, from: self }, bytes, { timeoutMs: state()!.settings.handoffTimeoutMs });
    },
    async fetch(from, name, generation) {
      const peer = state()?.peer(from);
      if (!peer) return undefined;
      const s = state()!.settings;
      return (await peer.postForBytes("checkpoint.fetch", { name, generation }, { timeoutMs: s.handoffTimeoutMs, maxBytes: s.maxTransferMb * 1024 * 1024 })).bytes;
    },
  };
}
