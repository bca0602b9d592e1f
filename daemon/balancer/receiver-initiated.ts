/**
 * The default policy, receiver-initiated as in the classic design: a node whose load is below the
 * cluster's mean asks the most loaded node for one process, if the difference is at least
 * `minDifference` (hysteresis: a move never makes the receiver the busier one, so nothing
 * ping-pongs). The busy node picks which process goes (its longest-staying movable one), and
 * gives it only if the difference still holds against its load at that moment: two nodes that
 * asked at once, each seeing the same spare load, do not both get a process when that would leave
 * the giver the less loaded.
 *
 * @example
 * ```ts
 * new ReceiverInitiated().propose(view); // [{ from: "alpha", to: "beta", reason: "…" }] or []
 * ```
 * @module
 */
import type { BalancerPolicy, BalancerView, GrantRequest, Move } from "./policy.ts";

export class ReceiverInitiated implements BalancerPolicy {
  propose(view: BalancerView): Move[] {
    const self = view.nodes.find((n) => n.node === view.self);
    if (!self || view.nodes.length < 2) return [];
    const mean = view.nodes.reduce((sum, n) => sum + n.load, 0) / view.nodes.length;
    if (self.load >= mean) return [];
    let busiest = self;
    for (const n of view.nodes) if (n.movable > 0 && n.load > busiest.load) busiest = n;
    if (busiest === self || busiest.load - self.load < view.settings.minDifference) return [];
    return [{
      from: busiest.node,
      to: self.node,
      reason: `receiver-initiated: ${self.node} (load ${self.load.toFixed(2)}) is under the mean ${mean.toFixed(2)}; ${busiest.node} has ${busiest.load.toFixed(2)}`,
    }];
  }

  grants(request: GrantRequest, view: BalancerView): boolean {
    const self = view.nodes.find((n) => n.node === view.self);
    return self !== undefined && self.load - request.load >= view.settings.minDifference;
  }
}
