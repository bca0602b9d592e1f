/**
 * `ferry migrate <process> <node>`: points the process at another node in cluster.yaml (the
 * file stays as the user wrote it), nudges the daemons, and by default waits until the process
 * runs on the destination with a newer generation, then prints how the hand-off went.
 *
 * A hand-off that rolls back is retried by the daemons while the YAML asks for it, so a rollback
 * is not a failure here: the command keeps waiting and only reports the last error at timeout.
 * What does end the wait is a later edit of cluster.yaml sending the process elsewhere (another
 * `ferry migrate`, an editor): the daemons follow the last edit, so this command fails with a
 * conflict naming where the process went instead of reporting a move that will not stand.
 *
 * @example
 * ```sh
 * ferry migrate counter beta          # counter: alpha → beta in 14 ms (downtime 1.2 ms, 512 B moved)
 * ferry migrate counter beta --no-wait
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { readFileSync } from "node:fs";
import { loadClusterText } from "../../daemon/config/load.ts";
import { describeError, FerryError, isFerryError, isRetryable } from "../../daemon/errors.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";
import process from "node:process";
import type { ClusterClient, Location, NodeClient } from "../client.ts";
import { type Command, type GlobalArgs, notifyNodes, openCluster, sleep } from "../command.ts";
import { formatBytes, formatMs } from "../format.ts";
import { mergeProcesses } from "../process-view.ts";
import { print, printJson } from "../output.ts";
import { editConfigFile, setProcessNode } from "../yaml-edit.ts";

interface MigrateArgs extends GlobalArgs {
  process: string;
  node: string;
  wait: boolean;
  timeout: number;
}

/** What `migrate --json` prints once the process runs on the destination. */
export interface MigrateResult {
  process: string;
  from: string;
  to: string;
  /** From the edit of cluster.yaml until the process was seen running on `to`. */
  ms: number;
  downtimeMs: number | null;
  bytes: number | null;
  generation: number;
}

/**
 * The `migrate` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(migrateCommand);
 * ```
 */
export const migrateCommand: Command<MigrateArgs> = {
  command: "migrate <process> <node>",
  describe: "Move a process to another node (edits cluster.yaml) and wait until it runs there",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("process", { type: "string", demandOption: true, describe: "Process name" })
      .positional("node", { type: "string", demandOption: true, describe: "Destination node" })
      .option("wait", { type: "boolean", default: true, describe: "Wait until it runs on the destination (--no-wait to return at once)" })
      .option("timeout", { type: "number", default: 30_000, describe: "Give up waiting after this many ms" })
      .example("$0 migrate counter beta", "Move counter to beta; wait and print the hand-off timings")
      .example("$0 migrate counter beta --no-wait", "Only edit cluster.yaml and tell the daemons") as unknown as Argv<MigrateArgs>,
  handler: async (args) => {
    const { loaded, cluster } = await openCluster(args);
    const { process: name, node: to } = args;
    const target = cluster.node(to);
    const spec = loaded.config.processes[name];
    if (!spec) setProcessNode(loaded.text, name, to); // throws the "No process named" error with its hint

    const before = await cluster.locate(name).catch(() => null);
    const from = before?.node ?? spec?.node ?? "-";
    if (before?.node === to && isUp(before)) {
      // Already there (maybe a hand-off back to the old node is pending): pin it in the YAML.
      if (spec?.node !== to) {
        await editConfigFile(args.config, (text) => setProcessNode(text, name, to));
        await notifyNodes(cluster, [name]);
      }
      if (args.json) printJson({ process: name, from: to, to, ms: 0, downtimeMs: null, bytes: null, generation: before.generation, note: "already there" });
      else print(`${name} already runs on ${to}; nothing to do`);
      return;
    }

    const started = performance.now();
    const written = spec?.node !== to ? (await editConfigFile(args.config, (text) => setProcessNode(text, name, to))).text : undefined;
    await notifyNodes(cluster, [name]);
    if (!args.wait) {
      if (args.json) printJson({ process: name, from, to, requested: true });
      else print(`${name}: ${from} → ${to} requested (cluster.yaml updated)`);
      return;
    }

    const placement = new PlacementWatch(args.config, name, to, written);
    const arrived = await waitUntilRunning(cluster, target, name, before?.generation ?? -1, args.timeout, placement);
    const result: MigrateResult = {
      process: name,
      from,
      to,
      ms: Math.round((performance.now() - started) * 10) / 10,
      downtimeMs: arrived.lastDowntimeMs,
      bytes: arrived.lastTransferBytes,
      generation: arrived.generation,
    };
    if (args.json) printJson(result);
    else print(describeMigration(result));
  },
};

function isUp(where: Location): boolean {
  return where.state === "running" || where.state === "completed";
}

/**
 * `counter: alpha → beta in 14 ms (downtime 1.2 ms, 512 B moved)`.
 *
 * @example
 * ```ts
 * describeMigration({ process: "counter", from: "alpha", to: "beta", ms: 14, downtimeMs: 1.2, bytes: 512, generation: 3 });
 * ```
 */
export function describeMigration(r: MigrateResult): string {
  const details = [
    r.downtimeMs === null ? undefined : `downtime ${formatMs(r.downtimeMs)}`,
    r.bytes === null ? undefined : `${formatBytes(r.bytes)} moved`,
  ].filter((d) => d !== undefined);
  return `${r.process}: ${r.from} → ${r.to} in ${formatMs(r.ms)}${details.length ? ` (${details.join(", ")})` : ""}`;
}

