/**
 * `ferry daemon --node <name>`: the config watcher, the assembled node (`assemble.ts`) and the
 * platform's HTTP server; stops gracefully (processes checkpointed) on SIGINT/SIGTERM, on
 * `ferry down`, or when `signal` aborts.
 *
 * @example
 * ```ts
 * await runDaemon({ configFile: "cluster.yaml", node: "alpha" });
 * ```
 * @module
 */
import process from "node:process";
import { ConfigWatcher, type LoadedConfig } from "./config/mod.ts";
import { currentPlatform } from "./adapters/mod.ts";
import { type ClientTls, clientTlsOf } from "./api/client-tls.ts";
import { httpTransport } from "./api/transport.ts";
import { describeError, FerryError } from "./errors.ts";
import { planListen, readServeTls } from "./listen.ts";
import { assembleNode, type AssembledNode } from "./assemble.ts";

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
  // How peers' certificates are checked follows the config; reading the CA file is the only wait.
  let clientTls: ClientTls | undefined;
  let tlsRead: Promise<void> = Promise.resolve();
  const followTls = (next: LoadedConfig) => {
    tlsRead = tlsRead.then(() => clientTlsOf(next.config, next.dir)).then(
      (tls) => void (clientTls = tls),
      (error) => console.error(`ferry: node ${options.node} keeps its previous TLS settings: ${describeError(error)}`),
    );
  };
  const watcher = new ConfigWatcher(options.configFile, {
    onChange: (loaded) => {
      followTls(loaded);
      assembled?.updateConfig(loaded);
    },
    onError: (error) => assembled?.rejectConfig(error),
  });
  const loaded = await watcher.start();
  // Queued before any reload can be; a CA that cannot be read stops the start (awaited below).
  const firstTls = (tlsRead = tlsRead.then(async () => void (clientTls = await clientTlsOf(loaded.config, loaded.dir))));
  firstTls.catch(() => {}); // reported by the await below, unless an earlier refusal ends the start
  // Paths in args resolve against the directory holding cluster.yaml (SPEC); process code that
  // opens "data/x.txt" finds it there whatever directory the daemon was started from.
  process.chdir(loaded.dir);
  process.env.FERRY_CONFIG_DIR = loaded.dir;
  try {
    // Refusals and unreadable certificates stop the start before any process is restored.
    const plan = planListen(loaded, options.node);
    const serveTls = await readServeTls(plan, loaded.dir);
    await firstTls;
    const platform = await currentPlatform();
    const node = await assembleNode({
      node: options.node,
      loaded,
      platform,
      onShutdown: () => stop.abort(),
      reloadConfig: async () => {
        await watcher.reload();
      },
      transport: httpTransport({ tls: () => clientTls }),
    });
    assembled = node;
    let server;
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
    console.log(`ferry: node ${options.node} (${platform.name} ${platform.version}) listening on ${plan.url}${bound}, ${restored} processes restored`);
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
    console.log(`ferry: node ${options.node} stopping; checkpointing ${node.state.processes().length} processes`);
    await node.stop();
    await server.close();
    console.log(`ferry: node ${options.node} stopped`);
  } finally {
    await watcher.close();
  }
}
