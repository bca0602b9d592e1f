/**
 * Rendezvous hashing: every node that sees the same node list picks the same home for a name,
 * so exactly one node starts (or adopts) a process that cluster.yaml places nowhere.
 * @module
 */

/**
 * The home of `name` among `nodes`.
 *
 * @example
 * ```ts
 * homeOf("b3", ["alpha", "beta", "gamma"]); // the same answer on every node
 * ```
 */
export function homeOf(name: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const node of nodes) {
    let h = 2166136261;
    for (const ch of `${node}\u0000${name}`) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
    if (h > bestScore || (h === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = h;
    }
  }
  return best;
}
