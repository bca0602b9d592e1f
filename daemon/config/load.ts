/**
 * Reads cluster.yaml from disk and resolves everything that depends on where it lives: the
 * processes folder (whose modules the config is checked against), the data folder, relative
 * paths in args, and the secret (`FERRY_SECRET` wins over the file).
 *
 * @example
 * ```ts
 * const loaded = await loadClusterConfig("cluster.yaml");
 * loaded.processesDir; // "/abs/processes"
 * ```
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import { type ClusterConfig, clusterSettingsSchema } from "../../schemas/cluster.schema.ts";
import { FerryError } from "../errors.ts";
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
 * given) and `FerryError("config_not_found")` when it cannot be read.
 *
 * @example
 * ```ts
 * const { config, secret } = await loadClusterConfig("cluster.yaml", { FERRY_SECRET: "s3cret" });
 * ```
 */
export async function loadClusterConfig(
  file: string,
  env: Record<string, string | undefined> = process.env,
): Promise<LoadedConfig> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    throw new FerryError("config_not_found", `Cannot read config "${file}"`, {
      hint: "Pass --config <file> or set FERRY_CONFIG",
      cause: error,
    });
  }
  const dir = dirname(absolute);
  // The modules to check against live in a folder the config itself names, so peek at it first;
  // a broken file fails in parseClusterConfig with proper positions anyway.
  const modules = await listModules(resolve(dir, peekProcessesDir(text)));
  const config = parseClusterConfig(text, file, { modules: new Set(modules.keys()) });
  const fromEnv = env.FERRY_SECRET;
  return {
    config,
    file: absolute,
    dir,
    processesDir: resolve(dir, config.cluster.processesDir),
    dataDir: resolve(dir, config.cluster.dataDir),
    secret: fromEnv !== undefined && fromEnv !== "" ? fromEnv : config.cluster.secret,
    text,
    modules,
  };
}

/**
 * Resolves a path from the config (an arg, an option) against the directory of cluster.yaml.
 *
 * @example
 * ```ts
 * resolveArgPath(loaded, "data/input.txt"); // "/abs/dir/data/input.txt"
 * resolveArgPath(loaded, "/tmp/x");         // "/tmp/x"
 * ```
 */
export function resolveArgPath(loaded: Pick<LoadedConfig, "dir">, p: string): string {
  return isAbsolute(p) ? p : resolve(loaded.dir, p);
}

function peekProcessesDir(text: string): string {
  const fallback = clusterSettingsSchema.properties.processesDir.default;
  try {
    const value: unknown = parseDocument(text).getIn(["cluster", "processesDir"]);
    return typeof value === "string" && value !== "" ? value : fallback;
  } catch {
    return fallback;
  }
}
