/**
 * Asking the peers who holds a process. Questions asked in the same turn travel together (one
 * `locate.batch` per peer), so a thousand processes appearing in one edit cost a few requests.
 *
 * @example
 * ```ts
 * const locator = new Locator(() => node.peers());
 * const found = await locator.find("counter"); // { holder: { node: "alpha", generation: 2 }, unreachable: [], ... }
 * ```
 * @module
 */
import type { ApiClient } from "../api/client.ts";
import type { LocateResponse } from "../../schemas/api.schema.ts";

/** What the peers said about one process. */
export interface Found {
  holder?: { node: string; generation: number; stateBytes?: number };
  /** Peers that did not answer: they might hold it. */
  unreachable: string[];
  /** A peer holds an incoming hand-off of it, not yet settled. */
  inDoubt: boolean;
  /** Peers about to start it fresh. */
  creating: string[];
}

type Answers = Map<ApiClient, Record<string, LocateResponse> | { error: unknown }>;

export class Locator {
  readonly #peers: () => ApiClient[];
  #batch: { names: Set<string>; answers: Promise<Answers> } | undefined;

  constructor(peers: () => ApiClient[]) {
    this.#peers = peers;
  }

  /** Asks every peer about `name` (batched with the other questions of this turn). */
  async find(name: string): Promise<Found> {
    let batch = this.#batch;
    if (!batch) {
      const names = new Set<string>();
      const answers = new Promise<Answers>((resolve) => {
        queueMicrotask(() => {
          this.#batch = undefined;
          const byPeer: Answers = new Map();
          void Promise.all(this.#peers().map(async (peer) => {
            try {
              byPeer.set(peer, await peer.post("locate.batch", { names: [...names] }, { timeoutMs: 3000 }));
            } catch (error) {
              byPeer.set(peer, { error });
            }
          })).then(() => resolve(byPeer));
        });
      });
      batch = this.#batch = { names, answers };
    }
    batch.names.add(name);
    const byPeer = await batch.answers;
    const found: Found = { unreachable: [], inDoubt: false, creating: [] };
    for (const [peer, result] of byPeer) {
      if ("error" in result && !(name in result)) {
        found.unreachable.push(peer.name);
        continue;
      }
      const answer = (result as Record<string, LocateResponse>)[name] ?? { holds: false };
      if (answer.holds) {
        found.holder = { node: peer.name, generation: answer.generation ?? 0, ...(answer.stateBytes !== undefined ? { stateBytes: answer.stateBytes } : {}) };
        return found;
      }
      if (answer.inDoubt) found.inDoubt = true;
      if (answer.creating) found.creating.push(peer.name);
    }
    return found;
  }
}
