/**
 * Load balancing of processes declared without `node:`: a pluggable policy (receiver-initiated by
 * default) whose moves go through the transactional hand-off, and adoption of a gone node's
 * processes.
 * @module
 */
export { Balancer } from "./balancer.ts";
export { homeOf } from "./home.ts";
export type { BalancerPolicy, BalancerView, Move, NodeLoad } from "./policy.ts";
export { ReceiverInitiated } from "./receiver-initiated.ts";
