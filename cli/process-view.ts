/**
 * The cluster-wide process list, assembled from what each node reports. During a hand-off two
 * nodes report the same process (the holder, and the destination acquiring it); the view shows
 * it once, as its holder sees it. Processes that cluster.yaml declares but no reachable node
 * reports yet are listed too, so `ps` always shows everything the user asked for: as `starting`
 * when the node that should run it answered, as `unknown` when it could not be asked.
 *
 * @example
 * ```ts
 * const rows = mergeProcesses([alphaPs, betaPs], loaded.config);
 * console.log(processTable(rows));
 * ```
 * @module
 */
import type { ProcessInfo, ProcessStateName } from "../schemas/api.schema.ts";
import type { ClusterConfig } from "../schemas/cluster.schema.ts";
import { formatBytes, formatMs, table } from "./format.ts";

/** A row of the cluster-wide view: `unknown` for a process whose node could not be asked. */
export type ProcessRow = Omit<ProcessInfo, "state"> & { state: ProcessStateName | "unknown" };

/** Holder states outrank `stopped`, which outranks `starting` (a node still acquiring it). */
const rank: Record<ProcessStateName, number> = {
  running: 2,
  suspending: 2,
  migrating: 2,
  completed: 2,
  failed: 2,
  stopped: 1,
  starting: 0,
};

/**
 * Merges per-node process lists into one entry per process, sorted by name. `desired` is taken
 * from `config` (the YAML as the CLI just read it), null for processes no longer in it. Without
 * a config (cluster.yaml has errors) each entry keeps the `desired` its holder reported, from the
 * last good config the daemons run, and only reported processes are listed. A declared process
 * no node reported is `unknown` when its node (for one the balancer places: any node) is among
 * `unreachable`, else `starting`.
 *
 * @example
 * ```ts
 * mergeProcesses([[{ ...counter, node: "alpha", state: "migrating" }], [{ ...counter, node: "beta", state: "starting" }]], config);
 * // [{ ...counter, node: "alpha", state: "migrating", desired: "beta" }]
 * ```
 */
export function mergeProcesses(reports: readonly (readonly ProcessInfo[])[], config: ClusterConfig | null, unreachable: readonly string[] = []): ProcessRow[] {
  const byName = new Map<string, ProcessInfo>();
  for (const list of reports) {
    for (const info of list) {
      const seen = byName.get(info.name);
      if (!seen || better(info, seen)) byName.set(info.name, info);
    }
  }
  const merged: ProcessRow[] = [...byName.values()].map((info) =>
    config ? { ...info, desired: config.processes[info.name]?.node ?? null } : info
  );
  for (const [name, spec] of Object.entries(config?.processes ?? {})) {
    if (byName.has(name)) continue;
    merged.push({
      name,
      module: spec.module,
      args: [...spec.args],
      node: "-",
      desired: spec.node ?? null,
      state: (spec.node === undefined ? unreachable.length > 0 : unreachable.includes(spec.node)) ? "unknown" : "starting",
      generation: 0,
      migrations: 0,
      lastDowntimeMs: null,
      lastTransferBytes: null,
      error: null,
      placedBy: spec.node === undefined ? "balancer" : "config",
      description: "",
      methods: [],
      startedAt: "",
    });
  }
  return merged.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function better(candidate: ProcessInfo, current: ProcessInfo): boolean {
  const byState = rank[candidate.state] - rank[current.state];
  return byState !== 0 ? byState > 0 : candidate.generation > current.generation;
}

/**
 * The `ps` table: NAME MODULE VERSION NODE DESIRED STATE GEN MIGR DOWNTIME ERROR. VERSION is the
 * module version it runs, `old→new` while a newer one is pending; `wide` adds ARGS, PLACED
 * (config or balancer), MOVED (bytes of the last hand-off) and STARTED.
 *
 * @example
 * ```ts
 * print(processTable(mergeProcesses(reports, config)));
 * print(processTable(rows, { wide: true }));
 * ```
 */
export function processTable(processes: readonly ProcessRow[], options: { wide?: boolean } = {}): string {
  if (options.wide) {
    const rows = processes.map((p) => [...narrowRow(p).slice(0, -1), p.args.join(" ") || "-", p.placedBy, p.lastTransferBytes === null ? "-" : formatBytes(p.lastTransferBytes), p.startedAt || "-", p.error ?? ""]);
    return table(["NAME", "MODULE", "VERSION", "NODE", "DESIRED", "STATE", "GEN", "MIGR", "DOWNTIME", "ARGS", "PLACED", "MOVED", "STARTED", "ERROR"], rows);
  }
  return table(["NAME", "MODULE", "VERSION", "NODE", "DESIRED", "STATE", "GEN", "MIGR", "DOWNTIME", "ERROR"], processes.map(narrowRow));
}

function narrowRow(p: ProcessRow): string[] {
  return [
    p.name,
    p.module,
    versionOf(p),
    p.node,
    p.desired ?? (p.placedBy === "balancer" ? "(balancer)" : "-"),
    p.state,
    String(p.generation),
    String(p.migrations),
    p.lastDowntimeMs === null ? "-" : formatMs(p.lastDowntimeMs),
    p.error ?? "",
  ];
}

/** Short hashes are 12 hex digits; 7 tell versions apart in a table. */
function versionOf(p: Pick<ProcessInfo, "moduleVersion" | "pendingVersion">): string {
  const now = p.moduleVersion?.slice(0, 7) ?? "-";
  return p.pendingVersion ? `${now}→${p.pendingVersion.slice(0, 7)}` : now;
}
