/**
 * `ferry call <process> <method> [args...]`: invokes a method on a running process, wherever it
 * runs. If the process moves between locating it and calling it, it is located again and the
 * call retried until the timeout: a hand-off is brief, and the caller should not have to care.
 *
 * @example
 * ```sh
 * ferry call counter add 5
 * ferry call counter get --json
 * ```
 * @module
 */
import type { Argv } from "yargs";
import { FerryError, isFerryError } from "../../daemon/errors.ts";
import { type Command, type GlobalArgs, openCluster, sleep } from "../command.ts";
import type { CallResponse } from "../../schemas/api.schema.ts";
import type { ClusterClient, Location } from "../client.ts";
import { print, printJson } from "../output.ts";

interface CallArgs extends GlobalArgs {
  process: string;
  method: string;
  args: string[] | undefined;
  timeout: number | undefined;
  "--": string[] | undefined;
}

/**
 * The `call` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(callCommand);
 * ```
 */
export const callCommand: Command<CallArgs> = {
  command: "call <process> <method> [args...]",
  describe: "Invoke a method on a running process and print its return value",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("process", { type: "string", demandOption: true, describe: "Process name" })
      .positional("method", { type: "string", demandOption: true, describe: "Public method of the process class" })
      .positional("args", { type: "string", array: true, describe: "Arguments, passed as strings (after -- when they start with -)" })
      .option("timeout", { type: "number", describe: "Give up after this many ms (default: cluster.callTimeoutMs)" }) as unknown as Argv<CallArgs>,
  handler: async (args) => {
    const { loaded, cluster } = await openCluster(args);
    const timeoutMs = args.timeout ?? loaded.config.cluster.callTimeoutMs;
    const callArgs = [...(args.args ?? []), ...(args["--"] ?? [])].map(String);
    const declared = Object.hasOwn(loaded.config.processes, args.process);
    const response = await callAnywhere(cluster, args.process, args.method, callArgs, timeoutMs, declared);
    if (args.json) printJson(response.value);
    else print(response.text);
  },
};

/**
 * Locates `name` and calls `method` on its holder, locating again while the process is between
 * nodes, until `timeoutMs` has passed.
 *
 * @example
 * ```ts
 * const { text } = await callAnywhere(cluster, "counter", "get", [], 10_000, true);
 * ```
 */
export async function callAnywhere(
  cluster: ClusterClient,
  name: string,
  method: string,
  args: string[],
  timeoutMs: number,
  declared: boolean,
): Promise<CallResponse> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let last: FerryError | undefined;
  while (true) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    let where: Location | null;
    try {
      where = await cluster.locate(name, { timeoutMs: Math.min(remaining, 2_000) });
    } catch (error) {
      // No node answered: for a name cluster.yaml does not know, that is the more useful news.
      if (declared) throw error;
      where = null;
    }
    if (!where && !declared) {
      const known = Object.keys(cluster.config.processes);
      throw new FerryError("process_not_found", `No process named "${name}" in cluster.yaml`, {
        hint: known.length > 0 ? `known processes: ${known.join(", ")}` : "cluster.yaml declares none; add one with `ferry create`",
      });
    }
    if (where) {
      try {
        const left = Math.max(1, deadline - Date.now());
        // The node bounds the method itself; the HTTP deadline leaves room for its answer.
        return await cluster.node(where.node).post("call", { name, method, args, timeoutMs: left }, { timeoutMs: left + 1_000 });
      } catch (error) {
        // Anything but "not here (any more)" is the method's or the node's answer: final.
        if (!isFerryError(error) || error.code !== "process_not_found") throw error;
        last = error;
      }
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 200);
  }
  throw new FerryError("timeout", `Process "${name}" is not running on any reachable node after ${timeoutMs} ms`, {
    hint: last ? `last answer: ${last.message}; see \`ferry ps\`` : "it may be starting or moving; see `ferry ps` and `ferry events`",
  });
}
