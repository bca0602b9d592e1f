/**
 * `ferry daemon --node <name>`: runs one node's daemon in the foreground until SIGINT/SIGTERM or
 * `ferry down`, then stops gracefully (processes checkpointed, resumed on the next start).
 *
 * @example
 * ```sh
 * ferry daemon --node alpha --config /srv/ferry/cluster.yaml
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { type Command, configPath, type GlobalArgs } from "../command.ts";
import { keepRunningWhenOutputCloses } from "../output.ts";

interface DaemonArgs extends GlobalArgs {
  node: string;
}

/**
 * The `daemon` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(daemonCommand);
 * ```
 */
export const daemonCommand: Command<DaemonArgs> = {
  command: "daemon",
  describe: "Run one node's daemon in the foreground",
  builder: (y: Argv<GlobalArgs>) =>
    y.option("node", { type: "string", demandOption: true, describe: "Node name in cluster.yaml" })
      .example("$0 daemon --node alpha", "Run node alpha's daemon in the foreground")
      .example("$0 daemon --node alpha --config /srv/ferry/cluster.yaml", "With another cluster.yaml") as unknown as Argv<DaemonArgs>,
  handler: async (args) => {
    keepRunningWhenOutputCloses();
    // Imported here: the daemon (executors, HTTP server, watcher) is not needed by other commands.
    const { runDaemon } = await import("../../daemon/mod.ts");
    const { configEditor } = await import("../config-editor.ts");
    await runDaemon({ configFile: configPath(args), node: args.node, configEditor });
  },
};
