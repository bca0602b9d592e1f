/**
 * Waiting for an observed state, with a way out: a check that learns the state can never come
 * (the process it waits for has exited) throws {@link GiveUp} and the wait fails at once instead
 * of running out its timeout.
 *
 * @example
 * ```ts
 * await waitFor(() => {
 *   if (!child.running) throw new GiveUp(`etcd exited (${child.exit})`);
 *   return answers();
 * }, "etcd to answer", 30_000);
 * ```
 * @module
 */

/** Thrown by a check: stop waiting, this state will not come. */
export class GiveUp extends Error {
  override name = "GiveUp";
}

/**
 * Polls `check` every `everyMs` until it returns a truthy value, which it resolves with. Errors
 * thrown by `check` count as "not yet" (their message is kept for the timeout), except
 * {@link GiveUp}, which rejects at once.
 *
 * @example
 * ```ts
 * const port = await waitFor(() => readPortFile(), "the port file", 10_000);
 * ```
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs: number, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = JSON.stringify(value);
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
