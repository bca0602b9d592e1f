/**
 * What every command shares: the global options, the command module type, loading cluster.yaml
 * and telling the daemons that it changed.
 *
 * @example
 * ```ts
 * export const psCommand: Command<PsArgs> = { command: "ps", describe: "...", builder, handler };
 * ```
 * @module
 */
import type { CommandModule } from "yargs";
import { resolve } from "node:path";
import { type LoadedConfig, loadClusterConfig } from "../daemon/config/mod.ts";
import { ClusterClient } from "./client.ts";
import { note, warn } from "./output.ts";

/** Options every command takes. */
export interface GlobalArgs {
  /** @default "./cluster.yaml", or FERRY_CONFIG */
  config: string;
  /** Machine-readable output on stdout. */
  json: boolean;
  /** Stack traces with errors. */
  verbose: boolean;
}

/** A command in `cli/commands/`, parsed by yargs on top of the global options. */
export type Command<A> = CommandModule<GlobalArgs, A>;

/** The loaded config and a client of all its nodes. */
export interface Cluster {
  loaded: LoadedConfig;
  cluster: ClusterClient;
}

/**
 * Loads cluster.yaml (throwing its `ConfigError` when invalid) and makes a client of its nodes.
 *
 * @example
 * ```ts
 * const { loaded, cluster } = await openCluster(args);
 * ```
 */
export async function openCluster(args: Pick<GlobalArgs, "config">): Promise<Cluster> {
  const loaded = await loadClusterConfig(args.config);
  return { loaded, cluster: new ClusterClient(loaded) };
}

/** The absolute path of the config file named by `--config`. */
export function configPath(args: Pick<GlobalArgs, "config">): string {
  return resolve(args.config);
}

/**
 * Asks every node to re-read cluster.yaml and reconcile `names` now, after the CLI edited it.
 * Unreachable nodes are fine: their file watcher picks the change up once they run.
 *
 * @example
 * ```ts
 * await notifyNodes(cluster, ["counter"]);
 * ```
 */
export async function notifyNodes(cluster: ClusterClient, names: string[]): Promise<void> {
  const results = await cluster.fanOut("reconcile", { names, reload: true });
  for (const r of results) {
    if (!r.ok && r.error.code !== "unreachable") warn(`node "${r.node}" did not take the change: ${r.error.userMessage}`);
  }
  if (results.every((r) => !r.ok && r.error.code === "unreachable")) {
    note("no daemon answered; the change applies when they start (`ferry up`)");
  }
}

/**
 * Resolves after `ms`, or early when `signal` aborts.
 *
 * @example
 * ```ts
 * await sleep(5);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
