/**
 * `ferry logs <process> [-f] [--lines N] [--since T]`: what a process printed and what happened
 * to it, from every node it ran on, as one log in time order.
 *
 * Every reachable node is asked for the records it keeps; they are merged by time (then node
 * order). With `--follow`, each node then streams its new records from where its answer ended
 * (its sequence number), so a process that moves from alpha to beta reads on without a gap or a
 * repeated line; as in `ferry events --follow`, records are held back for a moment and released
 * in time order, and a node that drops is reconnected from the last record seen of it. Works
 * while cluster.yaml has errors.
 *
 * @example
 * ```sh
 * ferry logs counter --lines 50
 * ferry logs counter --since 10m -f
 * ferry logs counter --json | jq -r 'select(.stream == "event") | .text'
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { FerryError } from "../../daemon/errors.ts";
import type { LogRecord } from "../../schemas/api.schema.ts";
import type { NodeClient } from "../client.ts";
import { type Command, type GlobalArgs, openClusterLenient } from "../command.ts";
import { formatRecord, mergeRecords, parseSince, recordOrder } from "../log-records.ts";
import { note, print, printJson, warn } from "../output.ts";
import { followMerged, followNode } from "../follow-merged.ts";

interface LogsArgs extends GlobalArgs {
  process: string;
  follow: boolean;
  lines: number | undefined;
  since: string | undefined;
}

/** How long a followed record waits for earlier ones from slower connections. */
const reorderMs = 150;

/**
 * The `logs` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(logsCommand);
 * ```
 */
export const logsCommand: Command<LogsArgs> = {
  command: "logs <process>",
  describe: "Show a process's output and lifecycle lines from every node it ran on (-f to follow)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("process", { type: "string", demandOption: true, describe: "Process name" })
      .option("follow", { alias: "f", type: "boolean", default: false, describe: "Keep streaming new lines until Ctrl-C" })
      .option("lines", { alias: "n", type: "number", describe: "Only the last N lines (before following)" })
      .option("since", { type: "string", describe: "Only lines since an ISO time or a duration ago (30s, 10m, 2h, 1d)" }) as unknown as Argv<LogsArgs>,
  handler: async (args) => {
    if (args.lines !== undefined && (!Number.isInteger(args.lines) || args.lines < 1)) {
      throw new FerryError("bad_request", `Invalid --lines "${args.lines}"`, { hint: "give a whole number of 1 or more" });
    }
    const sinceTs = args.since === undefined ? undefined : parseSince(args.since);
    const { target, cluster } = await openClusterLenient(args, "reading the logs its daemons keep");
    const names = cluster.nodes.map((n) => n.name);
    const width = Math.max(...names.map((n) => n.length));
    const show = (record: LogRecord) => (args.json ? printJson(record, { compact: true }) : print(formatRecord(record, width)));
    const query = { process: args.process, ...(sinceTs !== undefined ? { sinceTs } : {}), ...(args.lines !== undefined ? { lines: args.lines } : {}) };

    const results = await cluster.fanOut("logs.read", query, { timeoutMs: 10_000 });
    const failures = results.flatMap((r) => (r.ok ? [] : [r.error]));
    if (failures.length === results.length && failures[0]) throw failures[0];
    for (const error of failures) warn(`${error.userMessage}; its lines are missing`);
    const backlog = mergeRecords(results.map((r) => (r.ok ? r.value.records : [])), names, args.lines !== undefined ? { lines: args.lines } : {});
    if (backlog.length === 0 && !args.follow) {
      if (target.loaded && !target.loaded.config.processes[args.process]) {
        throw new FerryError("process_not_found", `No process "${args.process}" in cluster.yaml and no node keeps lines of it`, { hint: "`ferry ps` lists the processes" });
      }
      note(`no lines of "${args.process}"${sinceTs ? ` since ${sinceTs}` : ""}`);
      return;
    }
    backlog.forEach(show);
    if (!args.follow) return;

    // Each node goes on from where its answer ended; a node that did not answer, from its last N.
    const from = new Map(results.map((r) => [r.node, r.ok ? { process: args.process, after: r.value.seq, ...(sinceTs !== undefined ? { sinceTs } : {}) } : query]));
    await followMerged(cluster.nodes, (node: NodeClient, signal, emit: (record: LogRecord) => void) => follow(node, from.get(node.name)!, signal, emit), recordOrder(names), show, reorderMs);
  },
};

type FollowQuery = { process: string; after?: number; sinceTs?: string; lines?: number };

/** Streams one node's new records until `signal` aborts, reconnecting after the last one seen. */
function follow(node: NodeClient, query: FollowQuery, signal: AbortSignal, emit: (record: LogRecord) => void): Promise<void> {
  let last = query.after;
  const resume = (): FollowQuery => (last === undefined ? query : { process: query.process, after: last, ...(query.sinceTs !== undefined ? { sinceTs: query.sinceTs } : {}) });
  return followNode(node, signal, () => node.followLogs(resume(), signal), (record) => {
    if (last !== undefined && record.seq <= last) return;
    last = record.seq;
    emit(record);
  });
}
