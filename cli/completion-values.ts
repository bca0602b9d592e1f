/**
 * The names shell completion offers for a command's values, read from cluster.yaml alone (no
 * daemon is asked, so a Tab never waits on the network): process names where a command takes an
 * existing process, node names for a node, module names (the files of the processes folder) for
 * a module. A file that cannot be read or parsed offers nothing, and the shell falls back to file
 * names.
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

/** Commands whose `process` positional names a new process: no existing name fits there. */
const namesNewProcess = new Set(["create"]);

/**
 * Candidates for the value named `name` (a positional or an option) of `command`, from the
 * cluster.yaml at `configFile`, sorted.
 *
 * @example
 * ```ts
 * await completionValues("process", { command: ["logs"], configFile: "./cluster.yaml" }); // ["counter", "sorter"]
 * ```
 */
export async function completionValues(name: string, where: { command: readonly string[]; configFile: string }): Promise<string[]> {
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
