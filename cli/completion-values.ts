/**
 * The names shell completion offers for a command's values: process names where a command takes
 * an existing process, node names for a node, module names (the files of the processes folder)
 * for a module, all read from cluster.yaml alone; and the methods `ferry call` may invoke, which
 * only the daemons know (the one holding the process lists them), asked with a short timeout so a
 * Tab never hangs on a node that is down. What cannot be read offers nothing, and the shell falls
 * back to file names.
 *
 * @example
 * ```ts
 * await completionValues("node", { command: ["migrate"], configFile: "cluster.yaml" }); // ["alpha", "beta"]
 * ```
 * @module
 */
import { dirname, resolve } from "node:path";
import { clusterSettingsSchema } from "../schemas/cluster.schema.ts";
import { readTextFile } from "../daemon/files.ts";
import { isMap, isScalar, parseDocument } from "../daemon/config/yaml.ts";
import { listModules } from "../daemon/modules/inspect.ts";
import { importBeside } from "../daemon/install.ts";

/** Commands whose `process` positional names a new process: no existing name fits there. */
const namesNewProcess = new Set(["create"]);

/** How long a Tab waits for the daemons' answer about a process's methods. */
const METHODS_TIMEOUT_MS = 700;

/**
 * Candidates for the value named `name` (a positional or an option) of `command`, from the
 * cluster.yaml at `configFile`, sorted.
 *
 * @example
 * ```ts
 * await completionValues("process", { command: ["logs"], configFile: "./cluster.yaml" }); // ["counter", "sorter"]
 * ```
 */
export async function completionValues(name: string, where: { command: readonly string[]; configFile: string; process?: string | undefined }): Promise<string[]> {
  if (name === "method" && where.command[0] === "call" && where.process !== undefined) return await methodsOf(where.process, where.configFile);
  if (name !== "process" && name !== "node" && name !== "module") return [];
  if (name === "process" && namesNewProcess.has(where.command[0] ?? "")) return [];
  const file = resolve(where.configFile);
  let doc;
  try {
    doc = parseDocument(await readTextFile(file), { prettyErrors: false });
  } catch {
    return [];
  }
  if (name === "module") {
    const folder: unknown = doc.getIn(["cluster", "processesDir"]);
    const dir = typeof folder === "string" && folder !== "" ? folder : clusterSettingsSchema.properties.processesDir.default;
    return [...(await listModules(resolve(dirname(file), dir)).catch(() => new Map<string, string>())).keys()].sort();
  }
  const section = doc.get(name === "process" ? "processes" : "nodes");
  if (!isMap(section)) return [];
  return section.items.flatMap((pair) => (isScalar(pair.key) && pair.key.value !== null ? [String(pair.key.value)] : [])).sort();
}

/** The methods the daemons report for the process `name` (its holder's `ps` row), or none. */
async function methodsOf(name: string, configFile: string): Promise<string[]> {
  try {
    const { openClusterLenient } = await importBeside<typeof import("./command.ts")>(import.meta.url, "./command");
    const { cluster } = await openClusterLenient({ config: configFile }, "");
    for (const result of await cluster.fanOut("ps", {}, { timeoutMs: METHODS_TIMEOUT_MS })) {
      const row = result.ok ? result.value.find((p) => p.name === name && p.methods.length > 0) : undefined;
      if (row) return [...row.methods].sort();
    }
  } catch {
    // No cluster to ask: nothing to offer.
  }
  return [];
}
