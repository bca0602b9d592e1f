/**
 * The answers of a process's recent calls, kept by the caller's call id, so that a call retried
 * after its answer was lost (a connection that broke after the method ran, a node killed just
 * after, a hand-off in between) is answered again instead of run twice. They belong to the
 * process's state: they travel in its checkpoints and hand-offs as one reserved field
 * ({@link CALLS_FIELD}), so a retry finds them wherever the process runs next, and exactly when
 * the state it finds holds the call's effect. A node that restores a checkpoint taken before the
 * call ran finds neither the effect nor the answer, and runs the call: once, as far as the state
 * can tell.
 *
 * An answer is kept until the caller's deadline has passed (plus {@link KEEP_SLACK_MS} for the
 * clocks of two nodes), for at most {@link MAX_KEPT_CALLS} calls; answers over
 * {@link MAX_KEPT_ANSWER_BYTES} are not kept, nor more than {@link MAX_KEPT_BYTES} in all (oldest
 * first): such a call, retried, is not run again but fails with `answer_not_kept`.
 *
 * @example
 * ```ts
 * const calls = new RecentCalls();
 * const answer = await calls.once("3f1c…", 30_000, async () => ({ answer: encodeValue(42) }));
 * const field = calls.toField(Date.now()); // into the snapshot's fields, when not undefined
 * ```
 * @module
 */
import { FerryError, toErrorCode } from "../errors.ts";

/** The fields key a snapshot keeps the recent calls under; never an instance's own field. */
export const CALLS_FIELD = "#ferry.calls";
/** How many answered calls a process keeps at most (the oldest go first). */
export const MAX_KEPT_CALLS = 1000;
/** An answer larger than this is not kept: a retry of its call fails with `answer_not_kept`. */
export const MAX_KEPT_ANSWER_BYTES = 64 * 1024;
/** All kept answers of one process together: past this, the oldest answers are dropped. */
export const MAX_KEPT_BYTES = 1024 * 1024;
/** Kept this much past the caller's deadline, for a retry timed by another node's clock. */
export const KEEP_SLACK_MS = 30_000;

/** How a call that ran ended: its encoded answer, or the error its method's failure gave. */
export type CallOutcome = { answer: Uint8Array } | { failed: FerryError };

/** One kept call as stored in a snapshot: id, expiry (ms since the epoch), answer, failure. */
type StoredCall = [id: string, expiresAt: number, answer: Uint8Array | null, failure: [code: string, message: string] | null];

interface Kept {
  expiresAt: number;
  /** Null when the method failed, or its answer was not kept. */
  answer: Uint8Array | null;
  failure: [code: string, message: string] | null;
}

/** Answers of recent calls by id, and the calls still running, for one process. */
export class RecentCalls {
  readonly #kept = new Map<string, Kept>();
  readonly #running = new Map<string, Promise<Uint8Array>>();
  #bytes = 0;

  /**
   * The recent calls a snapshot's {@link CALLS_FIELD} holds; malformed entries are skipped (a
   * snapshot's checksum was verified: they can only come from a newer format).
   *
   * @example
   * ```ts
   * const calls = RecentCalls.from(state.fields[CALLS_FIELD]);
   * ```
   */
  static from(field: unknown, now = Date.now()): RecentCalls {
    const calls = new RecentCalls();
    if (!Array.isArray(field)) return calls;
    for (const entry of field as unknown[]) {
      if (!Array.isArray(entry) || entry.length < 4) continue;
      const [id, expiresAt, answer, failure] = entry as unknown[];
      if (typeof id !== "string" || typeof expiresAt !== "number" || expiresAt <= now) continue;
      const kept: Kept = {
        expiresAt,
        answer: answer instanceof Uint8Array ? answer : null,
        failure: Array.isArray(failure) && typeof failure[0] === "string" && typeof failure[1] === "string" ? [failure[0], failure[1]] : null,
      };
      calls.#keep(id, kept);
    }
    return calls;
  }

