import { test } from "uvu";
import * as assert from "uvu/assert";
import { isMessageType, validateRequest } from "../../../daemon/api/validate.ts";
import { isFerryError } from "../../../daemon/errors.ts";
import type { MessageType } from "../../../schemas/api.schema.ts";

/** The FerryError validateRequest throws; fails the test when it accepts the body. */
function rejected(type: MessageType, body: unknown): { code: string; message: string } {
  try {
    validateRequest(type, body);
  } catch (error) {
    assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
    assert.is(error.code, "bad_request");
    assert.ok(error.message.includes(`"${type}"`), `message ${JSON.stringify(error.message)} does not name the request type`);
    assert.not.ok(error.message.includes("\n"));
    return error;
  }
  assert.unreachable(`accepted ${JSON.stringify(body)}`);
  throw new Error("unreachable");
}

/** The validated body, typed loosely so comparisons stay cheap for the type checker. */
function accepted(type: MessageType, body: unknown): unknown {
  return (validateRequest as (type: string, body: unknown) => unknown)(type, body);
}

/** Asserts the rejection message names `field`. */
function rejectedNaming(type: MessageType, body: unknown, field: string): void {
  const { message } = rejected(type, body);
  assert.ok(message.includes(field), `message ${JSON.stringify(message)} does not name ${field}`);
}

test("isMessageType() knows the API's message types and nothing else", () => {
  for (const t of ["status", "ps", "shutdown", "call", "reconcile", "locate", "handoff.begin", "handoff.commit", "handoff.abort", "handoff.status", "handoff.batch"]) {
    assert.ok(isMessageType(t), t);
  }
  for (const t of ["", "events", "constructor", "__proto__", "toString", "handoff"]) assert.not.ok(isMessageType(t), t);
});

test("validateRequest() fills defaults: call args, reconcile reload", () => {
  assert.equal(accepted("call", { name: "counter", method: "get" }), { name: "counter", method: "get", args: [] });
  assert.equal(accepted("reconcile", {}), { reload: true });
  assert.equal(accepted("reconcile", { names: ["a"], reload: false }), { names: ["a"], reload: false });
});

test("validateRequest() keeps given values", () => {
  const body = { name: "counter", method: "add", args: ["1", "2"], timeoutMs: 500 };
  assert.equal(accepted("call", { ...body }), body);
  const begin = { name: "counter", generation: 3, to: "beta", handoffId: "0123456789abcdef" };
  assert.equal(accepted("handoff.begin", { ...begin }), begin);
});

test("validateRequest() accepts empty bodies for status, ps and shutdown", () => {
  for (const t of ["status", "ps", "shutdown"] as const) assert.equal(accepted(t, {}), {});
});

test("validateRequest() rejects a body that is not an object", () => {
  for (const body of [null, [], "x", 1, undefined]) rejected("call", body);
  rejected("status", null);
});

test("validateRequest() rejects a missing required field, naming it", () => {
  rejectedNaming("call", { method: "get" }, "name");
  rejectedNaming("call", { name: "counter" }, "method");
  rejectedNaming("handoff.begin", { name: "counter", generation: 0, to: "beta" }, "handoffId");
  rejectedNaming("handoff.abort", { name: "counter", generation: 0, handoffId: "0123456789" }, "reason");
});

test("validateRequest() rejects a field of the wrong type, naming it", () => {
  rejectedNaming("call", { name: "counter", method: "get", args: "1" }, "/args");
  rejectedNaming("call", { name: "counter", method: "get", args: ["1", 2] }, "/args/1");
  rejectedNaming("reconcile", { reload: "yes" }, "/reload");
  rejectedNaming("handoff.commit", { name: "counter", generation: 1.5, handoffId: "0123456789" }, "/generation");
  rejectedNaming("handoff.commit", { name: "counter", generation: -1, handoffId: "0123456789" }, "/generation");
});

test("validateRequest() rejects values out of range or pattern, naming the field", () => {
  rejectedNaming("call", { name: "-bad", method: "get" }, "/name");
  rejectedNaming("call", { name: "a b", method: "get" }, "/name");
  rejectedNaming("call", { name: "counter", method: "" }, "/method");
  rejectedNaming("call", { name: "counter", method: "get", timeoutMs: 0 }, "/timeoutMs");
  rejectedNaming("handoff.begin", { name: "counter", generation: 0, to: "beta", handoffId: "short" }, "/handoffId");
  rejectedNaming("reconcile", { names: ["ok", "../etc"] }, "/names/1");
});

test("validateRequest() rejects an unknown field, naming it", () => {
  rejectedNaming("call", { name: "counter", method: "get", extra: 1 }, "extra");
  rejectedNaming("status", { verbose: true }, "verbose");
});

test.run();
