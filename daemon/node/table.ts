/**
 * The node's process table: the processes it holds and the ones it is acquiring. A plain keyed
 * store with no I/O; the node state (this folder) is its only writer.
 *
 * @example
 * ```ts
 * const table = new ProcessTable();
 * table.add(new ManagedProcess(identity));
 * table.acquire("counter").reason = "waiting for beta";
 * ```
 * @module
 */
import { FerryError } from "../errors.ts";
import type { ProcessState } from "./lifecycle.ts";
import { isGone } from "./lifecycle.ts";
import type { ManagedProcess } from "./process.ts";

/** A process this node should hold but does not yet (ps shows it as starting, with the reason). */
export interface Acquiring {
  since: string;
  reason: string | null;
  /** About to start it fresh: peers asking `locate` are told, so two nodes never both do. */
  creating: boolean;
  /** Its snapshot is streaming in. */
  transfer?: { received: number; total: number };
}

export class ProcessTable {
  readonly #records = new Map<string, ManagedProcess>();
  readonly #acquiring = new Map<string, Acquiring>();

  get(name: string): ManagedProcess | undefined {
    return this.#records.get(name);
  }

  has(name: string): boolean {
    return this.#records.has(name);
  }

  get size(): number {
    return this.#records.size;
  }

  values(): IterableIterator<ManagedProcess> {
    return this.#records.values();
  }

  names(): IterableIterator<string> {
    return this.#records.keys();
  }

  /** Records a process this node now hosts (or is about to); it is no longer being acquired. */
  add(process: ManagedProcess): void {
    if (this.#records.has(process.name)) throw new FerryError("conflict", `Process "${process.name}" is already on this node`);
    this.#records.set(process.name, process);
    this.#acquiring.delete(process.name);
  }

  /** Ends a process's stay: moves it to a final state and forgets it (if it is still this record). */
  forget(process: ManagedProcess, final: ProcessState): void {
    if (!isGone(final)) throw new FerryError("internal", `"${final}" is not a final state`);
    process.moveTo(final);
    if (this.#records.get(process.name) === process) this.#records.delete(process.name);
  }

  acquiring(name: string): Acquiring | undefined {
    return this.#acquiring.get(name);
  }

  /** The acquisition record of `name`, created on first use. */
  acquire(name: string): Acquiring {
    let entry = this.#acquiring.get(name);
    if (!entry) this.#acquiring.set(name, (entry = { since: new Date().toISOString(), reason: null, creating: false }));
    return entry;
  }

  stopAcquiring(name: string): void {
    this.#acquiring.delete(name);
  }

  acquisitions(): IterableIterator<[string, Acquiring]> {
    return this.#acquiring.entries();
  }
}
