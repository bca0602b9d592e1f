import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEFAULT_LIMITS, resolveServeOptions } from "../../../daemon/adapters/limits.ts";
import { isFerryError } from "../../../daemon/errors.ts";

test("resolveServeOptions() fills in the documented defaults of every limit", () => {
  assert.equal(resolveServeOptions({ hostname: "127.0.0.1", port: 7101 }), {
    hostname: "127.0.0.1",
    port: 7101,
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 30_000,
    idleTimeoutMs: 5_000,
    maxConnections: 1024,
  });
});

test("resolveServeOptions() keeps the limits it is given", () => {
  const limits = { headersTimeoutMs: 300, bodyTimeoutMs: 400, idleTimeoutMs: 500, maxConnections: 2 };
  assert.equal(resolveServeOptions({ hostname: "::1", port: 0, ...limits }), { hostname: "::1", port: 0, ...limits });
});

test("resolveServeOptions() refuses a limit that is not a positive whole number, naming it", () => {
  for (const key of Object.keys(DEFAULT_LIMITS)) {
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      try {
        resolveServeOptions({ hostname: "127.0.0.1", port: 0, [key]: value });
        assert.unreachable(`${key} = ${value} was accepted`);
      } catch (error) {
        assert.ok(isFerryError(error), String(error));
        assert.is(error.code, "bad_request");
        assert.ok(error.message.includes(key) && error.message.includes(`"${value}"`), error.message);
      }
    }
  }
});

test.run();
