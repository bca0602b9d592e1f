/**
 * `ferry create <process> <module> [--node <name>] [-- args...]`: declares a new process in
 * cluster.yaml (the file otherwise unchanged) and asks the daemons to start it now.
 *
 * @example
 * ```sh
 * ferry create sorter AlphabetSorter --node beta -- data/input.txt data/output.txt
 * ```
 * @module
 */
import { relative } from "node:path";
import process from "node:process";
import type { Argv } from "../argv.ts";
import { FerryError } from "../../daemon/errors.ts";
import { type Command, type GlobalArgs, notifyNodes, openCluster } from "../command.ts";
import { print, printJson } from "../output.ts";
import { addProcess, defaultNode, editConfigFile } from "../yaml-edit.ts";

interface CreateArgs extends GlobalArgs {
  process: string;
  module: string;
  node: string | undefined;
  "--": string[] | undefined;
}

/**
 * The `create` command. Without `--node` the process goes to the node with the fewest
 * processes in cluster.yaml.
 *
 * @example
 * ```ts
 * yargs(argv).command(createCommand);
 * ```
 */
export const createCommand: Command<CreateArgs> = {
  command: "create <process> <module>",
  describe: "Add a process to cluster.yaml and start it (args after --)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("process", { type: "string", demandOption: true, describe: "Name of the new process" })
      .positional("module", { type: "string", demandOption: true, describe: "Module in the processes folder (file name without extension)" })
      .option("node", { type: "string", describe: "Node to run it on (default: the one with the fewest processes)" })
      .example("$0 create sorter AlphabetSorter --node beta -- data/in.txt data/out.txt", "Add a process running processes/AlphabetSorter.ts on beta")
      .example("$0 create counter Counter", "On the node with the fewest processes") as unknown as Argv<CreateArgs>,
  handler: async (args) => {
    const { loaded, cluster } = await openCluster(args);
    if (!loaded.modules.has(args.module)) {
      const known = [...loaded.modules.keys()].sort();
      throw new FerryError("module_not_found", `No module named "${args.module}" in ${relative(process.cwd(), loaded.processesDir) || "."}`, {
        hint: known.length > 0 ? `known modules: ${known.join(", ")}` : `add ${args.module}.ts there, default-exporting a class`,
      });
    }
    const processArgs = (args["--"] ?? []).map(String);
    let node = args.node;
    await editConfigFile(args.config, (text) => {
      node ??= defaultNode(text);
      return addProcess(text, args.process, { module: args.module, args: processArgs, node });
    });
    await notifyNodes(cluster, [args.process]);
    if (args.json) printJson({ process: args.process, module: args.module, args: processArgs, node });
    else print(`Created ${args.process} (${args.module}${processArgs.length ? ` ${processArgs.join(" ")}` : ""}) on ${node}`);
  },
};
