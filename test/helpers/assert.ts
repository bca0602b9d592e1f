/**
 * Assertions the tests share.
 * @module
 */
import * as assert from "uvu/assert";
import { type FerryError, isFerryError } from "../../daemon/errors.ts";

/** The FerryError `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
    return error;
  }
  assert.unreachable("the promise resolved");
  throw new Error("unreachable");
}
