/**
 * What every command shares: the global options, the command module type, loading cluster.yaml
 * (strictly for commands that edit it or start daemons from it, leniently for those that only
 * read the cluster or call into it) and telling the daemons that it changed.
 *
 * @example
 * ```ts
 * export const psCommand: Command<PsArgs> = { command: "ps", describe: "...", builder, handler };
 * ```
 * @module
 */
import type { CommandModule } from "./argv.ts";
import { dirname, relative, resolve } from "node:path";
import process from "node:process";
import { type ClusterTarget, type LoadedConfig, loadClusterConfig, loadClusterTarget } from "../daemon/config/load.ts";
import { parseClusterConfig } from "../daemon/config/parse.ts";
import { clientTlsOf } from "../daemon/api/client-tls.ts";
import { importBeside } from "../daemon/install.ts";
import type { Transport } from "../daemon/api/transport.ts";
import type { ClusterConfig } from "../schemas/cluster.schema.ts";
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

/** A command in `cli/commands/`, parsed (cli/argv.ts) on top of the global options. */
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
  return { loaded, cluster: new ClusterClient(loaded, await transportFor(loaded.config, loaded.dir)) };
}

/**
 * How the CLI reaches the nodes: `https://` ones checked against the cluster CA or their pinned
 * fingerprints (the CA file is read here, so a missing one fails the command up front); the
 * shared plain transport when no node is https. The TLS transport's module (and `node:https`
 * behind it) is only loaded for a cluster that needs it.
 */
async function transportFor(config: Pick<ClusterConfig, "cluster" | "nodes">, dir: string): Promise<Transport | undefined> {
  const tls = await clientTlsOf(config, dir);
  if (!tls) return undefined;
  const { httpTransport } = await importBeside<typeof import("../daemon/api/transport.ts")>(import.meta.url, "../daemon/api/transport");
  return httpTransport({ tls });
}

/** A client of the cluster's nodes, and what could be read of cluster.yaml. */
export interface ClusterView {
  target: ClusterTarget;
  cluster: ClusterClient;
}

/**
 * Opens the cluster for a command that only reads it or calls into it: such a command works
 * whenever the node URLs and the secret can be read, even while cluster.yaml has errors, because
 * the daemons keep running the last good config. A broken file is then mentioned once on stderr,
 * followed by `fallback` (what the command does about it); `target.loaded` is null, and whatever
 * the command took from the YAML it takes from the daemons' answers instead. Throws the config
 * error as {@link openCluster} does when not even the nodes can be read.
 *
 * @example
 * ```ts
 * const { target, cluster } = await openClusterLenient(args, "showing the cluster as its daemons run it");
 * const desiredFromYaml = target.loaded?.config ?? null;
 * ```
 */
export async function openClusterLenient(args: Pick<GlobalArgs, "config">, fallback: string): Promise<ClusterView> {
  const target = await loadClusterTarget(args.config);
  if (target.loaded) return { target, cluster: new ClusterClient(target.loaded, await transportFor(target.loaded.config, target.loaded.dir)) };
  const shown = relative(process.cwd(), target.file) || target.file;
  warn(`${shown} has errors (see \`ferry validate\`); ${fallback}`);
  const config = nodesOnly(target, target.error);
  return { target, cluster: new ClusterClient({ config, secret: target.secret }, await transportFor(config, dirname(target.file))) };
}

/**
 * The client takes a whole config but uses only its nodes: one of just those, validated by the
 * same parser. The loader kept only nodes that fit the schema, so this fails on nothing it read.
 */
function nodesOnly(target: ClusterTarget, error: Error): ClusterConfig {
  const tls = target.ca === null ? {} : { tls: { ca: target.ca } };
  const text = JSON.stringify({ cluster: { name: target.name ?? "cluster", secret: target.secret, ...tls }, nodes: target.nodes });
  try {
    return parseClusterConfig(text, target.file);
  } catch {
    throw error;
  }
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
  // Long enough for this machine's daemon to publish the edit to the cluster store (or say why not).
  const results = await cluster.fanOut("reconcile", { names, reload: true }, { timeoutMs: 10_000 });
  // Multi-machine mode: the daemon on this machine publishes the edit; another machine's edit
  // that won meanwhile (conflict), or a cluster store that does not answer (unavailable), makes it
  // refuse this one, and the command must say so.
  const refused = results.find((r) => !r.ok && (r.error.code === "conflict" || r.error.code === "unavailable"));
  if (refused && !refused.ok) throw refused.error;
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
