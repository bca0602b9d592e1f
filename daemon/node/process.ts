/**
 * One process as its node holds it: what it is (module, args, generation), where its lifecycle
 * stands, and what callers wait on while it moves. Only the node state (this folder) creates
 * records and moves them between states, through {@link ManagedProcess.moveTo}, which refuses an
 * illegal transition; the rest of the daemon sees a {@link ProcessView}.
 *
 * @example
 * ```ts
 * const p = new ManagedProcess({ name: "counter", module: "Counter", args: [], generation: 0, migrations: 0, lastDowntimeMs: null });
 * p.moveTo("running");
 * ```
 * @module
 */
import { assertMove, type ProcessState } from "./lifecycle.ts";
import type { OwnedProcess } from "../store/mod.ts";

/** What waiting callers learn when a gate opens. */
export interface GateOutcome {
  /** The process now runs on this node (the hand-off committed). */
  movedTo?: string;
}

/** Resolves once; calls made while a process is between states wait on it. */
export class Gate {
  readonly promise: Promise<GateOutcome>;
  #open!: (outcome: GateOutcome) => void;

  constructor() {
    this.promise = new Promise((resolve) => (this.#open = resolve));
  }

  open(outcome: GateOutcome = {}): void {
    this.#open(outcome);
  }
}

/** The durable identity of a process, as journal records carry it. */
export type ProcessIdentity = Pick<OwnedProcess, "name" | "module" | "args" | "generation" | "migrations" | "lastDowntimeMs" | "memoryMb">;

/** The holder's side of a hand-off in progress. */
export interface Outgoing {
  handoffId: string;
  to: string;
  /** performance.now() when suspending began. */
  suspendedAt: number;
  /**
   * performance.now() when the executor told run() to stop: until then the process still ran (its
   * calls finishing, the request on its way to the executor thread). Set once it has suspended.
   */
  stoppedAt?: number;
  /** run() had returned before the hand-off: it must not run again wherever it lands. */
  wasCompleted: boolean;
  /** The checkpoint written at suspend; cleanup after a commit waits for it. */
  saving: Promise<unknown>;
  /** The destination holds a pre-copied base: the suspend captures only the last delta. */
  precopied?: boolean;
}

/** The receiving side: a copy held for a hand-off, not yet known to be committed. */
export interface Incoming {
  from: string;
  handoffId: string;
  /** The process had completed at its source: it resumes as completed. */
  completed: boolean;
}

/** A read-only view of a process, for everything outside the node state. */
export interface ProcessView extends Readonly<ProcessIdentity> {
  readonly state: ProcessState;
  readonly error: string | null;
  readonly hosted: boolean;
  readonly methods: readonly string[];
  readonly description: string;
  readonly startedAt: string;
  readonly arrivedAt: number;
  readonly lastTransferBytes: number | null;
  /** Its snapshot is still streaming in while it is being held (a large hand-off). */
  readonly transfer?: { received: number; total: number } | undefined;
  /** The content hash of the module version it runs ("" until it is instantiated). */
  readonly moduleVersion: string;
  readonly outgoing: Readonly<Outgoing> | undefined;
  readonly incoming: Readonly<Incoming> | undefined;
  /** In a hand-off or otherwise between states: calls wait. */
  readonly waiting: boolean;
}

export class ManagedProcess implements ProcessView {
  readonly name: string;
  readonly module: string;
  readonly args: string[];
  readonly memoryMb?: number;
  generation: number;
  migrations: number;
  lastDowntimeMs: number | null;
  lastTransferBytes: number | null = null;
  transfer: { received: number; total: number } | undefined;
  /** Size of its latest periodic checkpoint: tells a destination whether to pre-copy it. */
  lastSnapshotBytes: number | null = null;
  #state: ProcessState = "starting";
  error: string | null = null;
  hosted = false;
  methods: string[] = [];
  description: string;
  startedAt = new Date().toISOString();
  /** When it last arrived on or started on this node (ms); the balancer's minimum stay counts from it. */
  arrivedAt = Date.now();
  moduleVersion = "";
  gate: Gate | undefined;
  /** Calls now executing; a suspend waits for them so no call's effect is lost. */
  readonly inflight = new Set<Promise<unknown>>();
  outgoing: Outgoing | undefined;
  incoming: Incoming | undefined;
  /** Asked to stop while it was still being instantiated: stop it once that is done. */
  stopRequested: string | undefined;

  constructor(identity: ProcessIdentity) {
    this.name = identity.name;
    this.module = identity.module;
    this.args = identity.args;
    if (identity.memoryMb) this.memoryMb = identity.memoryMb;
    this.generation = identity.generation;
    this.migrations = identity.migrations;
    this.lastDowntimeMs = identity.lastDowntimeMs;
    this.description = identity.module;
  }

  get state(): ProcessState {
    return this.#state;
  }

  get waiting(): boolean {
    return this.gate !== undefined;
  }

  /** Moves the lifecycle on; throws on an illegal transition. */
  moveTo(next: ProcessState): void {
    if (next === this.#state) return;
    assertMove(this.name, this.#state, next);
    this.#state = next;
  }

  /** Closes the gate: calls wait until {@link openGate}. */
  closeGate(): Gate {
    this.gate ??= new Gate();
    return this.gate;
  }

  openGate(outcome: GateOutcome = {}): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.open(outcome);
  }

  identity(): ProcessIdentity {
    return {
      name: this.name,
      module: this.module,
      args: this.args,
      generation: this.generation,
      migrations: this.migrations,
      lastDowntimeMs: this.lastDowntimeMs,
      ...(this.memoryMb ? { memoryMb: this.memoryMb } : {}),
    };
  }
}
