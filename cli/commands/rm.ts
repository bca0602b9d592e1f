/**
 * `ferry rm <process>`: removes a process from cluster.yaml (the file otherwise unchanged); the
 * node holding it stops it and drops its state.
 *
 * @example
 * ```sh
 * ferry rm sorter
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { type Command, type GlobalArgs, notifyNodes, openCluster } from "../command.ts";
import { print, printJson } from "../output.ts";
import { editConfigFile, removeProcess } from "../yaml-edit.ts";

interface RmArgs extends GlobalArgs {
  process: string;
}

/**
 * The `rm` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(rmCommand);
 * ```
 */
export const rmCommand: Command<RmArgs> = {
  command: "rm <process>",
  describe: "Remove a process from cluster.yaml and stop it",
  builder: (y: Argv<GlobalArgs>) =>
    y.positional("process", { type: "string", demandOption: true, describe: "Process name" })
      .example("$0 rm sorter", "Remove sorter from cluster.yaml; its node stops it") as unknown as Argv<RmArgs>,
  handler: async (args) => {
    const { cluster } = await openCluster(args);
    await editConfigFile(args.config, (text) => removeProcess(text, args.process));
    await notifyNodes(cluster, [args.process]);
    if (args.json) printJson({ process: args.process, removed: true });
    else print(`Removed ${args.process}`);
  },
};
