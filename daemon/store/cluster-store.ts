/**
 * What the nodes of a cluster must agree on, behind one interface: node liveness (leases),
 * fences against nodes that may be gone, ownership of processes with their generations, the
 * checkpoints another node may adopt a lost process from, and the desired config's revisions.
 * The daemon core talks to this seam only: {@link LocalStore} (`local-store.ts`) is the embedded
 * single-machine mode (files under one data directory), `EtcdStore` (`etcd/`) the multi-machine
 * mode.
 *
 * Self-fencing rests on two promises every implementation keeps:
 * - `renew()` reads the fences issued against this node *before* it extends the lease, so a
 *   node never runs a process on a fresh lease that was fenced before that lease began;
 * - an adopter waits {@link ClusterStore.fenceWaitMs} after `fence()` before it runs anything,
 *   longer than any lease granted before the fence, so the fenced node has either seen the fence
 *   or its lease has run out (and its processes are blocked) by the time the adopter starts.
 *
 * @example
 * ```ts
 * const { validUntil, fences } = await store.renew();
 * pool.setLease(validUntil);
 * ```
 * @module
 */
import type { Fence, OwnedProcess } from "./journal.ts";

export type { Fence };

/** A process a node owned, as the store knows it. */
export interface AdoptableProcess {
  owned: OwnedProcess;
  /** Generation of its latest checkpoint the store can provide, when there is one. */
  checkpointGeneration: number | undefined;
  /** The node that fenced it for adoption, if one did (it may not have finished adopting). */
  fencedBy: string | undefined;
}

/** The result of renewing this node's lease. */
export interface LeaseRenewal {
  /** Until when (ms since epoch) this node may run its processes. */
  validUntil: number;
  /**
   * Fences against this node's processes: each says that `name` at `generation` or earlier must
   * not run here any more, because `to` owns it now.
   */
  fences: Fence[];
}

/** A checkpoint kept where another machine can adopt from it. */
export interface ReplicatedCheckpoint {
  name: string;
  generation: number;
  /** When the state was taken, ms since epoch. */
  at: number;
  bytes: Uint8Array;
  /** The process's run() had returned (or failed): an adopter keeps it so instead of running it. */
  status: "owned" | "completed" | "failed";
}

/** One revision of the desired config. */
export interface ConfigRevision {
  text: string;
  revision: string;
  /** Module name → content hash of the version this revision runs (code travels by it). */
  modules: Record<string, string>;
}

/** The desired config as a sequence of revisions. */
export interface ConfigRevisions {
  /** The newest revision the store holds, or undefined when the local file is the truth. */
  current(): Promise<ConfigRevision | undefined>;
  /**
   * Publishes `text` (with its module versions) as the next revision if the newest is still
   * `basedOn` (compare-and-swap; undefined: only if there is none yet). Throws a
   * FerryError("conflict") naming the newer revision otherwise, and FerryError("unavailable")
   * when the store cannot be reached.
   */
  publish(text: string, modules: Record<string, string>, basedOn: string | undefined, publisher: string): Promise<{ revision: string }>;
  /** Calls `onRevision` with every revision published from now on, until `signal` aborts. */
  watch(onRevision: (revision: ConfigRevision) => void, signal: AbortSignal): void;
}

export interface ClusterStore {
  readonly kind: "local" | "etcd";
  /** How long a fenced claim can outlive its fence: what an adopter waits before it runs anything. */
  readonly fenceWaitMs: number;
  readonly config: ConfigRevisions;

  /** Renews this node's lease (reading fences first); rejects when the store cannot be reached. */
  renew(): Promise<LeaseRenewal>;
  /** Whether the last call to the store reached it (false while it is down or cut off). */
  readonly reachable: boolean;
  /** Records what this node's journal owns that the store does not know yet (at start-up). */
  announce(owned: readonly OwnedProcess[]): Promise<void>;
  /** Whether `node`'s lease has lapsed: it may be gone (dead, cut off, or frozen). */
  isGone(node: string): Promise<boolean>;

  /**
   * Who owns `name` according to the store, or undefined when it does not keep owners (local
   * mode) or nobody does. A node that lost its data directory learns here that it owned a process
   * (and restores it from its replicated checkpoint instead of starting it afresh).
   */
  owner(name: string): Promise<(Omit<OwnedProcess, "status" | "lastDowntimeMs"> & { node: string }) | undefined>;
  /** The processes `node` owns according to the store (for adoption and for creation decisions). */
  ownedBy(node: string): Promise<AdoptableProcess[]>;
  /**
   * Fences `process` of `gone` for `adopter`: from now on `gone` must not run it. Resolves with
   * the fence, or null when another node claimed it first (exactly one adopter wins). Claiming
   * again what `adopter` itself claimed before (it restarted mid-adoption) returns that fence.
   */
  fence(gone: string, process: OwnedProcess, adopter: string): Promise<Fence | null>;
  /** The latest checkpoint of a gone node's process at `generation`, or undefined if none. */
  adoptableCheckpoint(gone: string, name: string, generation: number): Promise<Uint8Array | undefined>;
  /** Keeps a copy of a checkpoint where another node can adopt from it if this machine is lost. */
  replicate(checkpoint: ReplicatedCheckpoint): Promise<void>;

  /**
   * A fresh start of `process` (generation 0) by this node; false when the store knows another
   * owner. Local mode: the nodes' journals hold ownership and the `locate` protocol decides, so
   * this always agrees.
   */
  claimFresh(process: Omit<OwnedProcess, "status">): Promise<boolean>;
  /**
   * Ownership of `process` moves from this node to `to` at commit; `process` carries the new
   * generation. A compare-and-swap on the previous owner and generation: throws
   * FerryError("conflict") when the store says someone else owns it.
   */
  transfer(process: Omit<OwnedProcess, "status">, to: string, handoffId: string): Promise<void>;
  /** `name` is no longer owned by anyone (removed from the config). */
  forget(name: string): Promise<void>;

  close(): Promise<void>;
}
