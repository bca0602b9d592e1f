/**
 * `ferry describe <process>`: everything about one process in one place: its `ps` row, the
 * version of its module on the node running it, its moves with their downtimes and the
 * hand-offs that rolled back (from the daemons' event logs, which cover each node since it
 * started), its last error and, when the daemons offer `logs.read`, its last log lines.
 *
 * @example
 * ```sh
 * ferry describe counter
 * ferry describe counter -o yaml
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { FerryError } from "../../daemon/errors.ts";
import type { FerryEvent } from "../../schemas/api.schema.ts";
import { type Command, type GlobalArgs, openClusterLenient } from "../command.ts";
import { formatBytes, formatMs, table } from "../format.ts";
import { lastLogLines } from "../log-lines.ts";
import { print, warn } from "../output.ts";
import { type OutputArgs, outputFormat, printData, withOutputOption } from "../output-format.ts";
import { processHistory } from "../process-history.ts";
import { mergeProcesses } from "../process-view.ts";
import { formatEvent } from "./events.ts";

interface DescribeArgs extends OutputArgs {
  process: string;
  lines: number;
}

/**
 * The `describe` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(describeCommand);
 * ```
 */
export const describeCommand: Command<DescribeArgs> = {
  command: "describe <process>",
  describe: "Show one process in detail: placement, module version, moves, last error, last log lines",
  builder: (y: Argv<GlobalArgs>) =>
    withOutputOption(y)
      .positional("process", { type: "string", demandOption: true, describe: "Process name" })
      .option("lines", { type: "number", default: 10, describe: "Log lines and events to show" })
      .example("$0 describe counter", "Where counter runs, how its moves went, its last log lines")
      .example("$0 describe counter -o yaml", "The same as YAML (-o json: as JSON)") as unknown as Argv<DescribeArgs>,
  handler: async (args) => {
    const format = outputFormat(args);
    const { target, cluster } = await openClusterLenient(args, "describing it as its daemons run it");
    const name = args.process;
    const results = await cluster.fanOut("status", {});
    const answered = results.flatMap((r) => (r.ok ? [r.value] : []));
    const failures = results.flatMap((r) => (r.ok ? [] : [r]));
    if (answered.length === 0) throw failures[0]!.error;
    for (const r of failures) warn(`${r.error.userMessage}; what it knows of "${name}" is missing`);
    const row = mergeProcesses(answered.map((s) => s.processes), target.loaded?.config ?? null, failures.map((r) => r.node)).find((p) => p.name === name);
    if (!row) {
      const known = mergeProcesses(answered.map((s) => s.processes), target.loaded?.config ?? null).map((p) => p.name);
      throw new FerryError("process_not_found", `No process named "${name}"`, { hint: known.length ? `known processes: ${known.join(", ")}` : "see `ferry ps`" });
    }
    const runner = answered.find((s) => s.node === row.node);
    const moduleVersion = runner?.modules.find((m) => m.name === row.module)?.version ?? null;
    const events = await cluster.each(async (node) => {
      const out: FerryEvent[] = [];
      for await (const e of node.events(false)) out.push(e);
      return out;
    });
    const history = processHistory(events.flatMap((r) => (r.ok ? r.value : [])), name);
    const log = await lastLogLines(cluster, name, args.lines);
    const lastError = row.error ?? history.lastError;

    if (format === "json" || format === "yaml") {
      printData({ ...row, moduleVersion, lastError, moves: history.moves, rollbacks: history.rollbacks, events: history.events.slice(-args.lines), log }, format);
      return;
    }
    const fields: [string, string][] = [
      ["Name", row.name],
      ["Module", `${row.module}${moduleVersion ? ` (version ${moduleVersion})` : ""}`],
      ["Args", row.args.length ? row.args.join(" ") : "-"],
      ["Node", row.node],
      ["Desired", row.desired ?? (row.placedBy === "balancer" ? "(balancer)" : "-")],
      ["State", row.state],
      ["Generation", String(row.generation)],
      ["Migrations", String(row.migrations)],
      ["Last downtime", row.lastDowntimeMs === null ? "-" : formatMs(row.lastDowntimeMs)],
      ["Started", row.startedAt || "-"],
      ["Description", row.description || "-"],
      ["Methods", row.methods.length ? row.methods.join(", ") : "-"],
      ["Last error", lastError ?? "-"],
    ];
    const width = Math.max(...fields.map(([k]) => k.length)) + 2;
    print(fields.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join("\n"));
    print("\nMoves (since the daemons started):");
    print(history.moves.length
      ? indent(table(["TIME", "FROM", "TO", "GEN", "DOWNTIME", "MOVED"], history.moves.map((m) => [m.time, m.from, m.to, m.generation === null ? "-" : String(m.generation), m.downtimeMs === null ? "-" : formatMs(m.downtimeMs), m.bytes === null ? "-" : formatBytes(m.bytes)])))
      : "  none");
    if (history.rollbacks.length) {
      print("\nRolled back:");
      for (const r of history.rollbacks.slice(-args.lines)) print(`  ${r.time}  ${r.node}${r.to ? ` → ${r.to}` : ""}  ${r.reason}`);
    }
    print(`\nEvents (last ${args.lines}):`);
    print(history.events.length ? history.events.slice(-args.lines).map((e) => `  ${formatEvent(e)}`).join("\n") : "  none");
    if (log !== null) {
      print(`\nLog (last ${args.lines} lines):`);
      print(log.length ? log.map((l) => `  ${l}`).join("\n") : "  none");
    }
  },
};

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}
