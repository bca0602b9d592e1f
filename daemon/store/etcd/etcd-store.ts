/**
 * The cluster store of multi-machine mode, on etcd v3. Keys live under
 * `<prefix>/<cluster>/` (see `keys.ts`):
 *
 * - `nodes/<node>` — attached to the node's lease: present while the node is alive. A node whose
 *   key is gone is gone; its lease can only be renewed by itself.
 * - `owners/<process>` — who owns each process and at which generation. Every change is a
 *   transaction comparing the key's previous modification revision (etcd revisions only grow:
 *   Kleppmann's fencing token); a hand-off's commit, a fresh start and an adoption are such
 *   transactions, so exactly one node owns a process at a time. A node reads the owners before
 *   each lease renewal: a process it runs that the store says another node owns is fenced.
 * - `checkpoints/<process>` — the latest checkpoint of each process, inline when small; a large
 *   one names the peer holding a replica. An adopter restores from it when a machine is lost with
 *   its disk.
 * - `config` — the desired config: each put is a revision (its modification revision), published
 *   with a compare-and-swap on the revision the edit was based on.
 *
 * @example
 * ```ts
 * const store = await EtcdStore.open({ settings, cluster: "demo", node: "alpha", leaseMs: 5000, dir });
 * const { validUntil, fences } = await store.renew();
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { Etcd3 } from "etcd3";
import type { Lease, Namespace } from "etcd3";
import { describeError, FerryError, isFerryError } from "../../errors.ts";
import { envelopeProblem } from "../../snapshot/codec.ts";
import type { OwnedProcess } from "../journal.ts";
import type { AdoptableProcess, ClusterStore, ConfigRevision, ConfigRevisions, Fence, LeaseRenewal, ReplicatedCheckpoint } from "../cluster-store.ts";
import { etcdOptions, type EtcdConnection } from "./connect.ts";
import { keys } from "./keys.ts";

/** Checkpoints up to this size live in etcd itself; larger ones on a peer. */
export const INLINE_CHECKPOINT_BYTES = 256 * 1024;

/** How a large checkpoint reaches a peer and comes back. */
export interface Replicas {
  /** Peers that may hold a replica, best first (alive ones). */
  candidates(): string[];
  push(to: string, checkpoint: ReplicatedCheckpoint): Promise<void>;
  fetch(from: string, name: string, generation: number): Promise<Uint8Array | undefined>;
}

export interface EtcdStoreOptions extends EtcdConnection {
  cluster: string;
  node: string;
  /** The node's lease: how long it may run its processes without renewing (`goneAfterMs`). */
  leaseMs: number;
  /** @default 250 */
  marginMs?: number;
  replicas?: Replicas;
}

/** What `owners/<process>` holds. */
interface OwnerRecord {
  node: string;
  generation: number;
  module: string;
  args: string[];
  migrations: number;
  memoryMb?: number;
}

/** What `checkpoints/<process>` holds. */
interface CheckpointRecord {
  node: string;
  generation: number;
  at: number;
  status: ReplicatedCheckpoint["status"];
  /** base64, when small. */
  data?: string;
  /** The peer holding the bytes, when large. */
  replica?: string;
}

export class EtcdStore implements ClusterStore {
  readonly kind = "etcd" as const;
  readonly config: ConfigRevisions;
  readonly #client: Etcd3;
  readonly #ns: Namespace;
  readonly #node: string;
  readonly #ttlSeconds: number;
  readonly #marginMs: number;
  readonly #endpoints: string;
  readonly #replicas: Replicas | undefined;
  readonly #timeoutMs: number;
  #lease: Lease | undefined;
  #reachable = true;
  /** Per process: the replication in progress (see replicate), and which checkpoint was replicated last. */
  readonly #replicating = new Map<string, Promise<void>>();
  readonly #replicated = new Map<string, { generation: number; at: number }>();

  constructor(options: EtcdStoreOptions) {
    this.#client = new Etcd3(etcdOptions(options));
    this.#ns = this.#client.namespace(keys.root(options.settings.prefix, options.cluster));
    this.#node = options.node;
    // etcd counts leases in whole seconds; a lease shorter than one cannot be granted.
    this.#ttlSeconds = Math.max(1, Math.ceil(options.leaseMs / 1000));
    this.#marginMs = options.marginMs ?? 250;
    this.#endpoints = options.settings.etcd.join(", ");
    this.#replicas = options.replicas;
    this.#timeoutMs = options.settings.timeoutMs ?? 2000;
    this.config = {
      current: () => this.#currentConfig(),
      publish: (text, modules, basedOn, publisher) => this.#publish(text, modules, basedOn, publisher),
      watch: (onRevision, signal) => this.#watchConfig(onRevision, signal),
    };
  }

