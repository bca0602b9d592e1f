/**
 * Reads cluster.yaml from disk and resolves everything that depends on where it lives: the
 * processes folder (whose modules the config is checked against), the data folder, relative
 * paths in args, and the secret (`FERRY_SECRET` wins over the file).
 *
 * Two loaders: {@link loadClusterConfig} accepts only a valid file (daemons, and commands that
 * edit it); {@link loadClusterTarget} also reads what it can of a broken one, because the daemons
 * keep running the last good config and a user who just broke the file still needs to see them.
 *
 * @example
 * ```ts
 * const loaded = await loadClusterConfig("cluster.yaml");
 * loaded.processesDir; // "/abs/processes"
 * ```
 * @module
 */
import process from "node:process";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, parseDocument } from "./yaml.ts";
import { type ClusterConfig, clusterSettingsSchema, fingerprintPattern, namePattern, nodeSchema, type NodeSpec, type NodeTls } from "../../schemas/cluster.schema.ts";
import { type ConfigError, FerryError, isFerryError } from "../errors.ts";
import { readTextFile } from "../files.ts";
import { listModules } from "../modules/inspect.ts";
import { parseClusterConfig } from "./parse.ts";

/** A validated config together with the absolute paths derived from its location. */
export interface LoadedConfig {
  config: ClusterConfig;
  /** Absolute path of cluster.yaml. */
  file: string;
  /** Directory holding cluster.yaml; relative paths in the config resolve against it. */
  dir: string;
  /** Absolute `cluster.processesDir`. */
  processesDir: string;
  /** Absolute `cluster.dataDir`; each node keeps its own subdirectory. */
  dataDir: string;
  /** The cluster secret: `FERRY_SECRET` when set, else `cluster.secret`. */
  secret: string;
  /** The file's text, exactly as read; equal text means an equal config. */
  text: string;
  /** Modules found in processesDir when the config was read: name → absolute path. */
  modules: ReadonlyMap<string, string>;
}

/**
 * Reads, parses and validates cluster.yaml, checking process modules against the files in the
 * processes folder. Throws `ConfigError` for an invalid file (issues labelled with `file` as
 * given) and `FerryError("config_not_found")` when it cannot be read. Given the config it read
 * before, answers that same object when neither the text nor the modules changed.
 *
 * @example
 * ```ts
 * const { config, secret } = await loadClusterConfig("cluster.yaml", { FERRY_SECRET: "s3cret" });
 * const again = await loadClusterConfig("cluster.yaml", process.env, previous); // === previous if unchanged
 * ```
 */
export async function loadClusterConfig(
  file: string,
  env: Record<string, string | undefined> = process.env,
  previous?: LoadedConfig,
): Promise<LoadedConfig> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readTextFile(absolute);
  } catch (error) {
    throw new FerryError("config_not_found", `Cannot read config "${file}"`, {
      hint: "Pass --config <file> or set FERRY_CONFIG",
      cause: error,
    });
  }
  if (previous?.text === text && previous.file === absolute && previous.secret === secretOf(env, previous.config.cluster.secret)) {
    // A re-read that finds the same text (a watcher's trailing read, a reload after an edit the
    // watcher already saw) costs a directory listing, not a parse of a file of a thousand processes.
    const modules = await listModules(previous.processesDir);
    if (sameModules(modules, previous.modules)) return previous;
  }
  return loadClusterText(text, file, env);
}

function secretOf(env: Record<string, string | undefined>, fromFile: string): string {
  const fromEnv = env.FERRY_SECRET;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : fromFile;
}

function sameModules(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, path] of a) if (b.get(name) !== path) return false;
  return true;
}

/**
 * Validates a config's text as if it were the file `file` (paths resolve against its directory):
 * what a node does with a revision it received from the cluster store.
 *
 * In multi-machine mode (`cluster.store`) the modules are not checked against this machine's
 * processes/ folder: a module may live on another machine and travel here when it is needed.
 *
 * @example
 * ```ts
 * const loaded = await loadClusterText(revisionText, "/srv/ferry/cluster.yaml");
 * ```
 */
export async function loadClusterText(
  text: string,
  file: string,
  env: Record<string, string | undefined> = process.env,
): Promise<LoadedConfig> {
  const absolute = resolve(file);
  const dir = dirname(absolute);
  // The modules to check against live in a folder the config itself names. A valid file is parsed
  // once, then its modules are checked; a file that fails either way is parsed again, peeking at
  // that folder first, so that every issue (an unknown module among them) has its position.
  let config: ClusterConfig | undefined;
  let modules: ReadonlyMap<string, string> | undefined;
  try {
    config = parseClusterConfig(text, file);
    modules = await listModules(resolve(dir, config.cluster.processesDir));
    const known = modules;
    if (config.cluster.store === undefined && Object.values(config.processes).some((spec) => !known.has(spec.module))) config = undefined;
  } catch {
    config = undefined;
  }
  if (!config || !modules) {
    const peek = peekCluster(text);
    modules = await listModules(resolve(dir, peek.processesDir));
    config = parseClusterConfig(text, file, peek.store ? {} : { modules: new Set(modules.keys()) });
  }
  return {
    config,
    file: absolute,
    dir,
    processesDir: resolve(dir, config.cluster.processesDir),
    dataDir: resolve(dir, config.cluster.dataDir),
    secret: secretOf(env, config.cluster.secret),
    text,
    modules,
  };
}

/**
 * What a client needs to reach a cluster, read from cluster.yaml as far as the file allows:
 * with the validated config when the file is valid, with its `ConfigError` when it is not.
 */
export type ClusterTarget = TargetFields & (
  | { /** The validated config. */ loaded: LoadedConfig; error: null }
  | { loaded: null; /** Why the file is invalid, every issue at its line and column. */ error: ConfigError }
);

