/**
 * Load balancing of processes declared without `node:`: a pluggable policy (receiver-initiated by
 * default) whose moves go through the transactional hand-off.
 * @module
 */
export { Balancer, homeOf } from "./balancer.ts";
export type { BalancerPolicy, BalancerView, Move, NodeLoad } from "./policy.ts";
export { ReceiverInitiated } from "./receiver-initiated.ts";
export { grantProcess, hasUnpinned, movable, nodeLoad, placedBy, wantProcess } from "./placement.ts";
export { adopt, checkFences } from "./adoption.ts";
