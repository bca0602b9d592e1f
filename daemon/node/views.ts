/**
 * What the node tells others about its processes: `ps` rows and `locate` answers, computed from
 * the table and the journal without changing either.
 *
 * @example
 * ```ts
 * psOf(table, "alpha", (name) => config.processes[name]);
 * ```
 * @module
 */
import type { LocateResponse, ProcessInfo } from "../../schemas/api.schema.ts";
import type { ProcessSpec } from "../../schemas/cluster.schema.ts";
import type { JournalState } from "../store/mod.ts";
import { shownState } from "./lifecycle.ts";
import type { ProcessView } from "./process.ts";
import type { ProcessTable } from "./table.ts";
import { shortHash } from "../modules/hash.ts";

/** `config` for a process pinned by `node:`, `balancer` for one the balancer places. */
export function placedBy(spec: ProcessSpec | undefined): "config" | "balancer" {
  return spec && spec.node === undefined ? "balancer" : "config";
}

/**
 * One `ps` row for a process held here.
 *
 * @example
 * ```ts
 * processInfo(view, "alpha", spec, "8b1d2e4f0a3c").pendingVersion; // "8b1d2e4f0a3c"
 * ```
 */
export function processInfo(p: ProcessView, node: string, spec: ProcessSpec | undefined, pendingVersion?: string): ProcessInfo {
  return {
    name: p.name,
    module: p.module,
    args: [...p.args],
    node,
    desired: spec?.node ?? null,
    state: shownState(p.state),
    generation: p.generation,
    migrations: p.migrations,
    lastDowntimeMs: p.lastDowntimeMs,
    lastTransferBytes: p.lastTransferBytes,
    error: p.error,
    placedBy: placedBy(spec),
    ...(p.transfer ? { transfer: { ...p.transfer } } : {}),
    description: p.description,
    methods: [...p.methods],
    startedAt: p.startedAt,
    ...(p.moduleVersion ? { moduleVersion: shortHash(p.moduleVersion) } : {}),
    ...(pendingVersion ? { pendingVersion } : {}),
  };
}

/**
 * What `ps` shows for a node: held processes, then ones it is acquiring, sorted by name.
 *
 * @example
 * ```ts
 * psOf(table, "alpha", desired, (p) => upgrades.pending(p)).map((p) => p.name);
 * ```
 */
export function psOf(
  table: ProcessTable,
  node: string,
  desired: (name: string) => ProcessSpec | undefined,
  pending: (p: ProcessView) => string | undefined = () => undefined,
): ProcessInfo[] {
  const out = [...table.values()].map((p) => processInfo(p, node, desired(p.name), pending(p)));
  for (const [name, a] of table.acquisitions()) {
    if (table.has(name)) continue;
    const spec = desired(name);
    out.push({
      name,
      module: spec?.module ?? "",
      args: spec?.args ?? [],
      node,
      desired: spec?.node ?? null,
      state: "starting",
      generation: 0,
      migrations: 0,
      lastDowntimeMs: null,
      lastTransferBytes: null,
      error: a.reason,
      placedBy: placedBy(spec),
      ...(a.transfer ? { transfer: { ...a.transfer } } : {}),
      description: spec?.module ?? "",
      methods: [],
      startedAt: a.since,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Whether this node holds `name`, answered from the durable journal: a process arriving in a
 * committed hand-off is this node's from the moment `own` is durable, even while it is resumed.
 *
 * @example
 * ```ts
 * locateIn(journal.state, table, "counter"); // { holds: true, generation: 2, state: "running" }
 * ```
 */
export function locateIn(journal: JournalState, table: ProcessTable, name: string): LocateResponse {
  const owned = journal.owned.get(name);
  if (owned?.status === "prepared") return { holds: false, inDoubt: true };
  const held = table.get(name);
  if (owned) {
    const stateBytes = held?.lastSnapshotBytes ?? held?.lastTransferBytes;
    return { holds: true, generation: owned.generation, state: held ? shownState(held.state) : "starting", ...(stateBytes != null ? { stateBytes } : {}) };
  }
  return { holds: false, creating: table.acquiring(name)?.creating === true };
}
