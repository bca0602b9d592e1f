/**
 * `ferry status`: each node (reachable, runtime, load, config problems), the module versions each
 * node loaded, then the processes. Works while cluster.yaml has errors: the cluster is then shown
 * as its daemons run it.
 *
 * @example
 * ```sh
 * ferry status --json | jq '.nodes[] | select(.reachable | not)'
 * ferry status -o yaml
 * ```
 * @module
 */
import type { NodeStatus } from "../../schemas/api.schema.ts";
import type { Argv } from "../argv.ts";
import { type Command, type GlobalArgs, openClusterLenient } from "../command.ts";
import { type OutputArgs, outputFormat, printData, withOutputOption } from "../output-format.ts";
import { formatBytes, formatUptime, table } from "../format.ts";
import { mergeProcesses, processTable } from "../process-view.ts";
import { print } from "../output.ts";
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
export const statusCommand: Command<OutputArgs> = {
  command: "status",
  describe: "Show the nodes (reachable, runtime, load) and the processes",
  builder: (y: Argv<GlobalArgs>) =>
    withOutputOption(y)
      .example("$0 status", "Nodes, their load, and every process")
      .example("$0 status -o wide", "The same, with each process's args, placement and start time")
      .example("$0 status -o yaml", "Everything as YAML (-o json or --json: as JSON)"),
  handler: async (args) => {
    const format = outputFormat(args);
    const { target, cluster } = await openClusterLenient(args, "showing the cluster as its daemons run it");
    const { loaded } = target;
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
    const unreachable = results.flatMap((r) => (r.ok ? [] : [r.node]));
    const processes = mergeProcesses(results.flatMap((r) => (r.ok ? [r.value.processes] : [])), loaded?.config ?? null, unreachable);
    // From a broken file, the name the daemons run with is the more reliable one.
    const name = loaded?.config.cluster.name ?? results.find((r) => r.ok)?.value?.cluster ?? target.name ?? "?";
    const configError = target.error ? target.error.message : null;

    if (format === "json" || format === "yaml") {
      printData({ cluster: name, configError, nodes, processes }, format);
    } else {
      const up = nodes.filter((n) => n.reachable).length;
      const file = relative(process.cwd(), target.file) || target.file;
      print(`Cluster "${name}" (${file}${configError ? ", has errors" : ""}): ${nodes.length} nodes, ${up} reachable\n`);
      const rows = nodes.map((n) =>
        n.reachable
          ? [n.node, n.url, "up", `${n.runtime} ${n.version}`, formatUptime(n.uptimeMs), `${n.store} ${n.configRevision}`, String(n.load.processes), loadOf(n), String(n.load.executors), formatBytes(n.load.rssBytes), n.configError ? `config error: ${n.configError}` : ""]
          : [n.node, n.url, "down", "-", "-", "-", "-", "-", "-", "-", n.error.hint ? `${n.error.message} (${n.error.hint})` : n.error.message]
      );
      print(table(["NODE", "URL", "STATE", "RUNTIME", "UPTIME", "CONFIG", "PROCS", "LOAD", "EXECUTORS", "RSS", "NOTE"], rows));
      print("");
      const modules = nodes.flatMap((n) => (n.reachable ? moduleRows(n) : []));
      if (modules.length) {
        print(table(["MODULE", "NODE", "VERSION", "LOADS"], modules));
        print("");
      }
      const decisions = nodes.flatMap((n) => (n.reachable ? (n.balancer?.decisions ?? []).map((d) => `${d.slice(0, 24)}  ${n.node.padEnd(8)} ${d.slice(25)}`) : [])).sort();
      if (decisions.length) {
        const policy = nodes.find((n) => n.reachable)?.balancer?.policy ?? "";
        print(`Balancer (${policy}), last decisions:`);
        for (const d of decisions.slice(-10)) print(`  ${d}`);
        print("");
      }
      print(processes.length > 0 ? processTable(processes, { wide: format === "wide" }) : "No processes (add one with `ferry create`)");
    }
    const first = results.find((r) => !r.ok);
    if (first && !first.ok && results.every((r) => !r.ok)) throw first.error;
  },
};

/** The module versions a node has loaded (or failed to), one row each. */
function moduleRows(n: NodeStatus): string[][] {
  return n.modules.map((m) => [m.name, n.node, m.version ?? "-", m.ok ? "yes" : `no: ${m.error ?? "?"}`]);
}

/** A node's load as the balancer sees it: processes plus executor utilization. */
function loadOf(n: NodeStatus): string {
  const self = n.balancer?.loads.find((l) => l.node === n.node);
  return self ? self.load.toFixed(2) : "-";
}
