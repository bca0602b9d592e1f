/**
 * The node state's part in pre-copying a process it holds (docs/protocol.md, "Pre-copy"): each
 * round asks the executor for the delta of the running process's state, checked like a `begin`
 * (placement, generation, not in another hand-off) but without suspending anything; the end of
 * a pre-copy is recorded in `events` (and a strict rollback in `ps`). The final delta is taken by
 * the ordinary suspend (`outgoing.ts`), whose checkpoint is then captured whole off the critical
 * path.
 *
 * @example
 * ```ts
 * const { parts, round } = await node.precopy.round(request);
 * ```
 * @module
 */
import { FerryError } from "../errors.ts";
import { faults } from "../faults.ts";
import type { PrecopyRound, RequestOf } from "../../schemas/api.schema.ts";
import { checkBegin } from "../handoff/source.ts";
import type { NodeParts } from "./parts.ts";
import type { Outgoing } from "./outgoing.ts";

/**
 * The holder's pre-copy rounds of the processes it holds.
 *
 * @example
 * ```ts
 * const precopy = new PrecopyOutgoing(parts, outgoing, () => node.reloadConfig());
 * ```
 */
export class PrecopyOutgoing {
  readonly #parts: NodeParts;
  readonly #outgoing: Pick<Outgoing, "facts">;
  readonly #reload: () => Promise<void>;

  constructor(parts: NodeParts, outgoing: Pick<Outgoing, "facts">, reload: () => Promise<void>) {
    this.#parts = parts;
    this.#outgoing = outgoing;
    this.#reload = reload;
  }

  /**
   * One round: the delta of `req.name`'s state since round `req.after`, captured between two
   * turns while it keeps running. Refused for the same reasons as a `begin`.
   */
  async round(req: RequestOf<"handoff.precopy">): Promise<{ parts: Uint8Array[]; round: PrecopyRound }> {
    if (faults.delayPrecopyRoundMs && req.after === 0) await new Promise((r) => setTimeout(r, faults.delayPrecopyRoundMs));
    const request = { to: req.to, generation: req.generation, handoffId: req.handoffId };
    let step = checkBegin(this.#outgoing.facts(req.name, req.to, false), request);
    if (step.effect?.type === "reload-config") {
      await this.#reload();
      step = checkBegin(this.#outgoing.facts(req.name, req.to, true), request);
    }
    if (step.phase.phase === "refused") throw step.phase.error;
    const p = this.#parts.table.get(req.name)!;
    if (p.state !== "running") throw new FerryError("conflict", `Process "${req.name}" is ${p.state}: nothing to pre-copy`, { retryable: false });
    this.#parts.trace.mark("executor", "pre-copy round", req.name);
    const { parts, ...round } = await this.#parts.pool.request({ type: "delta", name: req.name, session: req.handoffId, after: req.after, budgetBytes: req.budgetBytes });
    return { parts, round: { ...round, captureMs: Math.round(round.captureMs * 1000) / 1000 } };
  }

  /** The requester ended its pre-copy: going on to the switchover, or given up (and why). */
  end(req: RequestOf<"handoff.precopy.end">): void {
    const p = this.#parts.table.get(req.name);
    const rounds = req.rounds ?? 0;
    const expected = req.expectedMs !== undefined ? `; expected downtime ${Math.round(req.expectedMs)} ms` : "";
    switch (req.outcome) {
      case "switchover":
        this.#parts.events.emit({
          type: "precopied",
          process: req.name,
          to: req.to,
          ...(req.expectedMs !== undefined ? { ms: Math.round(req.expectedMs * 1000) / 1000 } : {}),
          message: `pre-copied in ${rounds} rounds${expected}${req.reason ? `: ${req.reason}` : ""}`,
        });
        if (req.reason) this.#parts.log("warn", `[${req.name}] hand-off to ${req.to} goes ahead: ${req.reason}`);
        return;
      case "rolled-back": {
        const reason = req.reason ?? "pre-copy did not converge";
        // Nothing was suspended: the process ran throughout; `ps` says why it did not move.
        if (p && p.state === "running" && !p.outgoing) p.error = `Hand-off to "${req.to}" rolled back: ${reason}`;
        this.#parts.events.emit({ type: "rolled-back", process: req.name, to: req.to, reason, ...(p ? { generation: p.generation } : {}) });
        this.#parts.log("warn", `[${req.name}] hand-off to ${req.to} rolled back: ${reason}`);
        return;
      }
      case "abandoned":
        this.#parts.log("info", `[${req.name}] pre-copy to ${req.to} abandoned${req.reason ? `: ${req.reason}` : ""}; the hand-off moves the whole state`);
        return;
    }
  }
}
