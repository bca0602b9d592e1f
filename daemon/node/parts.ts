/**
 * What the node state's own parts (`outgoing.ts`, `incoming.ts`, `grants.ts`) share with it:
 * the table, the journal and checkpoints, the executors, the cluster store. Other rooms of the
 * daemon never see this; they call {@link NodeState}'s methods.
 * @module
 */
import type { EventLog } from "../events.ts";
import type { ExecutorPool, SnapshotFeed } from "../executor/mod.ts";
import type { TaskGroup } from "../manager.ts";
import type { CheckpointStore, Journal } from "../store/mod.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
import type { ClusterSettings, ProcessSpec } from "../../schemas/cluster.schema.ts";
import type { ManagedProcess, ProcessIdentity } from "./process.ts";
import type { ProcessTable } from "./table.ts";
import type { Trace } from "../trace.ts";

/** The file an executor imports for a module, and that version's content hash. */
export interface ResolvedModule {
  path: string;
  version: string;
}

export interface NodeParts {
  readonly node: string;
  readonly table: ProcessTable;
  readonly journal: Journal;
  readonly checkpoints: CheckpointStore;
  readonly pool: ExecutorPool;
  readonly store: ClusterStore;
  readonly events: EventLog;
  readonly tasks: TaskGroup;
  readonly trace: Trace;
  settings(): ClusterSettings;
  desired(name: string): ProcessSpec | undefined;
  /**
   * `options.module`: the module's file, when it was resolved ahead (else it is resolved now).
   * With `quiet`, a failure is recorded on the process but not announced: the caller reports it.
   * With `verified`, the snapshot's checksum is not computed again (see the executor's `start`).
   */
  host(identity: ProcessIdentity, snapshot: Uint8Array | SnapshotFeed | undefined, options: { hold: boolean; module?: Promise<ResolvedModule>; quiet?: boolean; verified?: boolean }): Promise<ManagedProcess>;
  resolveModule(module: string): Promise<ResolvedModule>;
  log(level: "info" | "warn" | "error", line: string): void;
  enqueue(name: string): void;
  closing(): boolean;
}
