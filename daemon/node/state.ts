/**
 * The one owner of a node's state: its process table and each process's lifecycle, its journal
 * and checkpoints, its executors and its view of the peers. Everything that changes what the
 * node holds goes through a method here (or through its hand-off parts, `outgoing.ts` and
 * `incoming.ts`, which share its internals); the reconciler, the hand-off runners, the balancer
 * and the API read {@link ProcessView}s and call these methods.
 *
 * @example
 * ```ts
 * const node = await NodeState.open({ node: "alpha", loaded, store, tasks, enqueue: (n) => queue.add(n) });
 * node.ps();
 * await node.close();
 * ```
 * @module
 */
import { join } from "node:path";
import type { LoadedConfig } from "../config/mod.ts";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import { EventLog } from "../events.ts";
import { Trace } from "../trace.ts";
import { ExecutorPool } from "../executor/mod.ts";
import type { WireError } from "../executor/protocol.ts";
import type { SnapshotFeed } from "../executor/mod.ts";
import type { TaskGroup } from "../manager.ts";
import type { ApiClient } from "../api/client.ts";
import { BatchingPeer } from "../handoff/batch-peer.ts";
import type { Transport } from "../api/transport.ts";
import { CheckpointStore, Journal } from "../store/mod.ts";
import type { Fence, OwnedProcess } from "../store/mod.ts";
import type { JournalOptions } from "../store/journal.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
import type { ModuleInfo, UpgradeResult } from "../../schemas/api.schema.ts";
import type { ClusterSettings, ProcessSpec } from "../../schemas/cluster.schema.ts";
import { ManagedProcess } from "./process.ts";
import type { ProcessIdentity, ProcessView } from "./process.ts";
import { ProcessTable } from "./table.ts";
import type { Acquiring } from "./table.ts";
import { Outgoing } from "./outgoing.ts";
import { PrecopyOutgoing } from "./precopy.ts";
import { Incoming } from "./incoming.ts";
import { Grants } from "./grants.ts";
import { Upgrades, type UpgradeOptions } from "./upgrade.ts";
import { callProcess } from "./calls.ts";
import { locateIn, processInfo, psOf } from "./views.ts";
import { identityOf } from "./identity.ts";
import { contentRevision } from "../store/local-store.ts";
import { ferryInstallRoot, ModuleRegistry, type PeerBundle, shortHash } from "../modules/mod.ts";
import type { NodeParts, ResolvedModule } from "./parts.ts";

export interface NodeStateOptions {
  node: string;
  loaded: LoadedConfig;
  store: ClusterStore;
  /** Background work (discards, cleanups) is spawned here and awaited at shutdown. */
  tasks: TaskGroup;
  /** Asks the reconciler to look at `name` soon. */
  enqueue: (name: string) => void;
  /** Re-reads cluster.yaml now (the daemon owns the watcher). */
  reloadConfig?: () => Promise<void>;
  /** How peers are reached. @default the keep-alive HTTP transport */
  transport?: Transport;
  /** Where log lines go. @default console */
  log?: (level: "info" | "warn" | "error", line: string) => void;
  /** Also receives each line a process prints (the node's process logs keep them). */
  output?: (name: string, generation: number, stream: "out" | "err", text: string) => void;
  /** How the journal is opened (its fsync timing, for the node's metrics). */
  journal?: JournalOptions;
  /** Runs after the journal is open and before any process is restored (the first lease). */
  beforeRestore?: (state: NodeState) => Promise<void>;
  /** The config revision `loaded` is (multi-machine mode); a hash of its text otherwise. */
  revision?: string;
  /** The module versions that revision names (multi-machine mode). */
  moduleHashes?: Readonly<Record<string, string>>;
}

export class NodeState {
  readonly node: string;
  readonly events: EventLog;
  /** Steps taken per process, room by room (see trace.ts). */
  readonly trace: Trace;
  readonly startedAt = Date.now();
  readonly outgoing: Outgoing;
  readonly precopy: PrecopyOutgoing;
  readonly incoming: Incoming;
  readonly grants: Grants;
  readonly #upgrades: Upgrades;
  readonly #table = new ProcessTable();
  readonly #journal: Journal;
  readonly #checkpoints: CheckpointStore;
  readonly #pool: ExecutorPool;
  readonly #store: ClusterStore;
  readonly #tasks: TaskGroup;
  readonly #enqueue: (name: string) => void;
  readonly #transport: Transport | undefined;
  readonly #log: (level: "info" | "warn" | "error", line: string) => void;
  readonly #modules = new Map<string, ModuleInfo & { hash: string }>();
  /** The newest version of each module this node has read from its processes folder. */
  readonly #latest = new Map<string, string>();
  readonly #registry: ModuleRegistry;
  /** Module versions the config revision names (multi-machine mode); empty: this node's files. */
  #moduleHashes: Readonly<Record<string, string>>;
  /** The last failure to write a module version into the cache, until one succeeds again. */
  #moduleCacheProblem: string | undefined;
  #probing: Promise<void> | undefined;
  readonly #peers = new Map<string, ApiClient>();
  readonly #parts: NodeParts;
  #loaded: LoadedConfig;
  #revision: string;
  #configError: string | null = null;
  #reloadConfig: () => Promise<void>;
  #checkpointing = false;
  #closing?: Promise<void>;
  #stopping = false;

