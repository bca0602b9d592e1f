/**
 * The cluster store of the embedded default: every node's data directory sits under one
 * `dataDir` on one machine (or a shared filesystem), and the nodes agree through files there.
 *
 * - Liveness: each node touches `<dataDir>/<node>/alive`; a node whose file has not moved for
 *   the lease time may be gone. A node's lease runs from the moment it began a renewal.
 * - Fences: an adopter appends to `<gone>/fences.ndjson`; the gone node reads them before every
 *   renewal and when it replays its journal.
 * - Adoption claims: an O_EXCL lock file `<gone>/adopt-<name>@<generation>` — one adopter wins.
 * - Ownership and generations: each node's own journal (`own`/`released` records); a fresh start
 *   is decided by the `locate` protocol between the nodes, so {@link LocalStore.claimFresh}
 *   and {@link LocalStore.transfer} have nothing to add.
 * - Adoptable checkpoints: read from the gone node's journal and checkpoint files.
 *
 * @example
 * ```ts
 * const store = new LocalStore({ dataDir: "/srv/.ferry", node: "alpha", leaseMs: 5000 });
 * const { validUntil } = await store.renew();
 * ```
 * @module
 */
import { createHash, randomUUID } from "../builtins/crypto.ts";
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import process from "node:process";
import { FerryError } from "../errors.ts";
import type { AdoptableProcess, ClusterStore, ConfigRevisions, Fence, LeaseRenewal, ReplicatedCheckpoint } from "./cluster-store.ts";
import { JOURNAL_FILE, readFences, writeFence } from "./journal.ts";
import type { JournalState, OwnedProcess } from "./journal.ts";
import { replayJournal } from "./replay.ts";
import { checkpointFileName } from "./checkpoints.ts";
import { envelopeProblem } from "../snapshot/codec.ts";

