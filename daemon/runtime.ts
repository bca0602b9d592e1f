/**
 * One node's runtime: the table of processes this node holds, the executors that run them, the
 * journal and checkpoints that make them durable, and the reconciler that moves actual state
 * towards cluster.yaml one idempotent step at a time. Hand-offs live in `handoff/`; this file owns
 * the lifecycle of a process while it stays on the node.
 *
 * @example
 * ```ts
 * const runtime = await NodeRuntime.open("alpha", loaded);
 * runtime.updateConfig(await loadClusterConfig("cluster.yaml"));
 * await runtime.close();
 * ```
 * @module
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import type { LoadedConfig } from "./config/mod.ts";
import { describeError, FerryError } from "./errors.ts";
import { EventLog } from "./events.ts";
import { ExecutorPool } from "./executor/mod.ts";
import type { WireError } from "./executor/protocol.ts";
import { Peer } from "./peers.ts";
import { WorkQueue } from "./queue.ts";
import type { ReconcileResult } from "./queue.ts";
import { CheckpointStore, Journal } from "./store/mod.ts";
import type { OwnedProcess } from "./store/mod.ts";
import { decodeValue } from "./snapshot/mod.ts";
import { displayValue, toJsonSafe } from "./api/json.ts";
import type { CallResponse, LocateResponse, ModuleInfo, ProcessInfo, ProcessStateName } from "../schemas/api.schema.ts";
import type { ProcessSpec } from "../schemas/cluster.schema.ts";
import { acquire, acquireUnpinned, resolveInDoubt } from "./handoff/incoming.ts";
import { Balancer } from "./balancer/balancer.ts";
import { placedBy } from "./balancer/placement.ts";

/** Resolves once; what waiting callers learn when a hand-off ends. */
export interface Gate {
  promise: Promise<{ movedTo?: string }>;
  open(outcome?: { movedTo?: string }): void;
}

export function newGate(): Gate {
  let open!: (o: { movedTo?: string }) => void;
  const promise = new Promise<{ movedTo?: string }>((resolve) => (open = resolve));
  return { promise, open: (o = {}) => open(o) };
}

/** A process on this node: held (running, completed, failed…) or being received. */
export interface Local {
  name: string;
  module: string;
  args: string[];
  memoryMb?: number;
  generation: number;
  migrations: number;
  lastDowntimeMs: number | null;
  lastTransferBytes: number | null;
  state: ProcessStateName;
  error: string | null;
  /** An executor hosts its instance (false after a failure that lost it). */
  hosted: boolean;
  methods: string[];
  description: string;
  startedAt: string;
  /** When it last arrived on or started on this node (ms); the balancer's minimum stay counts from it. */
  arrivedAt: number;
  moduleVersion: number;
  /** Set while calls must wait: suspending, migrating, or received but not yet resumed. */
  gate?: Gate;
  /** Calls now executing; a suspend waits for them so no call's effect is lost. */
  inflight: Set<Promise<unknown>>;
  /** run() had returned before the current hand-off began; it must not run again after it. */
  completedBeforeHandoff?: boolean;
  /** Source side of a hand-off in progress. */
  outgoing?: {
    handoffId: string;
    to: string;
    timer: ReturnType<typeof setTimeout>;
    suspendedAt: number;
    /** The checkpoint written at suspend; cleanup after a commit waits for it. */
    saving: Promise<unknown>;
  };
}

/** A process this node should hold but does not yet (ps shows it as starting, with the reason). */
export interface Pending {
  since: string;
  reason: string | null;
  /** About to start it fresh: peers asking `locate` are told, so two nodes never both do. */
  creating?: boolean;
  /** Its snapshot is streaming in. */
  transfer?: { received: number; total: number };
}

