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
import { currentPlatform, type Server } from "./adapters/mod.ts";
import { type ClientTls, clientTlsOf } from "./api/client-tls.ts";
import { httpTransport } from "./api/transport.ts";
import { describeError, FerryError } from "./errors.ts";
import { planListen, readServeTls } from "./listen.ts";
import { every } from "./manager.ts";
import { certificateRenewal } from "./tls-renewal.ts";
import { assembleNode, type AssembledNode, peerReplicas } from "./assemble.ts";
import { openStore } from "./store/open.ts";
import type { ClusterStore } from "./store/cluster-store.ts";
import type { ConfigEditor } from "./api/config-migrate.ts";
import { daemonLog } from "./log.ts";
import { nativeCbor } from "./snapshot/codec.ts";

export interface DaemonOptions {
  configFile: string;
  node: string;
  /** Aborting it stops the daemon gracefully. */
  signal?: AbortSignal;
  /** Called once the API listens. */
  onReady?: (info: { node: string; url: string; port: number }) => void;
  /** Lets the API edit cluster.yaml as the CLI does (`config.migrate`). */
  configEditor?: ConfigEditor;
}

/** Runs one node's daemon until it is asked to stop; resolves after a graceful stop. */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const log = await daemonLog(options.node);
  let assembled: AssembledNode | undefined;
  let sync: ConfigSync | undefined;
  // How peers' certificates are checked follows the config; reading the CA file is the only wait.
  let clientTls: ClientTls | undefined;
  let tlsRead: Promise<void> = Promise.resolve();
  // Read again at every config change and every certificate check: a lasting problem is said once.
  let tlsProblem: string | undefined;
  const followTls = (next: LoadedConfig) => {
    tlsRead = tlsRead.then(() => clientTlsOf(next.config, next.dir)).then(
      (tls) => {
        clientTls = tls;
        tlsProblem = undefined;
      },
      (error) => {
        const problem = describeError(error);
        if (problem !== tlsProblem) log("error", `ferry: node ${options.node} keeps its previous TLS settings: ${problem}`);
        tlsProblem = problem;
      },
    );
  };
  // The config in force, for the loops that read it as they go (certificate renewal).
  let latest: LoadedConfig | undefined;
  const apply = (next: LoadedConfig, revision?: string, modules?: Record<string, string>) => {
    latest = next;
    followTls(next);
    assembled?.updateConfig(next, revision, modules);
  };
  const watcher = new ConfigWatcher(options.configFile, {
    // Multi-machine mode: an edit of this machine's file becomes a revision first.
    onChange: (next) => (sync ? void sync.localEdit(next) : apply(next)),
    onError: (error) => assembled?.rejectConfig(error),
  });
  let loaded: LoadedConfig = await watcher.start();
  // Paths in args resolve against the directory holding cluster.yaml (SPEC); process code that
  // opens "data/x.txt" finds it there whatever directory the daemon was started from.
  process.chdir(loaded.dir);
  process.env.FERRY_CONFIG_DIR = loaded.dir;
  let store: ClusterStore | undefined;
  try {
    if (loaded.config.cluster.store) {
      if (!loaded.config.nodes[options.node]) {
        throw new FerryError("not_found", `No node named "${options.node}" in ${loaded.file}`, { hint: `nodes: ${Object.keys(loaded.config.nodes).join(", ")}` });
      }
      store = await openStore(options.node, loaded, { replicas: peerReplicas(options.node, () => assembled?.state) });
      const stateDir = join(loaded.dataDir, options.node);
      mkdirSync(stateDir, { recursive: true });
      sync = new ConfigSync({
        file: loaded.file,
        node: options.node,
        store: store.config,
        stateDir,
        apply,
        reject: (error) => assembled?.rejectConfig(error),
        log: (line) => log("warn", line),
      });
      loaded = await sync.start(loaded);
    }
    const running = loaded;
    latest ??= running;
    // Queued before any reload can be; a CA that cannot be read stops the start (awaited below).
    const firstTls = (tlsRead = tlsRead.then(async () => void (clientTls = await clientTlsOf(running.config, running.dir))));
    firstTls.catch(() => {}); // reported by the await below, unless an earlier refusal ends the start
    // Refusals and unreadable certificates stop the start before any process is restored.
    const plan = planListen(loaded, options.node);
    const serveTls = await readServeTls(plan, loaded.dir);
    await firstTls;
    const platform = await currentPlatform();
    let server: Server | undefined;
    const renewal = certificateRenewal({
      node: options.node,
      loaded: () => latest ?? running,
      server: () => server,
      presented: serveTls,
      log,
      refreshCa: () => followTls(latest ?? running),
    });
    const node = await assembleNode({
      node: options.node,
      loaded,
      platform,
      onShutdown: () => stop.abort(),
      log,
      reloadConfig: async () => {
        await watcher.reload();
        await sync?.settled();
      },
      transport: httpTransport({ tls: () => clientTls }),
      ...(options.configEditor ? { configEditor: options.configEditor } : {}),
      ...(store ? { store } : {}),
      ...(sync?.revision ? { revision: sync.revision, moduleHashes: sync.modules } : {}),
      runnables: [
        renewal,
        ...(sync ? [every("publish pending edits", 1000, () => sync!.retryUnpublished(), (source, error) => log("error", `ferry: ${source}: ${describeError(error)}`))] : []),
      ],
    });
    assembled = node;
    if (sync?.startError) node.rejectConfig(sync.startError);
    sync?.watch(stop.signal);
    try {
      server = await platform.serve(node.handler, { hostname: plan.hostname, port: plan.port, ...(serveTls ? { tls: serveTls } : {}) });
    } catch (error) {
      await node.stop();
      throw new FerryError("conflict", `Cannot listen on ${plan.address} for node "${options.node}": ${(error as Error).message}`, {
        hint: "is another daemon of this node running?",
      });
    }
    const restored = node.state.processes().length;
    const bound = loaded.config.nodes[options.node]?.listen === undefined ? "" : ` (bound to ${plan.address})`;
    log("info", `ferry: node ${options.node} (${platform.name} ${platform.version}) listening on ${plan.url}${bound}, ${restored} processes restored`);
    log("info", `ferry: CBOR native acceleration ${nativeCbor() ? "on" : "off (cbor-extract's addon did not load; snapshots decode in plain JavaScript)"}`);
    options.onReady?.({ node: options.node, url: plan.url, port: server.port });
    const onSignal = () => stop.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      stop.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    log("info", `ferry: node ${options.node} stopping; checkpointing ${node.state.processes().length} processes`);
    await node.stop();
    await server.close();
    log("info", `ferry: node ${options.node} stopped`);
  } finally {
    stop.abort();
    await watcher.close();
    if (store && !assembled) await store.close();
  }
}
