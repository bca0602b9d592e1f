import { test } from "uvu";
import * as assert from "uvu/assert";
import { displayValue, toJsonSafe } from "../../../daemon/api/json.ts";

test("toJsonSafe() turns BigInt into a decimal string, also beyond 2^64 and negative", () => {
  assert.is(toJsonSafe(3n), "3");
  assert.is(toJsonSafe(-(2n ** 70n)), "-1180591620717411303424");
  assert.equal(toJsonSafe({ n: 2n ** 64n }), { n: "18446744073709551616" });
});

test("toJsonSafe() keeps JSON scalars as they are", () => {
  for (const value of [null, 0, -1.5, "héllo 🚀", true, false]) assert.is(toJsonSafe(value), value);
});

test("toJsonSafe() turns undefined, functions and symbols into null", () => {
  assert.is(toJsonSafe(undefined), null);
  assert.is(toJsonSafe(() => 1), null);
  assert.is(toJsonSafe(Symbol("s")), null);
  assert.equal(toJsonSafe({ a: undefined, b: [undefined] }), { a: null, b: [null] });
});

test("toJsonSafe() turns a Map with string keys into an object", () => {
  assert.equal(toJsonSafe(new Map<string, unknown>([["a", 1n], ["b", new Set([1])]])), { a: "1", b: [1] });
});

test("toJsonSafe() turns a Map with other keys into an array of entries", () => {
  assert.equal(toJsonSafe(new Map<unknown, unknown>([[1, "one"], ["two", 2n]])), [[1, "one"], ["two", "2"]]);
  assert.equal(toJsonSafe(new Map()), {});
});

test("toJsonSafe() turns a Set into an array and a Date into an ISO string", () => {
  assert.equal(toJsonSafe(new Set(["x", 2n])), ["x", "2"]);
  assert.is(toJsonSafe(new Date("2020-01-02T03:04:05.678Z")), "2020-01-02T03:04:05.678Z");
});

test("toJsonSafe() turns an invalid Date into null, as JSON.stringify does, instead of throwing", () => {
  assert.is(toJsonSafe(new Date(Number.NaN)), null);
  assert.equal(toJsonSafe({ when: new Date("not a date") }), { when: null });
});

test("toJsonSafe() turns typed arrays into arrays of numbers (BigInt elements as strings)", () => {
  assert.equal(toJsonSafe(new Uint8Array([1, 255])), [1, 255]);
  assert.equal(toJsonSafe(new Float64Array([1.5, -2])), [1.5, -2]);
  assert.equal(toJsonSafe(new BigInt64Array([1n, -2n])), ["1", "-2"]);
});

test("toJsonSafe() marks a cycle but repeats a shared, acyclic reference", () => {
  const shared = { v: 1 };
  assert.equal(toJsonSafe({ a: shared, b: shared }), { a: { v: 1 }, b: { v: 1 } });
  const cyclic: Record<string, unknown> = { name: "c" };
  cyclic.self = cyclic;
  assert.equal(toJsonSafe(cyclic), { name: "c", self: "[Circular]" });
  const list: unknown[] = [1];
  list.push(list);
  assert.equal(toJsonSafe(list), [1, "[Circular]"]);
});

test("toJsonSafe() output always survives JSON.stringify", () => {
  const value = { big: 1n, map: new Map([[1, 2n]]), set: new Set([3n]), when: new Date(0), bytes: new Uint8Array([1]), nested: [{ u: undefined }] };
  const text = JSON.stringify(toJsonSafe(value));
  assert.equal(JSON.parse(text), { big: "1", map: [[1, "2"]], set: ["3"], when: "1970-01-01T00:00:00.000Z", bytes: [1], nested: [{ u: null }] });
});

test("displayValue() prints strings bare and inspects everything else", () => {
  assert.is(displayValue("hello"), "hello");
  assert.is(displayValue(42), "42");
  assert.is(displayValue(3n), "3n");
  assert.is(displayValue(undefined), "undefined");
  assert.is(displayValue(new Map([["a", 1]])), "Map(1) { 'a' => 1 }");
  assert.is(displayValue({ s: "x" }), "{ s: 'x' }");
});

test.run();
