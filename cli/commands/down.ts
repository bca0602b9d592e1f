/**
 * `ferry down`: asks every daemon of the cluster to stop gracefully (processes checkpointed) and
 * waits until each has let go of its address, so that `ferry down && ferry up` just works.
 * Daemons that are not running are fine: the goal is "none running". Works while cluster.yaml
 * has errors, as long as the node addresses can be read: stopping needs nothing else.
 *
 * @example
 * ```sh
 * ferry down
 * ```
 * @module
 */
import { FerryError, isFerryError } from "../../daemon/errors.ts";
import type { NodeClient } from "../client.ts";
import { type Command, type GlobalArgs, openClusterLenient, sleep } from "../command.ts";
import { print, printJson } from "../output.ts";

/** How long a daemon may take to checkpoint its processes and exit. */
const stopTimeoutMs = 30_000;

type Outcome = "stopped" | "not running" | "still stopping";

/**
 * The `down` command. Fails only when a running daemon refused (e.g. a wrong secret).
 *
 * @example
 * ```ts
 * yargs(argv).command(downCommand);
 * ```
 */
export const downCommand: Command<GlobalArgs> = {
  command: "down",
  describe: "Stop every daemon of the cluster gracefully",
  builder: (y) => y.example("$0 down", "Stop every daemon of the cluster gracefully"),
  handler: async (args) => {
    const { cluster } = await openClusterLenient(args, "stopping the daemons of the nodes it names");
    const results = await cluster.each(async (node): Promise<Outcome> => {
      try {
        await node.post("shutdown", {}, { timeoutMs: 5_000 });
      } catch (error) {
        if (isFerryError(error) && error.code === "unreachable") return "not running";
        throw error;
      }
      return (await stopped(node)) ? "stopped" : "still stopping";
    });

    if (args.json) {
      printJson(results.map((r) => (r.ok ? { node: r.node, url: r.url, result: r.value } : { node: r.node, url: r.url, result: "failed", error: r.error.userMessage })));
    } else {
      for (const r of results) print(`${r.node}: ${r.ok ? r.value : `failed: ${r.error.userMessage}`}`);
    }
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) throw failed.error;
    const slow = results.filter((r) => r.ok && r.value === "still stopping").map((r) => r.node);
    if (slow.length > 0) {
      throw new FerryError("timeout", `Node ${slow.map((n) => `"${n}"`).join(", ")} still running ${stopTimeoutMs} ms after the shutdown request`, {
        hint: "it may still be checkpointing a large process; see its log",
      });
    }
  },
};

/** True once the daemon no longer answers; false if it still does after the grace period. */
async function stopped(node: NodeClient): Promise<boolean> {
  const deadline = Date.now() + stopTimeoutMs;
  while (Date.now() < deadline) {
    try {
      await node.post("status", {}, { timeoutMs: 1_000 });
    } catch (error) {
      if (isFerryError(error) && error.code === "unreachable") return true;
    }
    await sleep(50);
  }
  return false;
}