export class NodeRuntime {
  readonly node: string;
  readonly events: EventLog;
  readonly table = new Map<string, Local>();
  readonly pending = new Map<string, Pending>();
  readonly pool: ExecutorPool;
  readonly journal: Journal;
  readonly checkpoints: CheckpointStore;
  readonly queue: WorkQueue;
  readonly peers = new Map<string, Peer>();
  readonly startedAt = Date.now();
  loaded: LoadedConfig;
  configError: string | null = null;
  readonly modules = new Map<string, ModuleInfo & { version: number }>();
  readonly balancer: Balancer;
  /** Processes this node granted to a peer (balancer moves), valid until `expires`. */
  readonly grants = new Map<string, { to: string; expires: number }>();
  /** Processes a peer granted to this node; the reconciler pulls them. */
  readonly wanted = new Map<string, { from: string; generation: number; expires: number }>();
  /** Re-reads cluster.yaml now (set by the daemon, which owns the watcher). */
  reloadConfig: () => Promise<void> = async () => {};
  #checkpointTimer?: ReturnType<typeof setInterval>;
  #checkpointing = false;
  #resyncTimer?: ReturnType<typeof setInterval>;
  #closing?: Promise<void>;

  private constructor(node: string, loaded: LoadedConfig, journal: Journal) {
    this.node = node;
    this.loaded = loaded;
    this.journal = journal;
    this.events = new EventLog(node);
    const dir = this.dataDir;
    this.checkpoints = new CheckpointStore(journal, join(dir, "checkpoints"));
    const c = loaded.config.cluster;
    this.pool = new ExecutorPool({ size: c.executors, memoryMb: c.executorMemoryMb, stallMs: c.stallMs }, {
      exit: (name, outcome, error) => void this.#onExit(name, outcome, error),
      log: (name, stream, text) => (stream === "err" ? console.error : console.log)(`[${name}] ${text}`),
      lost: (names, reason, culprit) => void this.#onLost(names, reason, culprit),
    });
    this.queue = new WorkQueue((name) => this.reconcile(name), {
      concurrency: 256,
      onError: (name, error) => this.#noteError(name, error),
    });
    this.#setPeers();
    this.balancer = new Balancer(this);
  }

