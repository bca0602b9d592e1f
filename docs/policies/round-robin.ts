/**
 * An example balancer policy, sender-initiated round robin: each node that holds more processes
 * than its fair share (the total divided by the number of nodes, rounded up) offers its
 * longest-staying movable process to the next node, in name order, that holds fewer than its
 * share. Counts only processes, not CPU.
 *
 * Use it with:
 *   cluster:
 *     balancer: { policy: docs/policies/round-robin.ts }
 *
 * A policy module default-exports a class (or object) with `propose(view)`; it may import only
 * types from Ferry, so it also works as a plain file.
 */
interface NodeLoad { node: string; processes: number; load: number; movable: number }
interface View { self: string; nodes: NodeLoad[]; candidates: Array<{ name: string; stayedMs: number }> }
interface Move { from: string; to: string; process?: string; reason: string }

export default class RoundRobin {
  propose(view: View): Move[] {
    const nodes = [...view.nodes].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    const total = nodes.reduce((sum, n) => sum + n.processes, 0);
    const share = Math.ceil(total / nodes.length);
    const self = nodes.find((n) => n.node === view.self);
    const candidate = view.candidates[0];
    if (!self || !candidate || self.processes <= share) return [];
    const start = nodes.indexOf(self);
    for (let i = 1; i < nodes.length; i++) {
      const next = nodes[(start + i) % nodes.length]!;
      if (next.processes < share) {
        return [{ from: self.node, to: next.node, process: candidate.name, reason: `round-robin: ${self.node} holds ${self.processes} > share ${share}; ${next.node} holds ${next.processes}` }];
      }
    }
    return [];
  }
}
