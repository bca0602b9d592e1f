/**
 * `ferry daemon --node <name>`: the config watcher, the assembled node (`assemble.ts`) and the
 * platform's HTTP server; stops gracefully (processes checkpointed) on SIGINT/SIGTERM, on
 * `ferry down`, or when `signal` aborts. In multi-machine mode (`cluster.store`), the config the
 * node runs comes from the store's revisions, and this machine's file follows them.
 *
 * @example
 * ```ts
 * await runDaemon({ configFile: "cluster.yaml", node: "alpha" });
 * ```
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ConfigWatcher, type LoadedConfig } from "./config/mod.ts";
import { ConfigSync } from "./config/sync.ts";
import { currentPlatform } from "./adapters/mod.ts";
import { describeError, FerryError } from "./errors.ts";
import { every } from "./manager.ts";
import { assembleNode, type AssembledNode, peerReplicas } from "./assemble.ts";
import { openStore } from "./store/open.ts";
import type { ClusterStore } from "./store/cluster-store.ts";

export interface DaemonOptions {
  configFile: string;
  node: string;
  /** Aborting it stops the daemon gracefully. */
  signal?: AbortSignal;
  /** Called once the API listens. */
  onReady?: (info: { node: string; url: string; port: number }) => void;
}

/** Runs one node's daemon until it is asked to stop; resolves after a graceful stop. */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  let assembled: AssembledNode | undefined;
  let sync: ConfigSync | undefined;
  const watcher = new ConfigWatcher(options.configFile, {
    // Multi-machine mode: an edit of this machine's file becomes a revision first.
    onChange: (loaded) => (sync ? void sync.localEdit(loaded) : assembled?.updateConfig(loaded)),
    onError: (error) => assembled?.rejectConfig(error),
  });
  let loaded: LoadedConfig = await watcher.start();
  // Paths in args resolve against the directory holding cluster.yaml (SPEC); process code that
  // opens "data/x.txt" finds it there whatever directory the daemon was started from.
  process.chdir(loaded.dir);
  process.env.FERRY_CONFIG_DIR = loaded.dir;
  let store: ClusterStore | undefined;
  try {
    if (!loaded.config.nodes[options.node]) {
      throw new FerryError("not_found", `No node named "${options.node}" in ${loaded.file}`, {
        hint: `nodes: ${Object.keys(loaded.config.nodes).join(", ")}`,
      });
    }
    if (loaded.config.cluster.store) {
      store = openStore(options.node, loaded, { replicas: peerReplicas(options.node, () => assembled?.state) });
      const stateDir = join(loaded.dataDir, options.node);
      mkdirSync(stateDir, { recursive: true });
      sync = new ConfigSync({
        file: loaded.file,
        node: options.node,
        store: store.config,
        stateDir,
        apply: (next, revision, modules) => assembled?.updateConfig(next, revision, modules),
        reject: (error) => assembled?.rejectConfig(error),
        log: (line) => console.error(line),
      });
      loaded = await sync.start(loaded);
    }
    const spec = loaded.config.nodes[options.node];
    if (!spec) throw new FerryError("not_found", `No node named "${options.node}" in the cluster's config`);
    const url = new URL(spec.url);
    const platform = await currentPlatform();
    const node = await assembleNode({
      node: options.node,
      loaded,
      platform,
      onShutdown: () => stop.abort(),
      ...(store ? { store } : {}),
      ...(sync?.revision ? { revision: sync.revision, moduleHashes: sync.modules } : {}),
      ...(sync ? { runnables: [every("publish pending edits", 1000, () => sync!.retryUnpublished(), (source, error) => console.error(`ferry: ${source}: ${describeError(error)}`))] } : {}),
      reloadConfig: async () => {
        await watcher.reload();
        await sync?.settled();
      },
    });
    assembled = node;
    if (sync?.startError) node.rejectConfig(sync.startError);
    sync?.watch(stop.signal);
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    let server;
    try {
      server = await platform.serve(node.handler, { hostname, port: Number(url.port || 80) });
    } catch (error) {
      await node.stop();
      throw new FerryError("conflict", `Cannot listen on ${spec.url} for node "${options.node}": ${(error as Error).message}`, {
        hint: "is another daemon of this node running?",
      });
    }
    const restored = node.state.processes().length;
    console.log(`ferry: node ${options.node} (${platform.name} ${platform.version}) listening on ${spec.url}, ${restored} processes restored`);
    options.onReady?.({ node: options.node, url: spec.url, port: server.port });
    const onSignal = () => stop.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      stop.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    console.log(`ferry: node ${options.node} stopping; checkpointing ${node.state.processes().length} processes`);
    await node.stop();
    await server.close();
    console.log(`ferry: node ${options.node} stopped`);
  } finally {
    stop.abort();
    await watcher.close();
    if (store && !assembled) await store.close();
  }
}
