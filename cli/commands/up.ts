/**
 * `ferry up`: runs, in the foreground, the daemon of every node of cluster.yaml whose URL is on
 * this machine, each under its declared runtime, supervised (crashed daemons are restarted).
 * Ctrl-C (or SIGTERM) stops them all gracefully; a second Ctrl-C kills them. `--node` names the
 * nodes to run instead, for a machine that a node's URL does not name the way this machine knows
 * itself (a DNS name other than its host name, an address in front of it).
 *
 * @example
 * ```sh
 * ferry up
 * ferry up --node alpha,gamma
 * ```
 * @module
 */
import process from "node:process";
import { FerryError } from "../../daemon/errors.ts";
import { planListen, readServeTls } from "../../daemon/listen.ts";
import type { Argv } from "../argv.ts";
import { type Command, configPath, type GlobalArgs, openCluster } from "../command.ts";
import { daemonCommandLine, isLocalUrl, missingRuntime } from "../daemon-command.ts";
import { table } from "../format.ts";
import { keepRunningWhenOutputCloses, print, warn } from "../output.ts";
import { type ChildSpec, Supervisor } from "../supervisor.ts";

/**
 * The `up` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(upCommand);
 * ```
 */
interface UpArgs extends GlobalArgs {
  node: string | undefined;
}

export const upCommand: Command<UpArgs> = {
  command: "up",
  describe: "Run the daemons of all local nodes in the foreground, supervised (Ctrl-C stops them)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("node", { type: "string", list: true, describe: "Run these nodes (comma-separated) instead of those whose URL is on this machine" })
      .example("$0 up", "Run every node of ./cluster.yaml that lives on this machine; Ctrl-C stops them")
      .example("$0 up --node alpha", "Run node alpha only, whatever host its URL names")
      .example("$0 up --config /srv/ferry/cluster.yaml", "Another cluster") as unknown as Argv<UpArgs>,
  handler: async (args) => {
    keepRunningWhenOutputCloses();
    const { loaded, cluster } = await openCluster(args);
    const file = configPath(args);
    const nodes = Object.entries(loaded.config.nodes);
    const local = nodesToRun(nodes, args.node?.split(",").map((n) => n.trim()).filter(Boolean));

    // A node that already answers is run by someone else; a second daemon could not listen anyway.
    const running = new Set(
      (await cluster.fanOut("status", {}, { timeoutMs: 1_000 })).filter((r) => r.ok || r.error.code !== "unreachable").map((r) => r.node),
    );
    const specs: ChildSpec[] = [];
    const rows: string[][] = [];
    for (const [name, spec] of nodes) {
      const runtime = spec.runtime ?? "node";
      if (!local.some(([n]) => n === name)) rows.push([name, spec.url, runtime, args.node ? "not named by --node" : "remote: start it on its own machine"]);
      else if (running.has(name)) rows.push([name, spec.url, runtime, "already running: left alone"]);
      else {
        specs.push({ name, ...daemonCommandLine(runtime, name, file) });
        rows.push([name, spec.url, runtime, ""]);
      }
    }
    if (specs.length === 0) {
      throw new FerryError("conflict", "Every local node is already running", { hint: "stop them with `ferry down`" });
    }
    // Refused here, once, as each daemon would refuse to start (rather than restarted in a loop).
    for (const { name, command } of specs) {
      const problem = missingRuntime(name, loaded.config.nodes[name]?.runtime ?? "node", command);
      if (problem) throw problem;
      await readServeTls(planListen(loaded, name), loaded.dir);
    }

    print(`ferry up: cluster "${loaded.config.cluster.name}" from ${file}`);
    print(table(["NODE", "URL", "RUNTIME", ""], rows).split("\n").map((l) => `  ${l}`).join("\n"));
    print("Ctrl-C stops them all.");
    if (running.size > 0) warn(`${running.size} node(s) already running were left alone`);

    const supervisor = new Supervisor(specs);
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals === 1) process.stderr.write("\nferry up: stopping all daemons (Ctrl-C again to kill them)\n");
      void supervisor.stop(signals > 1);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    supervisor.start();
    try {
      await supervisor.done;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};

/**
 * The nodes `ferry up` runs: those `named` (each must exist), else those whose URL is on this
 * machine (none is an error that says how to choose).
 *
 * @example
 * ```ts
 * nodesToRun(Object.entries(config.nodes), ["alpha"]); // [["alpha", { url: ... }]]
 * ```
 */
export function nodesToRun<T extends { url: string }>(nodes: Array<[string, T]>, named: readonly string[] | undefined): Array<[string, T]> {
  if (named && named.length > 0) {
    const unknown = named.filter((name) => !nodes.some(([n]) => n === name));
    if (unknown.length > 0) {
      throw new FerryError("not_found", `No node named ${unknown.map((n) => `"${n}"`).join(", ")} in cluster.yaml`, {
        hint: `nodes: ${nodes.map(([n]) => n).join(", ")}`,
      });
    }
    return nodes.filter(([name]) => named.includes(name));
  }
  const local = nodes.filter(([, spec]) => isLocalUrl(spec.url));
  if (local.length === 0) {
    throw new FerryError("not_found", "No node of cluster.yaml has an address on this machine", {
      hint: "node URLs must point at 127.0.0.1, localhost or one of this machine's addresses; or name the nodes to run with --node",
    });
  }
  return local;
}
