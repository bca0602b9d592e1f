/**
 * `ferry up`: runs, in the foreground, the daemon of every node of cluster.yaml whose URL is on
 * this machine, each under its declared runtime, supervised (crashed daemons are restarted).
 * Ctrl-C (or SIGTERM) stops them all gracefully; a second Ctrl-C kills them.
 *
 * @example
 * ```sh
 * ferry up
 * ```
 * @module
 */
import process from "node:process";
import { FerryError } from "../../daemon/errors.ts";
import { planListen, readServeTls } from "../../daemon/listen.ts";
import { type Command, configPath, type GlobalArgs, openCluster } from "../command.ts";
import { daemonCommandLine, isLocalUrl } from "../daemon-command.ts";
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
export const upCommand: Command<GlobalArgs> = {
  command: "up",
  describe: "Run the daemons of all local nodes in the foreground, supervised (Ctrl-C stops them)",
  builder: (y) => y.example("$0 up", "Run every node of ./cluster.yaml that lives on this machine; Ctrl-C stops them").example("$0 up --config /srv/ferry/cluster.yaml", "Another cluster"),
  handler: async (args) => {
    keepRunningWhenOutputCloses();
    const { loaded, cluster } = await openCluster(args);
    const file = configPath(args);
    const nodes = Object.entries(loaded.config.nodes);
    const local = nodes.filter(([, spec]) => isLocalUrl(spec.url));
    if (local.length === 0) {
      throw new FerryError("not_found", "No node of cluster.yaml has an address on this machine", {
        hint: "node URLs must point at 127.0.0.1, localhost or one of this machine's addresses",
      });
    }

    // A node that already answers is run by someone else; a second daemon could not listen anyway.
    const running = new Set(
      (await cluster.fanOut("status", {}, { timeoutMs: 1_000 })).filter((r) => r.ok || r.error.code !== "unreachable").map((r) => r.node),
    );
    const specs: ChildSpec[] = [];
    const rows: string[][] = [];
    for (const [name, spec] of nodes) {
      const runtime = spec.runtime ?? "node";
      if (!local.some(([n]) => n === name)) rows.push([name, spec.url, runtime, "remote: start it on its own machine"]);
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
    for (const { name } of specs) await readServeTls(planListen(loaded, name), loaded.dir);

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
