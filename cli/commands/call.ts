/**
 * `ferry call <process> <method> [args...]`: invokes a method on a running process, wherever it
 * runs. While the process is between nodes (its holder answers with an error that says retrying
 * may help, or it has just left the node it was found on) it is located again and the call
 * retried until the timeout: a hand-off is brief, and the caller should not have to care. Every
 * attempt carries the same call id, so a retry of a call that ran but whose answer was lost is
 * answered again, not run twice. Works while cluster.yaml has errors: the daemons run the last
 * good config.
 *
 * @example
 * ```sh
 * ferry call counter add 5
 * ferry call counter get --json
 * ```
 * @module
 */
import { randomUUID } from "../../daemon/builtins/crypto.ts";
import type { Argv } from "../argv.ts";
import { FerryError, isFerryError, isRetryable } from "../../daemon/errors.ts";
import { clusterSettingsSchema } from "../../schemas/cluster.schema.ts";
import { type Command, type GlobalArgs, openClusterLenient, sleep } from "../command.ts";
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
      .option("timeout", { type: "number", describe: "Give up after this many ms (default: cluster.callTimeoutMs)" })
      .example("$0 call counter get", "Print what counter.get([]) returns")
      .example("$0 call counter add 5 --json", "Call add([\"5\"]); the value as JSON") as unknown as Argv<CallArgs>,
  handler: async (args) => {
    const { target, cluster } = await openClusterLenient(args, "calling the process where its daemons run it");
    // A broken file's own setting may be the broken part: the schema's default then.
    const timeoutMs = args.timeout ?? target.loaded?.config.cluster.callTimeoutMs ?? clusterSettingsSchema.properties.callTimeoutMs.default;
    const callArgs = [...(args.args ?? []), ...(args["--"] ?? [])].map(String);
    const response = await callAnywhere(cluster, args.process, args.method, callArgs, timeoutMs, target.processes);
    if (args.json) printJson(response.value);
    else print(response.text);
  },
};

/** How long one look for the holder may take: a node slower than this to answer counts as not answering. */
const LOCATE_TIMEOUT_MS = 2_000;

/**
 * Locates `name` and calls `method` on its holder, until `timeoutMs` has passed, locating it
 * again and retrying while the answer says that retrying may help (`error.retryable`: the
 * process is moving, its node is restarting...) or the process has just left the node it was
 * found on. Any other answer is final. `known` are the processes cluster.yaml declares (null
 * when unknown): a name it does not declare fails at once when no node holds it. Every attempt
 * sends the same call id (`callId`, a fresh one by default), by which a node that already ran the
 * call answers it again instead of running it twice.
 *
 * A cluster where no node answers at all fails at once too: nothing suggests that waiting helps.
 * Once a node has answered, a node that stops answering is waited for (it may be restarting).
 *
 * @example
 * ```ts
 * const { text } = await callAnywhere(cluster, "counter", "get", [], 10_000, ["counter"]);
 * ```
 */
export async function callAnywhere(
  cluster: ClusterClient,
  name: string,
  method: string,
  args: string[],
  timeoutMs: number,
  known: readonly string[] | null,
  callId: string = randomUUID(),
): Promise<CallResponse> {
  const declared = known === null || known.includes(name);
  const deadline = Date.now() + timeoutMs;
  const seenOn: string[] = [];
  let delay = 5;
  let answered = false;
  let last: FerryError | undefined;
  while (true) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    let where: Location | null = null;
    const locateMs = Math.min(remaining, LOCATE_TIMEOUT_MS);
    try {
      where = await cluster.locate(name, { timeoutMs: locateMs });
      answered = true;
    } catch (error) {
      // No node answered: for a name cluster.yaml does not know, that is the more useful news.
      if (declared && (!answered || !isRetryable(error))) throw error;
      // A look cut short by this call's own deadline says nothing about the nodes: the answer before it is the news.
      const cutShort = locateMs < LOCATE_TIMEOUT_MS && isFerryError(error) && error.code === "timeout";
      if (declared && isFerryError(error) && !cutShort) last = error;
    }
    if (!where && !declared) throw notDeclared(name, known ?? []);
    if (where) {
      if (seenOn.at(-1) !== where.node) seenOn.push(where.node);
      try {
        const left = Math.max(1, deadline - Date.now());
        // The node bounds the method itself; the HTTP deadline leaves room for its answer.
        // A daemon of an older release knows no call ids: it refuses the id unread, and is sent the call without it.
        return await cluster.node(where.node).post("call", { name, method, args, timeoutMs: left, callId }, { timeoutMs: left + 1_000, newFields: ["callId"] });
      } catch (error) {
        // "Not here" from the node that held it a moment ago means it moved on: look again.
        const movedOn = isFerryError(error) && error.code === "process_not_found";
        if (!isFerryError(error) || !(error.retryable || movedOn)) throw error;
        last = error;
      }
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 200);
  }
  throw gaveUp(name, timeoutMs, seenOn, last);
}

function notDeclared(name: string, known: readonly string[]): FerryError {
  return new FerryError("process_not_found", `No process named "${name}" in cluster.yaml`, {
    hint: known.length > 0 ? `known processes: ${known.join(", ")}` : "cluster.yaml declares none; add one with `ferry create`",
  });
}

/** Why the call never got through: moving, stuck on one node, or never found. */
function gaveUp(name: string, timeoutMs: number, seenOn: readonly string[], last: FerryError | undefined): FerryError {
  const hint = "see `ferry ps` and `ferry events`";
  const answer = last ? `; last answer: ${last.message}` : "";
  const nodes = [...new Set(seenOn)];
  if (seenOn.length > 1) {
    return new FerryError("timeout", `Process "${name}" kept moving between nodes (${nodes.map((n) => `"${n}"`).join(", ")}) for ${timeoutMs} ms${answer}`, { hint });
  }
  if (nodes.length === 1) {
    return new FerryError("timeout", `Process "${name}" on node "${nodes[0]}" did not take the call within ${timeoutMs} ms${answer}`, { hint });
  }
  return new FerryError("timeout", `Process "${name}" is not running on any reachable node after ${timeoutMs} ms`, {
    hint: last ? `last answer: ${last.message}; ${hint}` : `it may be starting or moving; ${hint}`,
  });
}
