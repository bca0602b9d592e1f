/**
 * The one runner of the hand-off state machines: it asks a machine for the next effect,
 * performs it with that effect's declared timeout (and retries, where declared), turns the
 * outcome into the machine's next input, and repeats until the machine reaches a terminal phase.
 * Decisions stay in the pure machines (`source.ts`, `destination.ts`); I/O stays in performers.
 *
 * @example
 * ```ts
 * const end = await runMachine(machine, performer, startPull());
 * ```
 * @module
 */
import { FerryError, isRetryable } from "../errors.ts";
import { delay } from "../manager.ts";

/** How long an effect may take, and whether a retryable failure is tried again. */
export interface EffectPolicy {
  timeoutMs: number;
  /** @default 0 */
  retries?: number;
  /** @default 100 */
  retryDelayMs?: number;
}

export interface Step<P, E> {
  phase: P;
  effect?: E;
  note?: string;
}

export interface Machine<P, I, E> {
  next(phase: P, input: I): Step<P, E>;
  isTerminal(phase: P): boolean;
}

export interface Performer<I, E extends { type: string }> {
  /**
   * Performs `effect` and returns the input that reports its success. The effect's own component
   * bounds it (and cleans up); the runner's timeout is a backstop that stops waiting for it.
   */
  perform(effect: E): Promise<I>;
  /** The input that reports `effect`'s failure with `error`. */
  failed(effect: E, error: unknown): I;
  policy(effect: E): EffectPolicy;
  /** Called with each step taken (for `ps` notes and tracing). */
  onStep?(step: Step<unknown, E>): void;
}

/**
 * Runs `machine` from `step` until a terminal phase, or a phase that names no effect (it waits
 * for a message from outside, such as the holder's `commit`), and returns that phase. Never
 * throws for an effect's failure (the machine decides what a failure means).
 *
 * @example
 * ```ts
 * const phase = await runMachine({ next, isTerminal }, performer, { phase: start, effect });
 * ```
 */
export async function runMachine<P, I, E extends { type: string }>(machine: Machine<P, I, E>, performer: Performer<I, E>, first: Step<P, E>): Promise<P> {
  let step = first;
  performer.onStep?.(step);
  while (!machine.isTerminal(step.phase) && step.effect) {
    const effect = step.effect;
    const input = await performWithPolicy(performer, effect);
    step = machine.next(step.phase, input);
    performer.onStep?.(step);
  }
  return step.phase;
}

async function performWithPolicy<I, E extends { type: string }>(performer: Performer<I, E>, effect: E): Promise<I> {
  const policy = performer.policy(effect);
  const attempts = 1 + (policy.retries ?? 0);
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FerryError("timeout", `Hand-off step "${effect.type}" did not finish within ${policy.timeoutMs} ms`)), policy.timeoutMs);
    });
    try {
      return await Promise.race([performer.perform(effect), expired]);
    } catch (error) {
      last = error;
      if (attempt === attempts || !isRetryable(error)) break;
      await delay(policy.retryDelayMs ?? 100);
    } finally {
      clearTimeout(timer);
    }
  }
  return performer.failed(effect, last);
}
