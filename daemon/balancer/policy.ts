/**
 * The balancer's extension point. A policy sees every node's load and proposes moves; Ferry
 * carries them out with the same transactional hand-off as an edit of cluster.yaml, and only for
 * processes declared without `node:` (pinned ones never move by themselves).
 *
 * A policy module (named by `cluster.balancer.policy`, a path relative to cluster.yaml) default-
 * exports a class with a no-argument constructor, or an object, with `propose(view)`.
 *
 * @example
 * ```ts
 * export default class Lazy implements BalancerPolicy {
 *   propose(view: BalancerView): Move[] { return []; }
 * }
 * ```
 * @module
 */
import type { NodeLoad } from "../../schemas/api.schema.ts";
import type { BalancerSettings } from "../../schemas/cluster.schema.ts";

export type { NodeLoad };

/** What a policy sees, on the node that runs it (every node runs the policy each interval). */
export interface BalancerView {
  /** The node running the policy now. */
  self: string;
  /** Every reachable node's load, this one included. */
  nodes: NodeLoad[];
  /** This node's movable processes (unpinned, stayed at least minStayMs), longest-staying first. */
  candidates: Array<{ name: string; stayedMs: number }>;
  settings: BalancerSettings;
}

/**
 * A proposed move. Only moves involving `self` are carried out: `to === self` asks `from` for a
 * process (`process` may be left to `from` to choose); `from === self` offers `process` to `to`.
 */
export interface Move {
  from: string;
  to: string;
  process?: string;
  reason: string;
}

/** A peer's `balance.request`, as the node it asks sees it. */
export interface GrantRequest {
  /** The node asking for a process. */
  to: string;
  /** Its load when it asked. */
  load: number;
}

export interface BalancerPolicy {
  propose(view: BalancerView): Move[];
  /**
   * Optional, on the node a peer asks for a process: whether to give one now. `view` is this
   * node's, with its own load as it is at this moment (processes granted away no longer count),
   * so that requests which were fair when their askers proposed them, but arrive together, do not
   * hand over more than the policy meant. Without it, every request finds a movable process if
   * there is one.
   */
  grants?(request: GrantRequest, view: BalancerView): boolean;
}

/** Recognises a policy object, so a module's default export can be a class or an instance. */
export function isPolicy(value: unknown): value is BalancerPolicy {
  return typeof value === "object" && value !== null && typeof (value as BalancerPolicy).propose === "function";
}