export interface LocalStoreOptions {
  /** The cluster's data directory; each node has a subdirectory named after it. */
  dataDir: string;
  /** This node. */
  node: string;
  /** How long a renewal keeps the node alive (the cluster's `goneAfterMs`). */
  leaseMs: number;
  /**
   * Safety margin: the node stops running processes this long before its lease ends, and an
   * adopter waits this much longer than a lease after fencing.
   * @default 250
   */
  marginMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export class LocalStore implements ClusterStore {
  readonly kind = "local" as const;
  /** Every node reads the same file: it is the desired config, and its revision is its hash. */
  readonly config: ConfigRevisions = {
    current: async () => undefined,
    publish: async (text) => ({ revision: contentRevision(text) }),
    watch: () => {},
  };
  readonly reachable = true;
  readonly #dataDir: string;
  readonly #node: string;
  readonly #leaseMs: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #journals = new Map<string, { mtime: number; size: number; state: JournalState }>();

  constructor(options: LocalStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#node = options.node;
    this.#leaseMs = options.leaseMs;
    this.#marginMs = options.marginMs ?? 250;
    this.#now = options.now ?? Date.now;
  }

  get fenceWaitMs(): number {
    return this.#leaseMs + 2 * this.#marginMs;
  }

  #dir(node: string): string {
    return join(this.#dataDir, node);
  }

  async renew(): Promise<LeaseRenewal> {
    const began = this.#now();
    // Fences first: a lease granted after this read cannot predate a fence it missed, because
    // an adopter waits longer than a whole lease after writing its fence.
    const fences = readFences(this.#dir(this.#node));
    const file = join(this.#dir(this.#node), "alive");
    try {
      const at = new Date(began);
      if (existsSync(file)) utimesSync(file, at, at);
      else writeFileSync(file, String(process.pid));
    } catch (cause) {
      throw new FerryError("storage_failed", `Cannot renew the liveness of node "${this.#node}" in "${file}"`, { cause });
    }
    return { validUntil: began + this.#leaseMs - this.#marginMs, fences };
  }

  async isGone(node: string): Promise<boolean> {
    try {
      return this.#now() - statSync(join(this.#dir(node), "alive")).mtimeMs > this.#leaseMs;
    } catch {
      return true;
    }
  }

  async ownedBy(node: string): Promise<AdoptableProcess[]> {
    const state = this.#state(node);
    if (!state) return [];
    const fences = readFences(this.#dir(node));
    return [...state.owned.values()].map((owned) => ({
      owned,
      checkpointGeneration: state.checkpoints.get(owned.name)?.generation,
      fencedBy: fences.find((f) => f.name === owned.name && f.generation === owned.generation)?.to,
    }));
  }

  async fence(gone: string, owned: OwnedProcess, adopter: string): Promise<Fence | null> {
    const dir = this.#dir(gone);
    const lock = join(dir, `adopt-${owned.name}@${owned.generation}`);
    try {
      writeFileSync(lock, adopter, { flag: "wx" });
    } catch {
      // Claimed already: by another node (it adopts), or by this one before a restart.
      const earlier = readFences(dir).find((f) => f.name === owned.name && f.generation === owned.generation);
      return earlier?.to === adopter ? earlier : null;
    }
    const fence: Fence = { name: owned.name, generation: owned.generation, to: adopter, handoffId: `adopt-${randomUUID()}` };
    writeFence(dir, fence);
    return fence;
  }

  async adoptableCheckpoint(gone: string, name: string, generation: number): Promise<Uint8Array | undefined> {
    const entry = this.#state(gone)?.checkpoints.get(name);
    if (!entry || entry.generation !== generation) return undefined;
    let bytes: Uint8Array;
    const file = entry.data ? join(this.#dir(gone), JOURNAL_FILE) : join(this.#dir(gone), "checkpoints", checkpointFileName(name, generation));
    if (entry.data) bytes = new Uint8Array(Buffer.from(entry.data, "base64"));
    else {
      try {
        bytes = new Uint8Array(readFileSync(file));
      } catch (cause) {
        throw new FerryError("checkpoint_missing", `Checkpoint "${file}" of "${name}" is missing`, { cause });
      }
    }
    const problem = envelopeProblem(bytes);
    if (problem) throw new FerryError("snapshot_corrupt", `Checkpoint "${file}" of "${name}" is corrupt: ${problem}`);
    return bytes;
  }

  /** Each node's journal says what it owns; there is no central record to ask. */
  async owner(_name: string): Promise<undefined> {
    return undefined;
  }

  /** The nodes' journals hold what each owns; other nodes read them in place. */
  async announce(_owned: readonly OwnedProcess[]): Promise<void> {}

  /** Checkpoints stay in this node's directory, which the other nodes read (shared filesystem). */
  async replicate(_checkpoint: ReplicatedCheckpoint): Promise<void> {}

  async claimFresh(_process: Omit<OwnedProcess, "status">): Promise<boolean> {
    return true;
  }

  async transfer(_process: Omit<OwnedProcess, "status">, _to: string, _handoffId: string): Promise<void> {}

  async forget(_name: string): Promise<void> {}

  async close(): Promise<void> {}

  /** Another node's journal, replayed with its fences applied (cached until the file changes). */
  #state(node: string): JournalState | undefined {
    const file = join(this.#dir(node), JOURNAL_FILE);
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return undefined;
    }
    const cached = this.#journals.get(node);
    if (cached && cached.mtime === stat.mtimeMs && cached.size === stat.size) return cached.state;
    // A line another node is writing right now reads as torn; its owner reports real damage.
    const { state } = replayJournal(new Uint8Array(readFileSync(file)), file);
    this.#journals.set(node, { mtime: stat.mtimeMs, size: stat.size, state });
    return state;
  }
}

/**
 * The revision of a config in local mode: a short hash of its text (equal text, equal revision).
 *
 * @example
 * ```ts
 * contentRevision("cluster: …"); // "3f2a9c01b7de"
 * ```
 */
export function contentRevision(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
