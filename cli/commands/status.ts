/**
 * `ferry status`: each node (reachable, runtime, load, config problems), then the processes.
 *
 * @example
 * ```sh
 * ferry status --json | jq '.nodes[] | select(.reachable | not)'
 * ```
 * @module
 */
import type { NodeStatus } from "../../schemas/api.schema.ts";
import { type Command, type GlobalArgs, openCluster } from "../command.ts";
import { formatBytes, formatUptime, table } from "../format.ts";
import { mergeProcesses, processTable } from "../process-view.ts";
import { print, printJson } from "../output.ts";
import { relative } from "node:path";
import process from "node:process";

/** A node in `status --json`: its status, or why it could not be had. */
export type NodeReport =
  | (NodeStatus & { reachable: true })
  | { node: string; url: string; reachable: false; error: { code: string; message: string; hint?: string } };

/**
 * The `status` command. Exits non-zero (unreachable) only when no node answered at all.
 *
 * @example
 * ```ts
 * yargs(argv).command(statusCommand);
 * ```
 */
export const statusCommand: Command<GlobalArgs> = {
  command: "status",
  describe: "Show the nodes (reachable, runtime, load) and the processes",
  handler: async (args) => {
    const { loaded, cluster } = await openCluster(args);
    const results = await cluster.fanOut("status", {});
    const nodes: NodeReport[] = results.map((r) =>
      r.ok
        ? { ...r.value, reachable: true }
        : {
          node: r.node,
          url: r.url,
          reachable: false,
          error: { code: r.error.code, message: r.error.message, ...(r.error.hint === undefined ? {} : { hint: r.error.hint }) },
        }
    );
    const processes = mergeProcesses(results.flatMap((r) => (r.ok ? [r.value.processes] : [])), loaded.config);

    if (args.json) {
      printJson({ cluster: loaded.config.cluster.name, nodes, processes });
    } else {
      const up = nodes.filter((n) => n.reachable).length;
      const file = relative(process.cwd(), loaded.file) || loaded.file;
      print(`Cluster "${loaded.config.cluster.name}" (${file}): ${nodes.length} nodes, ${up} reachable\n`);
      const rows = nodes.map((n) =>
        n.reachable
          ? [n.node, n.url, "up", `${n.runtime} ${n.version}`, formatUptime(n.uptimeMs), String(n.load.processes), loadOf(n), String(n.load.executors), formatBytes(n.load.rssBytes), n.configError ? `config error: ${n.configError}` : ""]
          : [n.node, n.url, "down", "-", "-", "-", "-", "-", "-", n.error.hint ? `${n.error.message} (${n.error.hint})` : n.error.message]
      );
      print(table(["NODE", "URL", "STATE", "RUNTIME", "UPTIME", "PROCS", "LOAD", "EXECUTORS", "RSS", "NOTE"], rows));
      print("");
      const decisions = nodes.flatMap((n) => (n.reachable ? (n.balancer?.decisions ?? []).map((d) => `${d.slice(0, 24)}  ${n.node.padEnd(8)} ${d.slice(25)}`) : [])).sort();
      if (decisions.length) {
        const policy = nodes.find((n) => n.reachable)?.balancer?.policy ?? "";
        print(`Balancer (${policy}), last decisions:`);
        for (const d of decisions.slice(-10)) print(`  ${d}`);
        print("");
      }
      print(processes.length > 0 ? processTable(processes) : "No processes (add one with `ferry create`)");
    }
    const first = results.find((r) => !r.ok);
    if (first && !first.ok && results.every((r) => !r.ok)) throw first.error;
  },
};

/** A node's load as the balancer sees it: processes plus executor utilization. */
function loadOf(n: NodeStatus): string {
  const self = n.balancer?.loads.find((l) => l.node === n.node);
  return self ? self.load.toFixed(2) : "-";
}
