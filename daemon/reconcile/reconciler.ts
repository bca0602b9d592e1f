/**
 * The reconciler contract, after controller-runtime's `pkg/reconcile`: `reconcile(name)` reads
 * what cluster.yaml wants and what the node holds, takes at most one step towards the former,
 * and says what should happen next with an explicit {@link ReconcileResult}. It is
 * level-triggered: watch events only decide *when* it runs, never *what* it does.
 *
 * @example
 * ```ts
 * const reconciler: Reconciler = { async reconcile(name) { return done(); } };
 * ```
 * @module
 */
import type { FerryError } from "../errors.ts";

/** What the work queue does with a name after a reconcile. */
export type ReconcileResult =
  /** Desired and actual agree (or only an outside event can change that). */
  | { kind: "done" }
  /** Look again after a delay (something is in progress elsewhere). */
  | { kind: "requeue"; afterMs: number }
  /** Look again at once (a step was taken and another may follow). */
  | { kind: "requeue-now" }
  /** Cannot progress by retrying; reported, not requeued (a later edit or resync brings it back). */
  | { kind: "terminal"; error: FerryError };

export interface Reconciler {
  reconcile(name: string): Promise<ReconcileResult>;
}

/** @example `return done();` */
export function done(): ReconcileResult {
  return { kind: "done" };
}

/** @example `return requeueAfter(500);` */
export function requeueAfter(ms: number): ReconcileResult {
  return ms <= 0 ? { kind: "requeue-now" } : { kind: "requeue", afterMs: ms };
}

/** @example `return requeueNow();` */
export function requeueNow(): ReconcileResult {
  return { kind: "requeue-now" };
}

/** @example `return terminal(new FerryError("module_invalid", "…"));` */
export function terminal(error: FerryError): ReconcileResult {
  return { kind: "terminal", error };
}
