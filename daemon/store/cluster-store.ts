/**
 * What the nodes of a cluster must agree on, behind one interface: node liveness (leases),
 * fences against nodes that may be gone, ownership of processes with their generations, the
 * checkpoints another node may adopt a lost process from, and the revision of the desired
 * config. The daemon core talks to this seam only; {@link LocalStore} (`local-store.ts`) is
 * today's behaviour on one machine or a shared filesystem, and a distributed store (etcd) plugs
 * in behind the same methods.
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

/** A process a node owned, as its durable records say. */
export interface AdoptableProcess {
  owned: OwnedProcess;
  /** Generation of its latest checkpoint, when there is one. */
  checkpointGeneration: number | undefined;
  /** The node that fenced it for adoption, if one did (it may not have finished adopting). */
  fencedBy: string | undefined;
}

/** The result of renewing this node's lease. */
export interface LeaseRenewal {
  /** Until when (ms since epoch) this node may run its processes. */
  validUntil: number;
  /** Every fence issued against this node's processes that is still in force. */
  fences: Fence[];
}

export interface ClusterStore {
  readonly kind: "local" | "etcd";
  /** How long a fenced claim can outlive its fence: what an adopter waits before it runs anything. */
  readonly fenceWaitMs: number;

  /** Renews this node's lease (reading fences first); rejects when the store cannot be reached. */
  renew(): Promise<LeaseRenewal>;
  /** Whether `node`'s lease has lapsed: it may be gone (dead, cut off, or frozen). */
  isGone(node: string): Promise<boolean>;

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

  /**
   * A fresh start of `name` (generation 0) by this node; false when the store knows another
   * owner. Local mode: the nodes' journals hold ownership and the `locate` protocol decides, so
   * this always agrees.
   */
  claimFresh(name: string): Promise<boolean>;
  /** Ownership of `name` moves from this node to `to` at commit (generation +1). */
  transfer(name: string, generation: number, to: string, handoffId: string): Promise<void>;
  /** `name` is no longer owned by anyone (removed from the config). */
  forget(name: string): Promise<void>;

  /** A short, stable id of a config's text: what `ferry status` shows as the revision a node runs. */
  revisionOf(text: string): string;

  close(): Promise<void>;
}
