/**
 * A process's durable identity as journal records carry it.
 * @module
 */
import type { OwnedProcess } from "../store/mod.ts";
import type { ProcessIdentity } from "./process.ts";

/**
 * The identity part of a journal record.
 *
 * @example
 * ```ts
 * identityOf(journal.state.owned.get("counter")!).generation; // 2
 * ```
 */
export function identityOf(owned: Readonly<OwnedProcess>): ProcessIdentity {
  return {
    name: owned.name,
    module: owned.module,
    args: owned.args,
    generation: owned.generation,
    migrations: owned.migrations,
    lastDowntimeMs: owned.lastDowntimeMs,
    ...(owned.memoryMb ? { memoryMb: owned.memoryMb } : {}),
  };
}
