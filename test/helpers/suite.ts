/**
 * uvu's `suite`, with one difference: when a `before` hook throws, the error is printed. uvu
 * then counts every test of the suite as not passed but says nothing of why (its runner returns
 * from a `finally`, which drops the error), so a set-up that failed in CI left no trace.
 * @module
 */
import { suite as uvuSuite, type Callback, type Test } from "uvu";

/**
 * A named uvu suite whose failing `before` hooks report their error on stderr.
 *
 * @example
 * ```ts
 * const api = suite("api");
 * api.before(async () => { cluster = await TestCluster.create(...); });
 * ```
 */
export function suite<T = Record<string, unknown>>(name: string, context?: T): Test<T> {
  const test = uvuSuite<T>(name, context);
  const register = test.before;
  const before = (hook: Callback<T>) =>
    register(async (state) => {
      try {
        await hook(state);
      } catch (error) {
        console.error(`\n✘ ${name}: its "before" hook failed, so none of its tests ran:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        throw error;
      }
    });
  test.before = Object.assign(before, { each: register.each });
  return test;
}