  /** Calls kept (answered or not). */
  get size(): number {
    return this.#kept.size;
  }

  /**
   * Runs `run` for call `id` unless that call already ran or is running: then its kept outcome
   * is given again (or the running call awaited). `run` resolves with how a call that ran ended;
   * when it throws, the method did not run (unknown method, process gone) and nothing is kept.
   * Without an id every call runs.
   *
   * @example
   * ```ts
   * const bytes = await calls.once(id, timeoutMs, () => invoke(method, args));
   * ```
   */
  once(id: string | undefined, keepMs: number, run: () => Promise<CallOutcome>): Promise<Uint8Array> {
    if (id === undefined) return run().then(settle);
    const kept = this.#kept.get(id);
    if (kept) return Promise.resolve().then(() => replay(kept));
    const running = this.#running.get(id);
    if (running) return running.then((answer) => answer.slice());
    const attempt = run().then((outcome) => {
      const expiresAt = Date.now() + keepMs + KEEP_SLACK_MS;
      if ("failed" in outcome) {
        this.#keep(id, { expiresAt, answer: null, failure: [outcome.failed.code, outcome.failed.message] });
      } else {
        // A copy: the answer itself leaves the thread (its buffer is transferred).
        const answer = outcome.answer.byteLength <= MAX_KEPT_ANSWER_BYTES ? outcome.answer.slice() : null;
        this.#keep(id, { expiresAt, answer, failure: null });
      }
      return settle(outcome);
    });
    this.#running.set(id, attempt);
    const forget = () => this.#running.delete(id);
    attempt.then(forget, forget);
    return attempt;
  }

  /**
   * The kept calls as a snapshot field, expired ones dropped; undefined when none is kept, so a
   * process never called by id carries nothing.
   *
   * @example
   * ```ts
   * const field = calls.toField(Date.now());
   * if (field) fields[CALLS_FIELD] = field;
   * ```
   */
  toField(now: number): StoredCall[] | undefined {
    for (const [id, kept] of this.#kept) if (kept.expiresAt <= now) this.#forget(id, kept);
    if (this.#kept.size === 0) return undefined;
    return [...this.#kept].map(([id, kept]) => [id, kept.expiresAt, kept.answer, kept.failure]);
  }

  #keep(id: string, kept: Kept): void {
    const previous = this.#kept.get(id);
    if (previous) this.#forget(id, previous);
    this.#kept.set(id, kept);
    this.#bytes += kept.answer?.byteLength ?? 0;
    const now = Date.now();
    for (const [oldId, old] of this.#kept) {
      if (this.#kept.size <= MAX_KEPT_CALLS && this.#bytes <= MAX_KEPT_BYTES && old.expiresAt > now) break;
      if (old === kept) break;
      if (this.#kept.size > MAX_KEPT_CALLS || old.expiresAt <= now) this.#forget(oldId, old);
      else if (old.answer) {
        this.#bytes -= old.answer.byteLength;
        old.answer = null;
      }
    }
  }

  #forget(id: string, kept: Kept): void {
    this.#kept.delete(id);
    this.#bytes -= kept.answer?.byteLength ?? 0;
  }
}

function settle(outcome: CallOutcome): Uint8Array {
  if ("failed" in outcome) throw outcome.failed;
  return outcome.answer;
}

function replay(kept: Kept): Uint8Array {
  if (kept.failure) throw new FerryError(toErrorCode(kept.failure[0]), kept.failure[1]);
  if (kept.answer) return kept.answer.slice();
  throw new FerryError("answer_not_kept", "This call already ran; its answer was too large to keep for a retry, so it was not run again", {
    hint: `answers up to ${MAX_KEPT_ANSWER_BYTES / 1024} KiB (${MAX_KEPT_BYTES / 1024 / 1024} MiB per process in all) are kept; call a method that reads the result`,
  });
}
