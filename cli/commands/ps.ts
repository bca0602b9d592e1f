/**
 * `ferry ps [--node <name>]`: every process of the cluster, where it runs and how its hand-offs
 * went, asked of every node at once. Works while cluster.yaml has errors (when it is needed
 * most): the DESIRED column then shows what the daemons run, their last good config.
 *
 * @example
 * ```sh
 * ferry ps --node beta --json
 * ferry ps -o wide
 * ferry ps -o yaml
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { type Command, type GlobalArgs, openClusterLenient } from "../command.ts";
import { mergeProcesses, processTable } from "../process-view.ts";
import { print, warn } from "../output.ts";
import { type OutputArgs, outputFormat, printData, withOutputOption } from "../output-format.ts";

interface PsArgs extends OutputArgs {
  node: string | undefined;
}

/**
 * The `ps` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(psCommand);
 * ```
 */
export const psCommand: Command<PsArgs> = {
  command: "ps",
  describe: "List the processes on all nodes, or on one",
  builder: (y: Argv<GlobalArgs>) =>
    withOutputOption(y)
      .option("node", { type: "string", describe: "Only processes running on this node" })
      .example("$0 ps", "Every process of the cluster")
      .example("$0 ps --node beta -o wide", "The processes on beta, with args, placement and start time")
      .example("$0 ps -o json | jq '.[] | select(.state != \"running\")'", "Machine-readable (same as --json)") as unknown as Argv<PsArgs>,
  handler: async (args) => {
    const { target, cluster } = await openClusterLenient(args, "showing the cluster as its daemons run it");
    if (args.node !== undefined) cluster.node(args.node); // unknown node: fail before asking anyone
    const results = await cluster.fanOut("ps", {});
    const answered = results.flatMap((r) => (r.ok ? [r.value] : []));
    const failures = results.flatMap((r) => (r.ok ? [] : [r]));
    const asked = failures.find((r) => r.node === args.node);
    if (answered.length === 0 || asked) throw (asked ?? failures[0])!.error;
    const format = outputFormat(args);
    for (const r of failures) warn(`${r.error.userMessage}; its processes may be missing or shown as unknown`);

    let processes = mergeProcesses(answered, target.loaded?.config ?? null, failures.map((r) => r.node));
    if (args.node !== undefined) processes = processes.filter((p) => p.node === args.node);
    if (format === "json" || format === "yaml") printData(processes, format);
    else if (processes.length === 0) print(args.node === undefined ? "No processes (add one with `ferry create`)" : `No processes on node "${args.node}"`);
    else print(processTable(processes, { wide: format === "wide" }));
  },
};
