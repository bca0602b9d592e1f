/**
 * `ferry ps [--node <name>]`: every process of the cluster, where it runs and how its hand-offs
 * went, asked of every node at once. Works while cluster.yaml has errors (when it is needed
 * most): the DESIRED column then shows what the daemons run, their last good config.
 *
 * @example
 * ```sh
 * ferry ps --node beta --json
 * ```
 * @module
 */
import type { Argv } from "yargs";
import { type Command, type GlobalArgs, openClusterLenient } from "../command.ts";
import { mergeProcesses, processTable } from "../process-view.ts";
import { print, printJson, warn } from "../output.ts";

interface PsArgs extends GlobalArgs {
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
    y.option("node", { type: "string", describe: "Only processes running on this node" }) as Argv<PsArgs>,
  handler: async (args) => {
    const { target, cluster } = await openClusterLenient(args, "showing the cluster as its daemons run it");
    if (args.node !== undefined) cluster.node(args.node); // unknown node: fail before asking anyone
    const results = await cluster.fanOut("ps", {});
    const answered = results.flatMap((r) => (r.ok ? [r.value] : []));
    const failures = results.flatMap((r) => (r.ok ? [] : [r]));
    const asked = failures.find((r) => r.node === args.node);
    if (answered.length === 0 || asked) throw (asked ?? failures[0])!.error;
    for (const r of failures) warn(`${r.error.userMessage}; its processes may be missing or shown as starting`);

    let processes = mergeProcesses(answered, target.loaded?.config ?? null);
    if (args.node !== undefined) processes = processes.filter((p) => p.node === args.node);
    if (args.json) printJson(processes);
    else if (processes.length === 0) print(args.node === undefined ? "No processes (add one with `ferry create`)" : `No processes on node "${args.node}"`);
    else print(processTable(processes));
  },
};