/**
 * Polls the destination every ~5 ms until it holds `name` running with a generation above
 * `generation`; meanwhile watches the cluster-wide `error` of the process so that a timeout can
 * say why (a rollback, an unreachable node...), and cluster.yaml, which a later edit may have
 * pointed elsewhere. An answer of the destination that no retry can change (a wrong secret) ends
 * the wait at once. Returns the destination's view of the process.
 */
async function waitUntilRunning(
  cluster: ClusterClient,
  target: NodeClient,
  name: string,
  generation: number,
  timeoutMs: number,
  placement: PlacementWatch,
): Promise<ProcessInfo> {
  const deadline = Date.now() + timeoutMs;
  const progress = new ProgressBar(`${name} → ${target.name}`);
  try {
    return await poll();
  } finally {
    progress.done();
  }
  async function poll(): Promise<ProcessInfo> {
    let lastError: string | null = null;
    let watching: Promise<void> | undefined;
    let nextWatch = 0;
    while (true) {
      try {
        const here = await target.post("locate", { name }, { timeoutMs: 2_000 });
        if (here.holds && !here.inDoubt && (here.state === "running" || here.state === "completed") && (here.generation ?? 0) > generation) {
          const info = (await target.post("ps", {}, { timeoutMs: 2_000 })).find((p) => p.name === name);
          // Arrived, but maybe only on its way elsewhere: success only while the YAML still says so.
          if (info) {
            await placement.check(true);
            return info;
          }
        }
      } catch (error) {
        if (!isRetryable(error)) throw error;
        // Without its hint: the timeout message below brings its own.
        lastError = isFerryError(error) ? error.message : describeError(error);
      }
      await placement.check(false);
      // The error field lives on whichever node holds the process: sampled now and then, in the
      // background, so that the 5 ms cadence on the destination is kept.
      if (!watching && Date.now() >= nextWatch) {
        nextWatch = Date.now() + 250;
        watching = cluster.fanOut("ps", {}, { timeoutMs: 1_000 }).then((results) => {
          const reports = results.flatMap((r) => (r.ok ? [r.value] : []));
          const seen = mergeProcesses(reports, null).find((p) => p.name === name);
          if (seen?.error) lastError = seen.error;
          const transfer = reports.flat().find((p) => p.name === name && p.transfer)?.transfer;
          if (transfer) progress.show(transfer.received, transfer.total);
        }).finally(() => (watching = undefined));
      }
      if (Date.now() >= deadline) {
        throw new FerryError("timeout", `Process "${name}" did not start on "${target.name}" within ${timeoutMs} ms${lastError ? `: ${lastError}` : ""}`, {
          hint: "the daemons keep retrying while cluster.yaml asks for it; see `ferry ps` and `ferry events`",
        });
      }
      await sleep(5);
    }
  }
}

/**
 * Where cluster.yaml places the process now, re-read while waiting: a later edit that sends it
 * to another node (or removes it) supersedes this migration. Only a valid file counts, as for the
 * daemons, which keep the last good config; the file is re-parsed only when its text changed.
 */
class PlacementWatch {
  #text: string | undefined;
  #nextMs = 0;
  /** `written`: the text this command wrote, valid and placing the process on `to`, so not parsed again. */
  constructor(readonly file: string, readonly name: string, readonly to: string, written?: string) {
    this.#text = written;
  }

  /** Throws a conflict when the file no longer asks for `to`; at most every 100 ms unless `now`. */
  async check(now: boolean): Promise<void> {
    if (!now && Date.now() < this.#nextMs) return;
    this.#nextMs = Date.now() + 100;
    let text: string | undefined;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      // Unreadable for now (being replaced): the next check reads it again.
    }
    if (text === undefined || text === this.#text) return;
    this.#text = text;
    // The text just read, not the file once more: it may be replaced again in between.
    const config = await loadClusterText(text, this.file).then((l) => l.config, () => undefined);
    if (!config) return;
    const spec = config.processes[this.name];
    if (spec?.node === this.to) return;
    const what = !spec
      ? `was removed from cluster.yaml by a later edit; it will not run on "${this.to}"`
      : spec.node === undefined
      ? `was left to the balancer by a later edit of cluster.yaml; it may not run on "${this.to}"`
      : `was sent to "${spec.node}" by a later edit of cluster.yaml; it will not run on "${this.to}"`;
    // A conflict that waiting cannot resolve: the later edit stands.
    throw new FerryError("conflict", `Process "${this.name}" ${what}`, {
      hint: `see \`ferry ps\`; \`ferry migrate ${this.name} ${this.to}\` asks for it again`,
      retryable: false,
    });
  }
}

/** A one-line progress bar on stderr for large transfers; silent when stderr is not a terminal. */
class ProgressBar {
  #shown = false;
  constructor(readonly label: string) {}

  show(received: number, total: number): void {
    if (!process.stderr.isTTY || total < 4 * 1024 * 1024) return;
    const width = 30;
    const filled = Math.round((received / total) * width);
    process.stderr.write(`\r${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.floor((received / total) * 100)}% of ${formatBytes(total)}`);
    this.#shown = true;
  }

  done(): void {
    if (this.#shown) process.stderr.write("\n");
  }
}
