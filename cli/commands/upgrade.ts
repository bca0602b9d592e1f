/**
 * `ferry upgrade <process|--all> [--dry-run]`: moves a process (or every process with a pending
 * version, `--all`) onto the newest version of its module now, in place and with its state. This
 * is how processes with `upgrade: manual` take a new version, and how one whose automatic upgrade
 * failed tries again. `--dry-run` tries the new code on a copy of the state (restored into the
 * new class, `upgrade()` called) without touching the running process, and says whether it would
 * work. Fails with the reason when an upgrade fails; the process then keeps running its old code.
 *
 * @example
 * ```sh
 * ferry upgrade counter              # counter on alpha: 3f2a9c0d1e4b → 8b1d2e4f0a3c (downtime 2.1 ms)
 * ferry upgrade --all --dry-run
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import { FerryError } from "../../daemon/errors.ts";
import type { UpgradeResult } from "../../schemas/api.schema.ts";
import type { ClusterClient } from "../client.ts";
import { type Command, type GlobalArgs, openCluster } from "../command.ts";
import { formatMs } from "../format.ts";
import { print, printJson, warn } from "../output.ts";

interface UpgradeArgs extends GlobalArgs {
  process: string | undefined;
  all: boolean;
  "dry-run": boolean;
}

/**
 * The `upgrade` command.
 *
 * @example
 * ```ts
 * yargs(argv).command(upgradeCommand);
 * ```
 */
export const upgradeCommand: Command<UpgradeArgs> = {
  command: "upgrade [process]",
  describe: "Move a process (or --all with a pending version) onto its module's newest version, keeping its state",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("process", { type: "string", describe: "Process name" })
      .option("all", { type: "boolean", default: false, describe: "Every process with a pending version" })
      .option("dry-run", { type: "boolean", default: false, describe: "Only try the new code on a copy of the state" })
      .check((a) => {
        if ((a.process === undefined) === !a.all) throw new Error("Name one process, or pass --all");
        return true;
      }) as unknown as Argv<UpgradeArgs>,
  handler: async (args) => {
    const { cluster } = await openCluster(args);
    const dryRun = args["dry-run"];
    const results = args.all ? await upgradeAll(cluster, dryRun) : [await upgradeOne(cluster, args.process!, dryRun)];
    if (args.json) printJson(args.all ? results : results[0]);
    else if (results.length === 0) print("No process has a pending upgrade");
    else for (const r of results) print(describeResult(r));
    const failed = results.filter((r) => !r.ok);
    if (failed.length === 1 && !args.all) throw upgradeError(failed[0]!);
    if (failed.length) throw new FerryError("upgrade_failed", `${failed.length} of ${results.length} upgrades ${dryRun ? "would fail" : "failed"}: ${failed.map((r) => `"${r.name}"`).join(", ")}`, { hint: "they keep running their old code; see `ferry ps` and `ferry events`" });
  },
};

/**
 * Upgrades `name` on the node that holds it.
 *
 * @example
 * ```ts
 * const result = await upgradeOne(cluster, "counter", false);
 * ```
 */
export async function upgradeOne(cluster: ClusterClient, name: string, dryRun: boolean): Promise<UpgradeResult> {
  const where = await cluster.locate(name);
  if (!where) throw new FerryError("process_not_found", `Process "${name}" is not running on any reachable node`, { hint: "see `ferry ps`" });
  return cluster.node(where.node).post("process.upgrade", { name, dryRun }, { timeoutMs: 120_000 });
}

/** Every process some node reports with a pending version, upgraded on its node one after the other. */
async function upgradeAll(cluster: ClusterClient, dryRun: boolean): Promise<UpgradeResult[]> {
  const out: UpgradeResult[] = [];
  for (const r of await cluster.fanOut("ps", {})) {
    if (!r.ok) {
      warn(`${r.error.userMessage}; its processes are not upgraded`);
      continue;
    }
    for (const p of r.value) {
      if (!p.pendingVersion || (p.state !== "running" && p.state !== "completed")) continue;
      out.push(await cluster.node(r.node).post("process.upgrade", { name: p.name, dryRun }, { timeoutMs: 120_000 }));
    }
  }
  return out;
}

function describeResult(r: UpgradeResult): string {
  const where = `${r.name} on ${r.node}`;
  if (r.from === r.to) return `${where} already runs version ${r.to}`;
  if (r.dryRun) return r.ok ? `${where}: ${r.from} → ${r.to} would work (dry run)` : `${where}: ${r.from} → ${r.to} would fail: ${r.error}`;
  if (!r.ok) return `${where}: ${r.from} → ${r.to} failed, it keeps running ${r.from}: ${r.error}`;
  return `${where}: ${r.from} → ${r.to}${r.ms !== undefined ? ` (downtime ${formatMs(r.ms)})` : ""}`;
}

function upgradeError(r: UpgradeResult): FerryError {
  const verb = r.dryRun ? "would fail" : "failed";
  return new FerryError("upgrade_failed", `Upgrade of "${r.name}" to version "${r.to}" ${verb}: ${r.error}`, {
    hint: r.dryRun ? "the process was not touched" : `it keeps running version "${r.from}"; fix the module and try again`,
  });
}