  /** Stopping: processes stay here (checkpointed) instead of leaving mid-shutdown. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  get dataDir(): string {
    return join(this.loaded.dataDir, this.node);
  }

  get settings(): LoadedConfig["config"]["cluster"] {
    return this.loaded.config.cluster;
  }

  /** Opens the node's journal, restores the processes it owns from their checkpoints, starts reconciling. */
  static async open(node: string, loaded: LoadedConfig): Promise<NodeRuntime> {
    if (!loaded.config.nodes[node]) {
      throw new FerryError("not_found", `No node named "${node}" in ${loaded.file}`, {
        hint: `nodes: ${Object.keys(loaded.config.nodes).join(", ")}`,
      });
    }
    const journal = await Journal.open(join(loaded.dataDir, node));
    const runtime = new NodeRuntime(node, loaded, journal);
    await runtime.#restoreOwned();
    runtime.#probeModules();
    runtime.enqueueAll();
    runtime.#checkpointTimer = setInterval(() => void runtime.checkpointAll(), loaded.config.cluster.checkpointIntervalMs);
    runtime.#resyncTimer = setInterval(() => {
      runtime.#probeModules();
      runtime.enqueueAll();
    }, 2000);
    runtime.balancer.start();
    runtime.events.emit({ type: "daemon-started", message: `${runtime.table.size} processes restored` });
    return runtime;
  }

  #setPeers(): void {
    this.peers.clear();
    for (const [name, spec] of Object.entries(this.loaded.config.nodes)) {
      if (name !== this.node) this.peers.set(name, new Peer(name, spec.url, this.loaded.secret));
    }
  }

  /** Takes a new good config: every process is looked at again. */
  updateConfig(loaded: LoadedConfig): void {
    this.loaded = loaded;
    this.configError = null;
    this.#setPeers();
    this.#probeModules();
    this.enqueueAll();
    this.events.emit({ type: "config-reloaded" });
  }

  /** Records a rejected edit; the last good config stays in force. */
  rejectConfig(error: unknown): void {
    this.configError = describeError(error);
    this.events.emit({ type: "config-rejected", reason: this.configError });
    console.error(`ferry: ${this.configError}; keeping the last good config`);
  }

  enqueueAll(): void {
    const names = new Set([...Object.keys(this.loaded.config.processes), ...this.table.keys(), ...this.journal.state.owned.keys()]);
    for (const name of names) this.queue.add(name);
  }

  desired(name: string): ProcessSpec | undefined {
    return this.loaded.config.processes[name];
  }

  /** Absolute module file and its version (mtime), so an edited module loads as a new class. */
  moduleFile(module: string): { path: string; version: number } {
    const path = this.loaded.modules.get(module);
    if (!path) {
      throw new FerryError("module_not_found", `Module "${module}" is not in ${this.loaded.processesDir}`, {
        hint: `add ${module}.ts there`,
      });
    }
    try {
      return { path, version: Math.floor(statSync(path).mtimeMs) };
    } catch {
      throw new FerryError("module_not_found", `Module file "${path}" is gone`);
    }
  }

  // ---------------------------------------------------------------- reconcile

  /**
   * One level-triggered step for `name`: compare cluster.yaml with what this node holds and act.
   * Safe to call any number of times; watch events only decide when it runs.
   */
  async reconcile(name: string): Promise<ReconcileResult> {
    if (this.#closing) return { done: true };
    const desired = this.desired(name);
    const local = this.table.get(name);
    const owned = this.journal.state.owned.get(name);
    if (owned?.status === "prepared") return resolveInDoubt(this, name);
    if (local?.gate || local?.outgoing) return { requeueAfterMs: 50 };
    if (!desired) {
      this.pending.delete(name);
      if (local) await this.stop(local, "removed from cluster.yaml");
      return { done: true };
    }
    if (desired.node === undefined) {
      if (!local) return acquireUnpinned(this, name, desired);
      if (local.state === "failed") return this.#retryFailed(local);
      return { done: true };
    }
    if (desired.node !== this.node) {
      this.pending.delete(name);
      // The destination pulls; this node only serves the hand-off when asked.
      return { done: true };
    }
    if (!local) return acquire(this, name, desired);
    if (local.state === "failed") return this.#retryFailed(local);
    return { done: true };
  }

  #noteError(name: string, error: unknown): void {
    const message = describeError(error);
    const pending = this.pending.get(name);
    if (pending) pending.reason = message;
    const local = this.table.get(name);
    if (local && !pending) local.error = message;
  }

  /** A failed process restarts once its module file changed (the user fixed the bug). */
  async #retryFailed(local: Local): Promise<ReconcileResult> {
    let version: number;
    try {
      version = this.moduleFile(local.module).version;
    } catch {
      return { done: true };
    }
    if (version === local.moduleVersion) return { done: true };
    if (local.hosted) await this.pool.request({ type: "discard", name: local.name });
    this.table.delete(local.name);
    const owned = this.journal.state.owned.get(local.name);
    await this.journal.append({ op: "own", ...ownedBase(owned ?? local) });
    await this.startOwned(this.journal.state.owned.get(local.name)!, "module changed");
    return { done: true };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts a process this node owns: from its latest checkpoint, or fresh from its args. */
  async startOwned(owned: OwnedProcess, reason: string, hold = false): Promise<Local> {
    const snapshot = this.checkpoints.read(owned.name, owned.generation);
    const local = await this.host(owned, snapshot, hold);
    this.events.emit({
      type: snapshot ? "restored" : "started",
      process: owned.name,
      generation: owned.generation,
      ...(snapshot ? { reason } : {}),
    });
    return local;
  }

  /** Instantiates in an executor and records it in the table (failures are recorded, not thrown). */
  async host(owned: Omit<OwnedProcess, "status">, snapshot: Uint8Array | undefined, hold: boolean): Promise<Local> {
    const local: Local = {
      name: owned.name,
      module: owned.module,
      args: owned.args,
      ...(owned.memoryMb ? { memoryMb: owned.memoryMb } : {}),
      generation: owned.generation,
      migrations: owned.migrations,
      lastDowntimeMs: owned.lastDowntimeMs,
      lastTransferBytes: null,
      state: "starting",
      error: null,
      hosted: false,
      methods: [],
      description: owned.module,
      startedAt: new Date().toISOString(),
      arrivedAt: Date.now(),
      moduleVersion: 0,
      inflight: new Set(),
    };
    this.table.set(owned.name, local);
    this.pending.delete(owned.name);
    try {
      const file = this.moduleFile(owned.module);
      local.moduleVersion = file.version;
      const started = await this.pool.start({
        name: owned.name,
        modulePath: file.path,
        moduleVersion: file.version,
        args: owned.args,
        ...(snapshot ? { snapshot } : {}),
        generation: owned.generation,
        hold,
      }, owned.memoryMb);
      local.hosted = true;
      local.methods = started.methods;
      local.description = started.description;
      if (local.state === "starting") local.state = hold ? "starting" : "running";
    } catch (error) {
      local.state = "failed";
      local.error = describeError(error);
      this.events.emit({ type: "failed", process: owned.name, reason: local.error });
    }
    return local;
  }

  async #restoreOwned(): Promise<void> {
    for (const owned of this.journal.state.owned.values()) {
      if (owned.status === "prepared") continue; // in doubt: reconcile asks the source first
      if (owned.status === "failed") {
        const local = await this.startOwned(owned, "daemon restarted", true);
        local.state = "failed";
        local.error = owned.error ?? "failed before the daemon restarted";
        continue;
      }
      const local = await this.startOwned(owned, "daemon restarted", owned.status === "completed");
      if (owned.status === "completed" && local.state !== "failed") local.state = "completed";
    }
  }

  async #onExit(name: string, outcome: "completed" | "failed", error?: WireError): Promise<void> {
    const local = this.table.get(name);
    if (!local) return;
    local.state = outcome;
    local.error = error ? error.message : null;
    this.events.emit({ type: outcome, process: name, generation: local.generation, ...(error ? { reason: error.message } : {}) });
    if (outcome === "failed") console.error(`[${name}] failed: ${error?.message}`);
    await this.checkpoint(local, true);
    await this.journal.append(
      outcome === "completed"
        ? { op: "completed", name, generation: local.generation }
        : { op: "failed", name, generation: local.generation, error: local.error ?? "" },
    );
  }

  /** An executor died or stalled: its processes restart from their checkpoints, the culprit as failed. */
  async #onLost(names: string[], reason: string, culprit?: string): Promise<void> {
    if (this.#closing) return;
    this.events.emit({ type: "executor-restarted", reason, ...(culprit ? { process: culprit } : {}) });
    for (const name of names) {
      const local = this.table.get(name);
      const owned = this.journal.state.owned.get(name);
      if (!local || !owned) continue;
      local.gate?.open();
      this.table.delete(name);
      const blamed = culprit === name || (culprit === undefined && names.length === 1);
      const restarted = await this.startOwned(owned, `lost: ${reason}`, blamed || owned.status !== "owned");
      if (blamed) {
        restarted.state = "failed";
        restarted.error = `Stopped: ${reason}`;
        console.error(`[${name}] stopped: ${reason}`);
        await this.journal.append({ op: "failed", name, generation: owned.generation, error: restarted.error });
      } else if (owned.status !== "owned") {
        restarted.state = owned.status === "completed" ? "completed" : "failed";
      }
    }
  }

  /** Stops and forgets a process removed from cluster.yaml. */
  async stop(local: Local, reason: string): Promise<void> {
    if (local.hosted) {
      try {
        await this.pool.request({ type: "suspend", name: local.name, deadlineMs: this.settings.suspendDeadlineMs });
      } catch (error) {
        console.error(`[${local.name}] did not stop cleanly: ${describeError(error)}`);
      }
      await this.pool.request({ type: "discard", name: local.name }).catch(() => {});
    }
    this.table.delete(local.name);
    await this.journal.append({ op: "removed", name: local.name });
    this.checkpoints.remove(local.name);
    this.events.emit({ type: "stopped", process: local.name, reason });
  }

  // ---------------------------------------------------------------- checkpoints

  /** Captures a running process between two turns of its event loop and stores it durably. */
  async checkpoint(local: Local, force = false): Promise<void> {
    if (!local.hosted || local.gate || local.outgoing) return;
    try {
      const { snapshot } = await this.pool.request({ type: "capture", name: local.name });
      if (this.table.get(local.name) !== local || local.outgoing || local.gate) return;
      await this.checkpoints.save(local.name, local.generation, snapshot, { force });
    } catch (error) {
      local.error = `Checkpoint failed: ${describeError(error)}`;
    }
  }

  /** One round: captures run in parallel and their journal appends share fsyncs. */
  async checkpointAll(): Promise<void> {
    if (this.#checkpointing) return;
    this.#checkpointing = true;
    try {
      const running = [...this.table.values()].filter((l) => l.state === "running");
      for (let i = 0; i < running.length; i += 256) {
        await Promise.all(running.slice(i, i + 256).map((l) => this.checkpoint(l)));
      }
    } finally {
      this.#checkpointing = false;
    }
  }

  // ---------------------------------------------------------------- calls

  /**
   * Invokes `method` on a process held here. During a hand-off the call waits and is delivered
   * where the process resumes; it fails only when the hand-off outlasts `timeoutMs`.
   */
  async call(name: string, method: string, args: string[], timeoutMs: number): Promise<CallResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const local = this.table.get(name);
      if (!local) {
        throw new FerryError("process_not_found", `Process "${name}" is not on node "${this.node}"`, {
          hint: "see `ferry ps`",
        });
      }
      if (local.gate) {
        const outcome = await beforeDeadline(local.gate.promise, deadline, `Call to ${name}.${method}() timed out after ${timeoutMs} ms while the process was in a hand-off`);
        if (outcome.movedTo) {
          const peer = this.peers.get(outcome.movedTo);
          if (!peer) continue;
          return peer.post<CallResponse>("call", { name, method, args, timeoutMs: Math.max(1, deadline - Date.now()) }, Math.max(1, deadline - Date.now()) + 1000);
        }
        continue;
      }
      if (!local.hosted) {
        throw new FerryError("process_failed", `Process "${name}" has failed: ${local.error ?? "unknown error"}`);
      }
      const request = this.pool.request({ type: "call", name, method, args });
      local.inflight.add(request);
      try {
        const { value } = await beforeDeadline(request, deadline, `Call to ${name}.${method}() did not return within ${timeoutMs} ms`);
        const decoded = decodeValue(value);
        return { value: toJsonSafe(decoded), text: displayValue(decoded), node: this.node };
      } finally {
        local.inflight.delete(request);
      }
    }
  }

  // ---------------------------------------------------------------- views

  /** Whether this node holds `name` (what peers ask before starting or pulling it). */
  locate(name: string): LocateResponse {
    // The journal is the truth: a process arriving in a committed hand-off is this node's from the
    // moment `own` is journalled, even while it is still being resumed ("starting").
    const owned = this.journal.state.owned.get(name);
    if (owned?.status === "prepared") return { holds: false, inDoubt: true };
    if (owned) return { holds: true, generation: owned.generation, state: this.table.get(name)?.state ?? "starting" };
    return { holds: false, creating: this.pending.get(name)?.creating === true };
  }

  info(local: Local): ProcessInfo {
    return {
      name: local.name,
      module: local.module,
      args: local.args,
      node: this.node,
      desired: this.desired(local.name)?.node ?? null,
      state: local.state,
      generation: local.generation,
      migrations: local.migrations,
      lastDowntimeMs: local.lastDowntimeMs,
      lastTransferBytes: local.lastTransferBytes,
      error: local.error,
      placedBy: placedBy(this, local.name),
      description: local.description,
      methods: local.methods,
      startedAt: local.startedAt,
    };
  }

  /** What `ps` shows for this node: held processes, then ones it is acquiring. */
  ps(): ProcessInfo[] {
    const out = [...this.table.values()].map((l) => this.info(l));
    for (const [name, p] of this.pending) {
      if (this.table.has(name)) continue;
      const spec = this.desired(name);
      out.push({
        name,
        module: spec?.module ?? "",
        args: spec?.args ?? [],
        node: this.node,
        desired: spec?.node ?? null,
        state: "starting",
        generation: 0,
        migrations: 0,
        lastDowntimeMs: null,
        lastTransferBytes: null,
        error: p.reason,
        placedBy: placedBy(this, name),
        ...(p.transfer ? { transfer: { ...p.transfer } } : {}),
        description: spec?.module ?? "",
        methods: [],
        startedAt: p.since,
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  #probeModules(): void {
    for (const name of [...this.modules.keys()]) if (!this.loaded.modules.has(name)) this.modules.delete(name);
    for (const [name] of this.loaded.modules) {
      let file: { path: string; version: number };
      try {
        file = this.moduleFile(name);
      } catch {
        continue;
      }
      if (this.modules.get(name)?.version === file.version) continue;
      this.modules.set(name, { name, file: file.path, ok: true, version: file.version });
      this.pool.inspect(file.path, file.version).then(
        ({ methods }) => {
          this.modules.set(name, { name, file: file.path, ok: true, methods, version: file.version });
          this.events.emit({ type: "module-loaded", message: name });
        },
        (error: unknown) => {
          const message = describeError(error);
          this.modules.set(name, { name, file: file.path, ok: false, error: message, version: file.version });
          this.events.emit({ type: "module-failed", reason: message, message: name });
          console.error(`ferry: module ${name}: ${message}`);
        },
      );
    }
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops gracefully: every process is suspended at a safe point and checkpointed. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#checkpointTimer);
      clearInterval(this.#resyncTimer);
      this.balancer.close();
      this.queue.close();
      await Promise.all([...this.table.values()].map(async (local) => {
        if (local.outgoing) return; // its source copy is still journalled as owned; a restart resumes it
        if (!local.hosted || local.gate) return;
        try {
          const { snapshot } = await this.pool.request({ type: "suspend", name: local.name, deadlineMs: this.settings.suspendDeadlineMs });
          await this.checkpoints.save(local.name, local.generation, snapshot, { force: true });
        } catch (error) {
          console.error(`[${local.name}] not checkpointed at stop: ${describeError(error)}`);
        }
      }));
      this.events.emit({ type: "daemon-stopped" });
      await this.pool.close();
      this.journal.close();
    })();
    return this.#closing;
  }
}

/** The durable description of a process, shared by journal records. */
export function ownedBase(p: Pick<OwnedProcess, "name" | "module" | "args" | "generation" | "migrations" | "lastDowntimeMs" | "memoryMb">): Omit<OwnedProcess, "status"> {
  return {
    name: p.name,
    module: p.module,
    args: p.args,
    generation: p.generation,
    migrations: p.migrations,
    lastDowntimeMs: p.lastDowntimeMs,
    ...(p.memoryMb ? { memoryMb: p.memoryMb } : {}),
  };
}

/** Awaits `promise`, or throws a `timeout` FerryError at `deadline`. */
export function beforeDeadline<T>(promise: Promise<T>, deadline: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FerryError("timeout", message)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
