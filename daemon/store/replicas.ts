/**
 * Checkpoints this node keeps for other nodes (multi-machine mode): a large checkpoint of a peer's
 * process lives here as well, so losing the peer's machine together with its disk loses no state
 * beyond that checkpoint. One file per process (the newest generation and time win), written
 * atomically, in `<node's data dir>/replicas/`.
 *
 * @example
 * ```ts
 * const replicas = new ReplicaStore("/srv/.ferry/beta/replicas");
 * await replicas.save({ name: "big", generation: 3, at: Date.now(), status: "owned", bytes, from: "alpha" });
 * replicas.read("big", 3);
 * ```
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "../errors.ts";
import { envelopeProblem } from "../snapshot/codec.ts";
import type { ReplicatedCheckpoint } from "./cluster-store.ts";
import { checkpointFileName } from "./checkpoints.ts";
import { syncDir } from "./journal.ts";

export class ReplicaStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** Keeps `checkpoint` (verified) in place of any older one of the same process. */
  async save(checkpoint: ReplicatedCheckpoint & { from: string }): Promise<void> {
    const problem = envelopeProblem(checkpoint.bytes);
    if (problem) throw new FerryError("snapshot_corrupt", `The replica of "${checkpoint.name}" sent by node "${checkpoint.from}" is corrupt: ${problem}`);
    const file = join(this.#dir, checkpointFileName(checkpoint.name, checkpoint.generation));
    const tmp = `${file}.tmp`;
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(checkpoint.bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    syncDir(this.#dir);
    for (const other of readdirSync(this.#dir)) {
      if (other.startsWith(`${checkpoint.name}@`) && other !== checkpointFileName(checkpoint.name, checkpoint.generation) && other.endsWith(".snap")) {
        const generation = Number(other.slice(checkpoint.name.length + 1, -".snap".length));
        if (generation < checkpoint.generation) rmSync(join(this.#dir, other), { force: true });
      }
    }
  }

  /** The replica of `name` at `generation`, or undefined. */
  read(name: string, generation: number): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(join(this.#dir, checkpointFileName(name, generation))));
    } catch {
      return undefined;
    }
  }
}

/** The metadata header of a replica upload. */
export const REPLICA_HEADER = "ferry-checkpoint";