  private constructor(options: NodeStateOptions, journal: Journal) {
    this.node = options.node;
    this.#loaded = options.loaded;
    this.#revision = options.revision ?? contentRevision(options.loaded.text);
    this.#moduleHashes = options.moduleHashes ?? {};
    this.#registry = new ModuleRegistry({
      processesDir: options.loaded.processesDir,
      cacheDir: join(this.dataDir, "modules"),
      installRoot: ferryInstallRoot(),
      fetchBundle: (hash) => this.#fetchBundle(hash),
    });
    this.#journal = journal;
    this.#store = options.store;
    this.#tasks = options.tasks;
    this.#enqueue = options.enqueue;
    this.#transport = options.transport;
    this.#reloadConfig = options.reloadConfig ?? (async () => {});
    this.#log = options.log ?? ((level, line) => (level === "info" ? console.log : console.error)(line));
    this.events = new EventLog(options.node);
    this.trace = new Trace(options.node);
    this.#checkpoints = new CheckpointStore(journal, join(this.dataDir, "checkpoints"));
    const c = options.loaded.config.cluster;
    this.#pool = new ExecutorPool({ size: c.executors, memoryMb: c.executorMemoryMb, stallMs: c.stallMs }, {
      exit: (name, outcome, error) => this.#tasks.spawn(`exit of ${name}`, () => this.#onExit(name, outcome, error)),
      log: (name, stream, text) => {
        this.#log(stream === "err" ? "error" : "info", `[${name}] ${text}`);
        options.output?.(name, this.#table.get(name)?.generation ?? 0, stream, text);
      },
      lost: (names, reason, culprit) => this.#tasks.spawn(`restart after executor loss`, () => this.#onLost(names, reason, culprit)),
    });
    this.#parts = {
      node: this.node,
      table: this.#table,
      journal,
      checkpoints: this.#checkpoints,
      pool: this.#pool,
      store: this.#store,
      events: this.events,
      tasks: this.#tasks,
      trace: this.trace,
      settings: () => this.settings,
      desired: (name) => this.desired(name),
      host: (identity, snapshot, opts) => this.#host(identity, snapshot, opts),
      resolveModule: (module) => this.resolveModule(module),
      log: (level, line) => this.#log(level, line),
      enqueue: (name) => this.#enqueue(name),
      closing: () => this.closing,
    };
    this.grants = new Grants(this.#parts);
    this.outgoing = new Outgoing(this.#parts, this.grants);
    this.precopy = new PrecopyOutgoing(this.#parts, this.outgoing, () => this.reloadConfig());
    this.incoming = new Incoming(this.#parts);
    this.#upgrades = new Upgrades(this.#parts, { resolve: (module) => this.resolveModule(module), latest: (module) => this.#latestVersion(module) });
    this.#setPeers();
  }

  /**
   * Opens the node's journal and restores the processes it owns from their checkpoints.
   *
   * @example
   * ```ts
   * const node = await NodeState.open(options);
   * ```
   */
  static async open(options: NodeStateOptions): Promise<NodeState> {
    const { loaded, node } = options;
    if (!loaded.config.nodes[node]) {
      throw new FerryError("not_found", `No node named "${node}" in ${loaded.file}`, { hint: `nodes: ${Object.keys(loaded.config.nodes).join(", ")}` });
    }
    const journal = await Journal.open(join(loaded.dataDir, node), options.journal);
    const state = new NodeState(options, journal);
    try {
      // A distributed store learns what this node's journal owns before anything runs.
      await options.store.announce([...journal.state.owned.values()]);
      await options.beforeRestore?.(state);
      await state.#restoreOwned();
    } catch (error) {
      await state.close();
      throw error;
    }
    state.probeModules();
    state.events.emit({ type: "daemon-started", message: `${state.#table.size} processes restored` });
    return state;
  }

  // ------------------------------------------------------------------ reads

  get closing(): boolean {
    return this.#stopping;
  }

  /** From now on the node starts nothing new (no pull, no grant, no checkpoint round). */
  beginClose(): void {
    this.#stopping = true;
  }

  get dataDir(): string {
    return join(this.#loaded.dataDir, this.node);
  }

  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  get settings(): ClusterSettings {
    return this.#loaded.config.cluster;
  }

  get configError(): string | null {
    return this.#configError;
  }

  /** Whether the cluster store answered its last call (always, in local mode). */
  get storeReachable(): boolean {
    return this.#store.reachable;
  }

  /** Where the nodes of this cluster agree. */
  get storeKind(): "local" | "etcd" {
    return this.#store.kind;
  }

  /** The revision of the config this node runs. */
  get configRevision(): string {
    return this.#revision;
  }

  get pool(): Pick<ExecutorPool, "workers" | "utilization"> {
    return this.#pool;
  }

  /** Problems with the data directory that an operator should know about. */
  get storageProblems(): string[] {
    const problems = [...this.#journal.warnings];
    if (!this.#journal.healthy) problems.push(`the journal cannot be written: ${this.#journal.lastError?.message ?? "unknown error"}`);
    if (this.#moduleCacheProblem) problems.push(this.#moduleCacheProblem);
    return problems;
  }

  /**
   * Whether this node can take on a process now: its journal writes (checked again, cheaply,
   * while it was failing). A node that cannot journal must not prepare a hand-off or start one.
   */
  storageWritable(): boolean {
    return this.#journal.healthy || this.#journal.probe();
  }

  /** Modules found in the processes folder, whether each loads, and its version. */
  modules(): ModuleInfo[] {
    return [...this.#modules.values()].map(({ hash: _h, ...m }) => m);
  }

  /** The module versions this node can serve its peers (`module.fetch`). */
  get moduleVersions(): Pick<ModuleRegistry, "bundleByHash"> {
    return this.#registry;
  }

  /** Asks the peers, one after the other, for the module version with `hash`. */
  async #fetchBundle(hash: string): Promise<PeerBundle | undefined> {
    for (const peer of this.peers()) {
      try {
        return { peer: peer.name, bundle: await peer.post("module.fetch", { hash }, { timeoutMs: 10_000 }) };
      } catch {
        // This peer lacks it or cannot be reached: ask the next.
      }
    }
    return undefined;
  }

  get(name: string): ProcessView | undefined {
    return this.#table.get(name);
  }

  /** Every process this node holds, in no particular order. */
  processes(): ProcessView[] {
    return [...this.#table.values()];
  }

  acquiring(name: string): Readonly<Acquiring> | undefined {
    return this.#table.acquiring(name);
  }

  desired(name: string): ProcessSpec | undefined {
    return this.#loaded.config.processes[name];
  }

  /** What this node's journal durably says about `name`. */
  owned(name: string): Readonly<OwnedProcess> | undefined {
    return this.#journal.state.owned.get(name);
  }

  peer(node: string): ApiClient | undefined {
    return this.#peers.get(node);
  }

  peers(): ApiClient[] {
    return [...this.#peers.values()];
  }

  /** Every name the reconciler should look at: desired, held, or owned by the journal. */
  names(): Set<string> {
    return new Set([...Object.keys(this.#loaded.config.processes), ...this.#table.names(), ...this.#journal.state.owned.keys()]);
  }

  ps() {
    return psOf(this.#table, this.node, (name) => this.desired(name), (p) => this.#upgrades.pending(p));
  }

  info(p: ProcessView) {
    return processInfo(p, this.node, this.desired(p.name), this.#upgrades.pending(p));
  }

  locate(name: string) {
    return locateIn(this.#journal.state, this.#table, name);
  }

  // ------------------------------------------------------------------ config

  /** Takes a new good config: peers follow it and every process is looked at again. */
  updateConfig(loaded: LoadedConfig, revision = contentRevision(loaded.text), moduleHashes: Readonly<Record<string, string>> = {}): void {
    this.#revision = revision;
    this.#moduleHashes = moduleHashes;
    const before = this.#loaded.config.processes;
    for (const [name, spec] of Object.entries(loaded.config.processes)) {
      if (JSON.stringify(before[name]) !== JSON.stringify(spec)) this.trace.mark("config", "changed", name);
    }
    this.#loaded = loaded;
    this.#configError = null;
    this.#setPeers();
    this.probeModules();
    for (const name of this.names()) this.#enqueue(name);
    this.events.emit({ type: "config-reloaded" });
  }

  /**
   * Records a rejected edit; the last good config stays in force. The same problem found again
   * (an editor's second write of one save, a save that did not fix it) is said once.
   */
  rejectConfig(error: unknown): void {
    const problem = describeError(error);
    if (problem === this.#configError) return;
    this.#configError = problem;
    this.events.emit({ type: "config-rejected", reason: this.#configError });
    this.#log("warn", `ferry: ${this.#configError}; keeping the last good config`);
  }

  /** Re-reads cluster.yaml now (the destination of a hand-off may have read a newer one). */
  reloadConfig(): Promise<void> {
    return this.#reloadConfig();
  }

  setConfigReloader(reload: () => Promise<void>): void {
    this.#reloadConfig = reload;
  }

  #setPeers(): void {
    const wanted = Object.entries(this.#loaded.config.nodes).filter(([name]) => name !== this.node);
    for (const name of [...this.#peers.keys()]) if (!wanted.some(([n]) => n === name)) this.#peers.delete(name);
    for (const [name, spec] of wanted) {
      const current = this.#peers.get(name);
      if (current && current.url === spec.url.replace(/\/+$/, "")) continue;
      this.#peers.set(name, new BatchingPeer(name, spec.url, this.#loaded.secret, this.#transport));
    }
  }

  /**
   * The file to import for `module` and its version (content hash): the version the config
   * revision names (fetched from a peer and verified when this node lacks it), or this node's
   * own copy in local mode.
   */
  async resolveModule(module: string): Promise<ResolvedModule> {
    let resolved: { path: string; version: string };
    try {
      resolved = await this.#registry.resolve(module, this.#moduleHashes[module]);
      this.#moduleCacheProblem = undefined;
    } catch (error) {
      // The module cache lives in the data directory too: a full disk shows in `status`.
      if (isFerryError(error) && error.code === "storage_failed") this.#moduleCacheProblem = `the module cache cannot be written: ${error.message}`;
      throw error;
    }
    if (this.#moduleHashes[module] === undefined) this.#latest.set(module, resolved.version);
    return resolved;
  }

  /** The version a process of `module` should run: the config revision's, else this node's file. */
  #latestVersion(module: string): string | undefined {
    return this.#moduleHashes[module] ?? this.#latest.get(module);
  }

  /** Loads new or changed modules in the executors to learn whether they load and what they offer. */
  probeModules(): void {
    if (this.#probing) return;
    this.#probing = this.#probe().finally(() => (this.#probing = undefined));
    this.#tasks.spawn("inspect modules", this.#probing);
  }

  async #probe(): Promise<void> {
    for (const name of [...this.#modules.keys()]) {
      if (this.#loaded.modules.has(name)) continue;
      this.#modules.delete(name);
      this.#latest.delete(name);
    }
    for (const [name, path] of this.#loaded.modules) {
      let hash: string;
      try {
        const bundle = await this.#registry.local(name);
        if (!bundle) continue;
        hash = bundle.hash;
      } catch (error) {
        const message = describeError(error);
        if (this.#modules.get(name)?.error !== message) this.events.emit({ type: "module-failed", reason: message, message: name });
        this.#modules.set(name, { name, file: path, ok: false, error: message, hash: "" });
        continue;
      }
      this.#latest.set(name, hash);
      if (this.#modules.get(name)?.hash === hash) continue;
      const version = shortHash(hash);
      this.#modules.set(name, { name, file: path, ok: true, version, hash });
      try {
        // What an executor imports: on Node, the copy compiled to JavaScript.
        const { methods } = await this.#pool.inspect((await this.#registry.resolve(name, hash)).path, hash);
        this.#modules.set(name, { name, file: path, ok: true, methods, version, hash });
        this.events.emit({ type: "module-loaded", message: `${name} ${version}` });
        // Its processes may be due an upgrade now.
        for (const p of this.#table.values()) if (p.module === name) this.#enqueue(p.name);
      } catch (error) {
        const message = describeError(error);
        this.#modules.set(name, { name, file: path, ok: false, error: message, version, hash });
        this.events.emit({ type: "module-failed", reason: message, message: name });
        this.#log("warn", `ferry: module ${name}: ${message}`);
      }
    }
  }

  // ------------------------------------------------------------------ acquiring

  /** Shows why `name` is not here yet (ps lists it as starting with this reason). */
  noteAcquiring(name: string, reason: string | null): void {
    const held = this.#table.get(name);
    if (held) held.error = reason; // a copy held for a hand-off: its row shows why it waits
    else this.#table.acquire(name).reason = reason;
  }

  /** Announces (or withdraws) that this node is about to start `name` fresh. */
  setCreating(name: string, creating: boolean): void {
    if (creating) this.#table.acquire(name).creating = true;
    else {
      const entry = this.#table.acquiring(name);
      if (entry) entry.creating = false;
    }
  }

  stopAcquiring(name: string): void {
    this.#table.stopAcquiring(name);
  }

  /** A reconcile of `name` failed; the reason shows in ps where the process is (or is awaited). */
  noteError(name: string, error: unknown): void {
    const message = describeError(error);
    const held = this.#table.get(name);
    if (held) {
      held.error = message;
      return;
    }
    const placed = this.desired(name)?.node;
    if (placed === undefined || placed === this.node) this.#table.acquire(name).reason = message;
  }

  /** The reason shown for `name` is over (a later reconcile succeeded). */
  clearError(name: string): void {
    const acquiring = this.#table.acquiring(name);
    if (acquiring) acquiring.reason = null;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Starts `name` fresh (generation 0) on this node: the caller has established that no node
   * holds it. Failures to load are recorded on the process, not thrown.
   */
  async startFresh(name: string, spec: ProcessSpec): Promise<ProcessView> {
    const identity: ProcessIdentity = {
      name,
      module: spec.module,
      args: spec.args,
      generation: 0,
      migrations: 0,
      lastDowntimeMs: null,
      ...(spec.limits?.memoryMb ? { memoryMb: spec.limits.memoryMb } : {}),
    };
    const known = await this.#store.owner(name);
    if (known?.node === this.node) return this.#recover(known);
    if (!(await this.#store.claimFresh(identity))) {
      throw new FerryError("conflict", `Another node claimed "${name}" first`, { hint: known ? `the cluster store says node "${known.node}" owns it at generation ${known.generation}` : undefined });
    }
    await this.#journal.append({ op: "own", ...identity });
    const p = await this.#host(identity, undefined, { hold: false });
    if (p.state === "failed") this.#log("error", `[${name}] cannot start: ${p.error}`);
    else this.events.emit({ type: "started", process: name, generation: 0 });
    return p;
  }

  /**
   * The store says this node owns a process its journal does not know (its data directory was
   * lost): restore it from the checkpoint the store kept, at the generation the store records.
   */
  async #recover(known: Omit<OwnedProcess, "status" | "lastDowntimeMs"> & { node: string }): Promise<ProcessView> {
    const identity: ProcessIdentity = { name: known.name, module: known.module, args: known.args, generation: known.generation, migrations: known.migrations, lastDowntimeMs: null, ...(known.memoryMb ? { memoryMb: known.memoryMb } : {}) };
    let snapshot: Uint8Array | undefined;
    try {
      snapshot = await this.#store.adoptableCheckpoint(this.node, known.name, known.generation);
    } catch (error) {
      await this.#journal.append({ op: "own", ...identity }, { op: "failed", name: known.name, generation: known.generation, error: describeError(error) });
      const p = new ManagedProcess(identity);
      this.#table.add(p);
      p.moveTo("failed");
      p.error = `Cannot restore it from the cluster store: ${describeError(error)}`;
      this.events.emit({ type: "failed", process: known.name, generation: known.generation, reason: p.error });
      return p;
    }
    if (snapshot) await this.#checkpoints.save(known.name, known.generation, snapshot, { force: true });
    await this.#journal.append({ op: "own", ...identity });
    return this.#restore(identity, "this node's data directory was lost; restored from the checkpoint the cluster store kept");
  }

  /** A failed process restarts once its module file changed (the user fixed the bug). */
  async retryFailed(name: string): Promise<boolean> {
    const p = this.#table.get(name);
    if (!p || p.state !== "failed") return false;
    let version: string;
    try {
      version = (await this.resolveModule(p.module)).version;
    } catch {
      return false;
    }
    if (version === p.moduleVersion) return false;
    if (p.hosted) await this.#pool.discard(name, `process "${name}" restarts on its changed module`);
    this.#table.forget(p, "stopped");
    const owned = this.#journal.state.owned.get(name);
    const identity = owned ? identityOf(owned) : p.identity();
    await this.#journal.append({ op: "own", ...identity });
    await this.#restore(identity, "module changed");
    return true;
  }

  /**
   * Whether `name` runs here on an older version of its module and its policy (`upgrade: auto`)
   * says to move it onto the newest one now.
   */
  upgradeDue(name: string): boolean {
    return this.#upgrades.due(name);
  }

  /**
   * Moves a process held here onto the newest version of its module in place, keeping its state
   * (or, with `dryRun`, tries the new code on a copy of it). A failed upgrade leaves it running
   * the old code and answers `ok: false` with the reason.
   *
   * @example
   * ```ts
   * const result = await node.upgrade("counter", { dryRun: true });
   * if (!result.ok) console.error(result.error);
   * ```
   */
  upgrade(name: string, options: UpgradeOptions = {}): Promise<UpgradeResult> {
    return this.#upgrades.apply(name, options);
  }

  /** Stops and forgets a process removed from cluster.yaml. */
  async remove(name: string, reason: string): Promise<void> {
    const p = this.#table.get(name);
    if (p && (p.state === "starting" || p.state === "held")) {
      // Being instantiated (its constructor may not have returned yet): stopped when it is.
      p.stopRequested = reason;
      return;
    }
    if (p) await this.#stopHosted(p, "stopped");
    if (this.#journal.state.owned.has(name) || p) await this.#journal.append({ op: "removed", name });
    this.#checkpoints.remove(name);
    this.#upgrades.forget(name);
    await this.#store.forget(name);
    this.#table.stopAcquiring(name);
    this.events.emit({ type: "stopped", process: name, reason });
  }

  /** Suspends (briefly) and discards a hosted process, forgetting it in `final` state. */
  async #stopHosted(p: ManagedProcess, final: "stopped"): Promise<void> {
    // Shown as stopped from now on: it will not run again, whatever the executor says.
    p.moveTo(final);
    if (p.hosted) {
      try {
        await this.#pool.request({ type: "suspend", name: p.name, deadlineMs: this.settings.suspendDeadlineMs });
      } catch (error) {
        this.#log("warn", `[${p.name}] did not stop cleanly: ${describeError(error)}`);
      }
      await this.#pool.discard(p.name, `process "${p.name}" was ${final}`);
    }
    p.openGate();
    this.#table.forget(p, final);
  }

  /** Instantiates a process in an executor and records it (failures are recorded, not thrown). */
  async #host(identity: ProcessIdentity, snapshot: Uint8Array | SnapshotFeed | undefined, options: { hold: boolean; module?: Promise<ResolvedModule>; quiet?: boolean; verified?: boolean }): Promise<ManagedProcess> {
    const p = new ManagedProcess(identity);
    this.#table.add(p);
    try {
      const file = await (options.module ?? this.resolveModule(identity.module));
      p.moduleVersion = file.version;
      const started = await this.#pool.start({
        name: identity.name,
        modulePath: file.path,
        moduleVersion: file.version,
        args: identity.args,
        ...(snapshot ? { snapshot } : {}),
        ...(options.verified ? { verified: true } : {}),
        generation: identity.generation,
        hold: options.hold,
      }, identity.memoryMb);
      p.hosted = true;
      p.methods = started.methods;
      p.description = started.description;
      if (started.upgradedFrom !== undefined) {
        // Restored from state another version wrote (a checkpoint from before the file changed, or
        // a peer running another version): its upgrade() took it over.
        const from = shortHash(started.upgradedFrom);
        this.events.emit({ type: "upgraded", process: identity.name, generation: identity.generation, from, to: shortHash(file.version), reason: "restored from state of an older version" });
        this.#log("info", `[${identity.name}] restored state of ${identity.module} ${from} into ${shortHash(file.version)}`);
      }
      if (p.state === "starting") p.moveTo(options.hold ? "held" : "running");
    } catch (error) {
      if (p.state !== "starting") return p; // lost meanwhile (executor died): already handled
      p.moveTo("failed");
      p.error = describeError(error);
      if (!options.quiet) this.events.emit({ type: "failed", process: identity.name, reason: p.error });
    }
    if (p.stopRequested !== undefined && this.#table.get(p.name) === p) {
      const reason = p.stopRequested;
      this.#tasks.spawn(`stop ${p.name}`, () => this.remove(p.name, reason));
    }
    return p;
  }

  /** Starts an owned process from its latest checkpoint (or fresh from its args when it has none). */
  async #restore(identity: ProcessIdentity, reason: string, hold = false): Promise<ManagedProcess> {
    let snapshot: Uint8Array | undefined;
    let takenAt: number | undefined;
    try {
      const entry = this.#checkpoints.readEntry(identity.name, identity.generation);
      snapshot = entry?.bytes;
      takenAt = entry?.at;
    } catch (error) {
      // A checkpoint the journal records but that is gone or corrupt: starting from the args
      // would silently lose the state, so the process fails and says which file.
      const p = new ManagedProcess(identity);
      this.#table.add(p);
      p.moveTo("failed");
      p.error = describeError(error);
      this.events.emit({ type: "failed", process: identity.name, generation: identity.generation, reason: p.error });
      this.#log("error", `[${identity.name}] cannot be restored: ${p.error}`);
      return p;
    }
    const p = await this.#host(identity, snapshot, { hold });
    if (p.state !== "failed") {
      // Say how old the restored state is: a node whose checkpoints failed for a while (a full
      // disk) restores older state, and that must not pass silently.
      const age = takenAt !== undefined ? `; checkpoint taken ${formatAge(Date.now() - takenAt)} ago` : "";
      this.events.emit({ type: snapshot ? "restored" : "started", process: identity.name, generation: identity.generation, ...(snapshot ? { reason: `${reason}${age}` } : {}) });
      if (snapshot && takenAt !== undefined && Date.now() - takenAt > 3 * this.settings.checkpointIntervalMs + 5000) {
        this.#log("warn", `[${identity.name}] restored from a checkpoint taken ${formatAge(Date.now() - takenAt)} ago (${reason})`);
      }
    }
    return p;
  }

  async #restoreOwned(): Promise<void> {
    for (const warning of this.#journal.warnings) this.#log("warn", `ferry: ${warning}`);
    for (const owned of this.#journal.state.owned.values()) {
      if (owned.status === "prepared") continue; // in doubt: the reconciler asks the source first
      const identity = identityOf(owned);
      if (owned.status === "failed") {
        const p = await this.#restore(identity, "daemon restarted", true);
        if (p.state !== "failed") p.moveTo("failed");
        p.error ??= owned.error ?? "failed before the daemon restarted";
        continue;
      }
      const p = await this.#restore(identity, "daemon restarted", owned.status === "completed");
      if (owned.status === "completed" && p.state === "held") p.moveTo("completed");
    }
  }

  /** run() returned or threw: record it durably. */
  async #onExit(name: string, outcome: "completed" | "failed", error?: WireError): Promise<void> {
    const p = this.#table.get(name);
    if (!p || p.state !== "running") return;
    p.moveTo(outcome);
    p.error = error ? error.message : null;
    this.events.emit({ type: outcome, process: name, generation: p.generation, ...(error ? { reason: error.message } : {}) });
    if (outcome === "failed") this.#log("error", `[${name}] failed: ${error?.message}`);
    await this.#checkpoint(p, true);
    await this.#journal.append(
      outcome === "completed" ? { op: "completed", name, generation: p.generation } : { op: "failed", name, generation: p.generation, error: p.error ?? "" },
    );
  }

  /** An executor died or stalled: its processes restart from their checkpoints, the culprit as failed. */
  async #onLost(names: string[], reason: string, culprit?: string): Promise<void> {
    if (this.closing) return;
    this.events.emit({ type: "executor-restarted", reason, ...(culprit ? { process: culprit } : {}) });
    for (const name of names) {
      const p = this.#table.get(name);
      const owned = this.#journal.state.owned.get(name);
      if (!p) continue;
      p.hosted = false;
      p.openGate();
      if (p.outgoing || p.incoming) {
        // Mid-hand-off: the hand-off's own timeout or abort settles it; a lost instance cannot move.
        p.error = `Lost: ${reason}`;
        continue;
      }
      this.#table.forget(p, "stopped");
      if (!owned || owned.status === "prepared") continue;
      const blamed = culprit === name || (culprit === undefined && names.length === 1);
      const restarted = await this.#restore(identityOf(owned), `lost: ${reason}`, blamed || owned.status !== "owned");
      if (blamed) {
        if (restarted.state !== "failed") restarted.moveTo("failed");
        restarted.error = `Stopped: ${reason}`;
        this.#log("error", `[${name}] stopped: ${reason}`);
        await this.#journal.append({ op: "failed", name, generation: owned.generation, error: restarted.error });
      } else if (owned.status === "completed" && restarted.state === "held") {
        restarted.moveTo("completed");
      } else if (owned.status === "failed" && restarted.state !== "failed") {
        restarted.moveTo("failed");
        restarted.error = owned.error ?? "failed";
      }
    }
  }

  // ------------------------------------------------------------------ fences and adoption

  /**
   * Another node adopted processes this node owned (it thought this node gone). Their copies here
   * must never run another step: a copy whose executor is blocked on a lapsed lease is evicted
   * with its executor (its pending continuations die with it); any other is stopped at once.
   */
  async applyFences(fences: readonly Fence[]): Promise<void> {
    for (const fence of fences) {
      const owned = this.#journal.state.owned.get(fence.name);
      // A fence at a generation covers the ones before it (a stale copy is older still).
      if (!owned || owned.status === "prepared" || owned.generation > fence.generation) continue;
      // Being handed over by this node's own commit right now: the hand-off finishes the release.
      if (this.#table.get(fence.name)?.outgoing) continue;
      await this.#journal.append({ op: "released", name: fence.name, generation: owned.generation, to: fence.to, handoffId: fence.handoffId });
      const p = this.#table.get(fence.name);
      if (p) {
        if (p.hosted) await this.#pool.stopAdopted(p.name, `process "${p.name}" was adopted by node "${fence.to}" while this node was unresponsive`);
        p.hosted = false;
        p.openGate({ movedTo: fence.to });
        this.#table.forget(p, "stopped");
      }
      this.#checkpoints.remove(fence.name);
      const reason = `node "${fence.to}" adopted it while this node seemed gone`;
      this.events.emit({ type: "fenced", process: fence.name, generation: fence.generation, to: fence.to, reason });
      this.#log("warn", `[${fence.name}] stopped: ${reason}`);
    }
  }

  /** The cluster store became unreachable from every node (or answers again): say so. */
  noteStoreOutage(outage: boolean, reason: string): void {
    this.events.emit({ type: outage ? "store-unreachable" : "store-reachable", reason });
    this.#log(outage ? "warn" : "info", `ferry: ${reason}`);
  }

  /** Publishes the lease deadline to the executors: past it, no process runs a step. */
  setLease(validUntil: number): void {
    this.#pool.setLease(validUntil);
  }

  /**
   * Adoption, first step: the gone node's latest state is stored here, one generation on, as an
   * incoming copy that does not run (`prepared`, with a hand-off id starting with `adopt-`). A
   * restart finds it and finishes the adoption; a peer asking `locate` hears it is in doubt, so
   * nobody starts it fresh meanwhile.
   */
  async prepareAdoption(owned: Readonly<OwnedProcess>, snapshot: Uint8Array | undefined, gone: string, handoffId: string): Promise<void> {
    const identity = { ...identityOf(owned), generation: owned.generation + 1, migrations: owned.migrations + 1 };
    await Promise.all([
      snapshot ? this.#checkpoints.save(owned.name, identity.generation, snapshot, { force: true }) : Promise.resolve(false),
      this.#journal.append({ op: "prepared", ...identity, from: gone, handoffId }),
    ]);
    this.#table.acquire(owned.name).reason = `Adopting it from node "${gone}", which is gone (waiting out its lease)`;
  }

  /** Adoption, last step (the fence is written and the gone node's lease is over): run it here. */
  async completeAdoption(name: string): Promise<void> {
    const owned = this.#journal.state.owned.get(name);
    if (owned?.status !== "prepared" || !owned.handoffId?.startsWith("adopt-")) return;
    const identity = identityOf(owned);
    await this.#journal.append({ op: "own", ...identity });
    await this.#restore(identity, `adopted from ${owned.from}`);
    this.events.emit({ type: "adopted", process: name, from: owned.from ?? "?", generation: identity.generation });
  }

  /** Another node won the claim: forget the stored copy. */
  async dropAdoption(name: string, handoffId: string): Promise<void> {
    await this.incoming.drop(name, handoffId, true);
    this.#table.stopAcquiring(name);
  }

  /** Adoptions this node began and has not finished (after a restart). */
  adoptionsInProgress(): Array<{ name: string; from: string; handoffId: string; generation: number }> {
    const out: Array<{ name: string; from: string; handoffId: string; generation: number }> = [];
    for (const owned of this.#journal.state.owned.values()) {
      if (owned.status === "prepared" && owned.from && owned.handoffId?.startsWith("adopt-")) {
        out.push({ name: owned.name, from: owned.from, handoffId: owned.handoffId, generation: owned.generation });
      }
    }
    return out;
  }

  /**
   * Runs a process of a gone node here at once, one generation on: one that had completed (it
   * runs nothing), or — with `unreadable` — one whose checkpoint could not be read, recorded
   * failed with that reason rather than silently restarted from its args.
   */
  async adopt(owned: Readonly<OwnedProcess>, snapshot: Uint8Array | undefined, gone: string, unreadable?: unknown): Promise<void> {
    const identity = { ...identityOf(owned), generation: owned.generation + 1, migrations: owned.migrations + 1 };
    if (unreadable !== undefined) {
      const error = `Adopted from "${gone}" without its state: ${describeError(unreadable)}`;
      await this.#journal.append({ op: "own", ...identity }, { op: "failed", name: owned.name, generation: identity.generation, error });
      const p = new ManagedProcess(identity);
      this.#table.add(p);
      p.moveTo("failed");
      p.error = error;
      this.events.emit({ type: "failed", process: owned.name, generation: identity.generation, reason: error });
      return;
    }
    if (snapshot) await this.#checkpoints.save(owned.name, identity.generation, snapshot, { force: true });
    await this.#journal.append({ op: "own", ...identity });
    const p = await this.#restore(identity, `adopted from ${gone}`, owned.status === "completed");
    if (owned.status === "completed" && p.state === "held") p.moveTo("completed");
    this.events.emit({ type: "adopted", process: owned.name, from: gone, generation: identity.generation });
  }

  // ------------------------------------------------------------------ checkpoints

  /** Captures a running process between two turns of its event loop and stores it durably. */
  async #checkpoint(p: ManagedProcess, force = false): Promise<void> {
    if (!p.hosted || p.gate || p.outgoing) return;
    try {
      // The size of the state it was restored from, for its first checkpoint here.
      const expectBytes = p.lastSnapshotBytes ?? p.lastTransferBytes ?? 0;
      const { snapshot, takenAt: at } = await this.#pool.request({ type: "capture", name: p.name, expectBytes });
      p.lastSnapshotBytes = snapshot.byteLength;
      if (this.#table.get(p.name) !== p || p.outgoing || p.gate) return;
      const saved = await this.#checkpoints.save(p.name, p.generation, snapshot, { force, at });
      if (p.error?.startsWith("Checkpoint failed")) p.error = null;
      if (saved && this.#store.kind !== "local") {
        // Another machine keeps a copy, so losing this one with its disk loses no more than this.
        const status = p.state === "completed" ? "completed" : p.state === "failed" ? "failed" : "owned";
        this.#tasks.spawn(`replicate the checkpoint of ${p.name}`, this.#store.replicate({ name: p.name, generation: p.generation, at, bytes: snapshot, status }));
      }
    } catch (error) {
      p.error = `Checkpoint failed: ${describeError(error)}`;
    }
  }

  /** One round: captures run in parallel and their journal appends share fsyncs. */
  async checkpointAll(): Promise<void> {
    if (this.#checkpointing || this.closing) return;
    this.#checkpointing = true;
    try {
      const running = [...this.#table.values()].filter((p) => p.state === "running");
      for (let i = 0; i < running.length; i += 256) {
        await Promise.all(running.slice(i, i + 256).map((p) => this.#checkpoint(p)));
      }
    } finally {
      this.#checkpointing = false;
    }
  }

  // ------------------------------------------------------------------ calls

  /**
   * Invokes `method` on a process held here. During a hand-off the call waits and is delivered
   * where the process resumes; it fails only when the hand-off outlasts `timeoutMs`. A call with
   * the `callId` of one that already ran is answered again, not run twice.
   */
  call(name: string, method: string, args: string[], timeoutMs: number, callId?: string) {
    return callProcess({
      node: this.node,
      get: (n) => this.#table.get(n),
      peer: (n) => this.#peers.get(n),
      request: (req, options) => this.#pool.request(req, options),
    }, name, method, args, timeoutMs, callId);
  }

  // ------------------------------------------------------------------ shutdown

  /** Stops gracefully: every process is suspended at a safe point and checkpointed. Idempotent. */
  close(): Promise<void> {
    this.#stopping = true;
    this.#closing ??= (async () => {
      await Promise.all([...this.#table.values()].map(async (p) => {
        if (p.outgoing || p.incoming) return; // the journal says who owns it; a restart resolves it
        if (!p.hosted || p.gate || (p.state !== "running" && p.state !== "completed")) return;
        try {
          const { snapshot } = await this.#pool.request({ type: "suspend", name: p.name, deadlineMs: this.settings.suspendDeadlineMs });
          await this.#checkpoints.save(p.name, p.generation, snapshot, { force: true });
        } catch (error) {
          this.#log("warn", `[${p.name}] not checkpointed at stop: ${describeError(error)}`);
        }
      }));
      this.events.emit({ type: "daemon-stopped" });
      await this.#tasks.drain();
      await this.#pool.close();
      await this.#journal.close();
    })();
    return this.#closing;
  }
}

/** "1.2 s", "3 min", "2 h": how long ago, for humans. */
function formatAge(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
