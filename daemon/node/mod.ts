/**
 * The node state: the one owner of a node's processes, their lifecycle, its journal,
 * checkpoints and executors.
 * @module
 */
export { NodeState } from "./state.ts";
export type { NodeStateOptions } from "./state.ts";
export type { ProcessView, ProcessIdentity } from "./process.ts";
export type { Arrival, ArrivalStats } from "./incoming.ts";
export { canMove, isGone, shownState } from "./lifecycle.ts";
export type { ProcessState } from "./lifecycle.ts";
export { placedBy } from "./views.ts";
export { identityOf } from "./identity.ts";