  get fenceWaitMs(): number {
    return this.#ttlSeconds * 1000 + 2 * this.#marginMs;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** Runs one etcd call, keeping `reachable` up to date and turning its failure into a FerryError. */
  async #call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      const value = await work();
      this.#reachable = true;
      return value;
    } catch (error) {
      if (isFerryError(error)) throw error;
      this.#reachable = false;
      throw new FerryError("unavailable", `Cannot ${what}: etcd at ${this.#endpoints} did not answer (${describeError(error)})`, {
        hint: "is etcd running and reachable from this machine?",
        cause: error,
      });
    }
  }

  // ------------------------------------------------------------------ liveness

  async renew(): Promise<LeaseRenewal> {
    const began = Date.now();
    // A renewal must fail well within a lease when etcd does not answer, so the node decides
    // what to do (carry the lease on, or block its processes) before the lease runs out.
    const deadline = () => ({ deadline: Date.now() + Math.min(this.#timeoutMs, (this.#ttlSeconds * 1000) / 4) });
    // Fences first: a lease granted after this read cannot predate a fence it missed.
    const fences = await this.#fences(deadline());
    await this.#call("renew the lease", async () => {
      if (this.#lease && !this.#lease.revoked()) {
        const answer = await this.#lease.keepaliveOnce(deadline());
        if (Number(answer.TTL) > 0) return;
      }
      // No lease yet, or it expired (this node was frozen or cut off past it): a new one.
      this.#lease = this.#ns.lease(this.#ttlSeconds, { autoKeepAlive: false });
      this.#lease.on("lost", () => {});
      await this.#lease.grant();
      await this.#lease.put(keys.node(this.#node)).value(JSON.stringify({ pid: globalThis.process?.pid ?? 0, since: began }));
    });
    return { validUntil: began + this.#ttlSeconds * 1000 - this.#marginMs, fences };
  }

  async isGone(node: string): Promise<boolean> {
    return (await this.#call("read a node's lease", () => this.#ns.get(keys.node(node)).string())) === null;
  }

  /** Owner records that say another node now owns a process: fences for whoever ran it before. */
  async #fences(options?: { deadline: number }): Promise<Fence[]> {
    const owners = await this.#owners(options);
    const fences: Fence[] = [];
    for (const [name, { record }] of owners) {
      if (record.node !== this.#node) fences.push({ name, generation: record.generation - 1, to: record.node, handoffId: `etcd-${record.generation}` });
    }
    return fences;
  }

  async #owners(options?: { deadline: number }): Promise<Map<string, { record: OwnerRecord; modRevision: string }>> {
    const answer = await this.#call("read the owners of processes", () => this.#ns.getAll().prefix(keys.owners).options(options).exec());
    const out = new Map<string, { record: OwnerRecord; modRevision: string }>();
    for (const kv of answer.kvs) {
      const name = kv.key.toString().slice(keys.owners.length);
      const record = parse<OwnerRecord>(kv.value);
      if (record) out.set(name, { record, modRevision: String(kv.mod_revision) });
    }
    return out;
  }

  async owner(name: string): Promise<(Omit<OwnedProcess, "status" | "lastDowntimeMs"> & { node: string }) | undefined> {
    const current = await this.#owner(name);
    if (!current) return undefined;
    const { node, generation, module, args, migrations, memoryMb } = current.record;
    return { name, node, generation, module, args, migrations, ...(memoryMb ? { memoryMb } : {}) };
  }

  async #owner(name: string): Promise<{ record: OwnerRecord; modRevision: string } | undefined> {
    const answer = await this.#call("read the owner of a process", () => this.#ns.get(keys.owner(name)).exec());
    const kv = answer.kvs[0];
    const record = kv ? parse<OwnerRecord>(kv.value) : undefined;
    return kv && record ? { record, modRevision: String(kv.mod_revision) } : undefined;
  }

  // ------------------------------------------------------------------ ownership

  async announce(owned: readonly OwnedProcess[]): Promise<void> {
    for (const p of owned) {
      if (p.status === "prepared") continue;
      await this.#call("record an owner", () =>
        this.#ns.if(keys.owner(p.name), "Create", "==", 0).then(this.#ns.put(keys.owner(p.name)).value(JSON.stringify(ownerRecord(this.#node, p)))).commit());
    }
  }

  async claimFresh(process: Omit<OwnedProcess, "status">): Promise<boolean> {
    const key = keys.owner(process.name);
    const answer = await this.#call("claim a process", () =>
      this.#ns.if(key, "Create", "==", 0).then(this.#ns.put(key).value(JSON.stringify(ownerRecord(this.#node, process)))).commit());
    if (answer.succeeded) return true;
    const current = await this.#owner(process.name);
    return current?.record.node === this.#node && current.record.generation === process.generation;
  }

  async transfer(process: Omit<OwnedProcess, "status">, to: string, handoffId: string): Promise<void> {
    const key = keys.owner(process.name);
    const current = await this.#owner(process.name);
    if (!current || current.record.node !== this.#node || current.record.generation !== process.generation - 1) {
      throw new FerryError("conflict", `The cluster store says "${process.name}" is ${current ? `owned by node "${current.record.node}" at generation ${current.record.generation}` : "owned by nobody"}, not by node "${this.#node}" at ${process.generation - 1}; hand-off ${handoffId} is refused`, { retryable: false });
    }
    const answer = await this.#call("hand a process over", () =>
      this.#ns.if(key, "Mod", "==", current.modRevision).then(this.#ns.put(key).value(JSON.stringify(ownerRecord(to, process)))).commit());
    if (!answer.succeeded) {
      throw new FerryError("conflict", `The owner of "${process.name}" changed in the cluster store during hand-off ${handoffId}`, { retryable: false });
    }
  }

  async forget(name: string): Promise<void> {
    const current = await this.#owner(name);
    if (!current || current.record.node !== this.#node) return;
    await this.#call("forget a process", () =>
      this.#ns.if(keys.owner(name), "Mod", "==", current.modRevision).then(this.#ns.delete().key(keys.owner(name)), this.#ns.delete().key(keys.checkpoint(name))).commit());
  }

  async ownedBy(node: string): Promise<AdoptableProcess[]> {
    const owners = await this.#owners();
    const out: AdoptableProcess[] = [];
    for (const [name, { record }] of owners) {
      if (record.node !== node) continue;
      const checkpoint = await this.#checkpointRecord(name);
      const status = checkpoint?.generation === record.generation ? checkpoint.status : "owned";
      out.push({
        owned: {
          name,
          module: record.module,
          args: record.args,
          generation: record.generation,
          migrations: record.migrations,
          lastDowntimeMs: null,
          status,
          ...(record.memoryMb ? { memoryMb: record.memoryMb } : {}),
        },
        checkpointGeneration: checkpoint?.generation,
        fencedBy: undefined,
      });
    }
    return out;
  }

  async fence(gone: string, process: OwnedProcess, adopter: string): Promise<Fence | null> {
    const current = await this.#owner(process.name);
    const fence: Fence = { name: process.name, generation: process.generation, to: adopter, handoffId: `adopt-${process.generation + 1}` };
    if (!current) return null;
    if (current.record.node === adopter && current.record.generation === process.generation + 1) return fence; // ours already
    if (current.record.node !== gone || current.record.generation !== process.generation) return null;
    const next = ownerRecord(adopter, { ...process, generation: process.generation + 1, migrations: process.migrations + 1 });
    // Only while the gone node's lease is still gone: a node that came back keeps what it owns.
    const answer = await this.#call("fence a process", () =>
      this.#ns.if(keys.owner(process.name), "Mod", "==", current.modRevision).and(keys.node(gone), "Create", "==", 0).then(this.#ns.put(keys.owner(process.name)).value(JSON.stringify(next))).commit());
    return answer.succeeded ? fence : null;
  }

  // ------------------------------------------------------------------ checkpoints

  async #checkpointRecord(name: string): Promise<CheckpointRecord | undefined> {
    const text = await this.#call("read a checkpoint", () => this.#ns.get(keys.checkpoint(name)).string());
    return text === null ? undefined : parse<CheckpointRecord>(Buffer.from(text));
  }

  /**
   * One process's replications run one after the other, in the order its checkpoints were taken:
   * a large one pushed to a peer may take longer than the next checkpoint, and must not then
   * overwrite the newer record. One taken before the last replicated one (same generation) is skipped.
   */
  replicate(checkpoint: ReplicatedCheckpoint): Promise<void> {
    const before = this.#replicating.get(checkpoint.name);
    const mine = (before ?? Promise.resolve()).catch(() => {}).then(async () => {
      const last = this.#replicated.get(checkpoint.name);
      if (last && last.generation === checkpoint.generation && last.at > checkpoint.at) return;
      await this.#replicateNow(checkpoint);
      this.#replicated.set(checkpoint.name, { generation: checkpoint.generation, at: checkpoint.at });
    });
    this.#replicating.set(checkpoint.name, mine);
    const forget = () => {
      if (this.#replicating.get(checkpoint.name) === mine) this.#replicating.delete(checkpoint.name);
    };
    mine.then(forget, forget);
    return mine;
  }

  async #replicateNow(checkpoint: ReplicatedCheckpoint): Promise<void> {
    const record: CheckpointRecord = { node: this.#node, generation: checkpoint.generation, at: checkpoint.at, status: checkpoint.status };
    if (checkpoint.bytes.byteLength <= INLINE_CHECKPOINT_BYTES) {
      record.data = Buffer.from(checkpoint.bytes.buffer, checkpoint.bytes.byteOffset, checkpoint.bytes.byteLength).toString("base64");
    } else {
      const buddy = this.#replicas?.candidates().find((n) => n !== this.#node);
      if (!buddy) throw new FerryError("unavailable", `No peer can hold a replica of the checkpoint of "${checkpoint.name}"`);
      await this.#replicas!.push(buddy, checkpoint);
      record.replica = buddy;
    }
    // Only the owner's own checkpoints: a stale node must not overwrite the new owner's.
    const owner = await this.#owner(checkpoint.name);
    if (owner?.record.node !== this.#node || owner.record.generation !== checkpoint.generation) return;
    await this.#call("replicate a checkpoint", () =>
      this.#ns.if(keys.owner(checkpoint.name), "Mod", "==", owner.modRevision).then(this.#ns.put(keys.checkpoint(checkpoint.name)).value(JSON.stringify(record))).commit());
  }

  async adoptableCheckpoint(_gone: string, name: string, generation: number): Promise<Uint8Array | undefined> {
    const record = await this.#checkpointRecord(name);
    if (!record || record.generation !== generation) return undefined;
    let bytes: Uint8Array | undefined;
    const where = record.data ? `the cluster store (key ${keys.checkpoint(name)})` : `node "${record.replica}"`;
    if (record.data) bytes = new Uint8Array(Buffer.from(record.data, "base64"));
    else if (record.replica && this.#replicas) bytes = await this.#replicas.fetch(record.replica, name, generation);
    if (!bytes) throw new FerryError("checkpoint_missing", `The checkpoint of "${name}" at generation ${generation} is not held by ${where} any more`);
    const problem = envelopeProblem(bytes);
    if (problem) throw new FerryError("snapshot_corrupt", `The checkpoint of "${name}" held by ${where} is corrupt: ${problem}`);
    return bytes;
  }

  // ------------------------------------------------------------------ config

  async #currentConfig(): Promise<ConfigRevision | undefined> {
    const answer = await this.#call("read the config", () => this.#ns.get(keys.config).exec());
    const kv = answer.kvs[0];
    const value = kv ? parse<{ text: string; modules?: Record<string, string> }>(kv.value) : undefined;
    return kv && value ? { text: value.text, revision: String(kv.mod_revision), modules: value.modules ?? {} } : undefined;
  }

  async #publish(text: string, modules: Record<string, string>, basedOn: string | undefined, publisher: string): Promise<{ revision: string }> {
    const value = JSON.stringify({ text, modules, publisher, at: Date.now() });
    const answer = await this.#call("publish the config", () =>
      (basedOn === undefined ? this.#ns.if(keys.config, "Create", "==", 0) : this.#ns.if(keys.config, "Mod", "==", basedOn)).then(this.#ns.put(keys.config).value(value)).commit());
    if (answer.succeeded) {
      const put = answer.responses[0]?.response_put;
      return { revision: String(put?.header?.revision ?? "") };
    }
    const current = await this.#call("read the config", () => this.#ns.get(keys.config).exec());
    const kv = current.kvs[0];
    const by = kv ? parse<{ publisher?: string }>(kv.value)?.publisher : undefined;
    throw new FerryError("conflict", `cluster.yaml changed at revision ${kv ? String(kv.mod_revision) : "?"}${by ? ` (published by node "${by}")` : ""} since the revision ${basedOn ?? "none"} this edit was based on; the edit was not applied`, {
      hint: "the file now holds the newer revision; make the edit again",
      retryable: false,
    });
  }

  #watchConfig(onRevision: (revision: ConfigRevision) => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    void this.#ns.watch().key(keys.config).create().then((watcher) => {
      watcher.on("put", (kv) => {
        const value = parse<{ text: string; modules?: Record<string, string> }>(kv.value);
        if (value) onRevision({ text: value.text, revision: String(kv.mod_revision), modules: value.modules ?? {} });
      });
      // A disconnected watcher reconnects by itself; errors are reported through renewals.
      watcher.on("error", () => {});
      signal.addEventListener("abort", () => void watcher.cancel().catch(() => {}), { once: true });
    }, () => {
      this.#reachable = false;
    });
  }

  async close(): Promise<void> {
    // The lease is left to expire, not revoked: a node that stops gracefully to restart must not
    // have its processes adopted meanwhile (it comes back within the lease and renews).
    this.#client.close();
  }
}

function ownerRecord(node: string, p: Pick<OwnedProcess, "generation" | "module" | "args" | "migrations" | "memoryMb">): OwnerRecord {
  return { node, generation: p.generation, module: p.module, args: p.args, migrations: p.migrations, ...(p.memoryMb ? { memoryMb: p.memoryMb } : {}) };
}

function parse<T>(value: Buffer | Uint8Array | null | undefined): T | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(Buffer.from(value).toString("utf8")) as T;
  } catch {
    return undefined;
  }
}