/** The fields of a {@link ClusterTarget} that a broken file may still provide. */
export interface TargetFields {
  /** Absolute path of cluster.yaml. */
  file: string;
  /** Every node whose name and URL could be read: all of them when the file is valid. */
  nodes: Readonly<Record<string, NodeSpec>>;
  /** `FERRY_SECRET` when set, else `cluster.secret`. */
  secret: string;
  /** `cluster.name`, when it could be read. */
  name: string | null;
  /** The names under `processes:`, when that section could be read. */
  processes: readonly string[] | null;
  /** `cluster.tls.ca` (the CA file clients check `https://` nodes against), when it could be read. */
  ca: string | null;
}

/**
 * Loads cluster.yaml like {@link loadClusterConfig} when it is valid; when it is not, reads the
 * node URLs, the secret, the cluster name and the process names from whatever the YAML parser
 * could make of it (it recovers from most syntax errors) and returns them with the `ConfigError`.
 * Nodes whose name or URL does not fit the schema are left out. Throws the `ConfigError` when no
 * node or no secret can be read, and `FerryError("config_not_found")` when the file cannot be read.
 *
 * @example
 * ```ts
 * const target = await loadClusterTarget("cluster.yaml");
 * if (target.error) console.warn(`cluster.yaml has errors: ${target.error.message}`);
 * Object.keys(target.nodes); // ["alpha", "beta"]
 * ```
 */
export async function loadClusterTarget(
  file: string,
  env: Record<string, string | undefined> = process.env,
): Promise<ClusterTarget> {
  let error: ConfigError;
  try {
    const loaded = await loadClusterConfig(file, env);
    const { config } = loaded;
    return {
      file: loaded.file,
      loaded,
      error: null,
      nodes: config.nodes,
      secret: loaded.secret,
      name: config.cluster.name,
      processes: Object.keys(config.processes),
      ca: config.cluster.tls?.ca ?? null,
    };
  } catch (thrown) {
    // Checked by shape: the parser's ConfigError may come from another module instance.
    if (!isFerryError(thrown) || !("issues" in thrown) || !Array.isArray(thrown.issues)) throw thrown;
    error = thrown as ConfigError;
  }
  const absolute = resolve(file);
  const text = await readTextFile(absolute).catch(() => undefined);
  const found = text === undefined ? undefined : readTarget(text);
  const fromEnv = env.FERRY_SECRET;
  const secret = fromEnv !== undefined && fromEnv !== "" ? fromEnv : found?.secret;
  if (!found || Object.keys(found.nodes).length === 0 || secret === undefined) throw error;
  return { file: absolute, loaded: null, error, nodes: found.nodes, secret, name: found.name, processes: found.processes, ca: found.ca };
}

/** `cluster.processesDir` and whether `cluster.store` is declared, from one parse of the text. */
function peekCluster(text: string): { processesDir: string; store: boolean } {
  const fallback = clusterSettingsSchema.properties.processesDir.default;
  try {
    const doc = parseDocument(text);
    const value: unknown = doc.getIn(["cluster", "processesDir"]);
    return { processesDir: typeof value === "string" && value !== "" ? value : fallback, store: doc.hasIn(["cluster", "store"]) };
  } catch {
    return { processesDir: fallback, store: false };
  }
}

const names = new RegExp(namePattern);
const urls = new RegExp(nodeSchema.properties.url.pattern);
const runtimes = nodeSchema.properties.runtime.enum;
const fingerprints = new RegExp(fingerprintPattern);

/** A node's `tls:` as far as it fits the schema (clients need its pinned fingerprint). */
function readNodeTls(value: unknown): NodeTls | undefined {
  if (!isMap(value)) return undefined;
  const cert = value.get("cert");
  const key = value.get("key");
  const fingerprint = value.get("fingerprint");
  if (typeof cert !== "string" || typeof key !== "string" || cert === "" || key === "") return undefined;
  return typeof fingerprint === "string" && fingerprints.test(fingerprint) ? { cert, key, fingerprint } : { cert, key };
}

/** What can be read of a file that does not validate; fields that do not fit the schema are skipped. */
function readTarget(text: string): Omit<TargetFields, "file" | "secret"> & { secret: string | undefined } {
  const doc = parseDocument(text, { prettyErrors: false });
  const nodes: Record<string, NodeSpec> = {};
  const section = doc.get("nodes");
  for (const pair of isMap(section) ? section.items : []) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!names.test(name) || !isMap(pair.value) || Object.hasOwn(nodes, name)) continue;
    const url = pair.value.get("url");
    const runtime = pair.value.get("runtime");
    if (typeof url !== "string" || !urls.test(url)) continue;
    const tls = readNodeTls(pair.value.get("tls"));
    // An https node is only reachable with its tls: (its pin); the runtime only matters to
    // `ferry up`, which needs a valid file anyway.
    if (url.startsWith("https://") !== (tls !== undefined)) continue;
    nodes[name] = { url, runtime: runtimes.find((r) => r === runtime) ?? nodeSchema.properties.runtime.default, ...(tls ? { tls } : {}) };
  }
  const ca = doc.getIn(["cluster", "tls", "ca"]);
  const processes = doc.get("processes");
  const secret = doc.getIn(["cluster", "secret"]);
  const name = doc.getIn(["cluster", "name"]);
  return {
    nodes,
    secret: typeof secret === "string" && secret !== "" ? secret : undefined,
    name: typeof name === "string" && names.test(name) ? name : null,
    processes: isMap(processes) ? processes.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : [])) : null,
    ca: typeof ca === "string" && ca !== "" ? ca : null,
  };
}
