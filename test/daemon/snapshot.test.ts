import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeState, decodeValue, encodeState, encodeValue, registerPortable, SNAPSHOT_VERSION } from "../../daemon/snapshot/mod.ts";
import { assertPortable } from "../../daemon/snapshot/portable.ts";
import { encodeLegacyState, HEADER_BYTES } from "../../daemon/snapshot/codec.ts";
import { isFerryError } from "../../daemon/errors.ts";

/** Encodes and decodes `fields` as a snapshot of class "Probe". */
function roundTrip(fields: Record<string, unknown>): Record<string, unknown> {
  const state = decodeState(encodeState({ className: "Probe", fields }));
  assert.is(state.className, "Probe");
  return state.fields;
}

/** The FerryError `fn` throws; fails the test when it returns. */
function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
    assert.not.ok(error.message.includes("\n"), `message is not one line: ${error.message}`);
    return error;
  }
  assert.unreachable("did not throw");
  throw new Error("unreachable");
}

/** Asserts a `not_serializable` error whose message names `path` (quoted) and `owner`. */
function notSerializable(fn: () => unknown, path: string, owner: string): string {
  const error = thrown(fn);
  assert.is(error.code, "not_serializable");
  assert.ok(error.message.includes(`"${path}"`), `message ${JSON.stringify(error.message)} does not name ${path}`);
  assert.ok(error.message.includes(owner), `message ${JSON.stringify(error.message)} does not name ${owner}`);
  return error.message;
}

// --- round trips -------------------------------------------------------------------------------

test("encodeState()/decodeState() round-trip a Map as a Map, keeping key types and order", () => {
  const map = new Map<unknown, unknown>([["a", 1], [2, "two"], [true, null], ["z", [1, 2]]]);
  const out = roundTrip({ map }).map;
  assert.ok(out instanceof Map, `decoded as ${Object.prototype.toString.call(out)}`);
  assert.equal([...(out as Map<unknown, unknown>).entries()], [...map.entries()]);
});

test("an ArrayBuffer stays an ArrayBuffer in a call value and in a format-1 snapshot, not a Uint8Array", () => {
  const buffer = new Uint8Array([1, 2, 3]).buffer;
  const value = decodeValue(encodeValue({ buffer, view: new Uint8Array(buffer) })) as { buffer: unknown; view: unknown };
  assert.instance(value.buffer, ArrayBuffer);
  assert.equal([...new Uint8Array(value.buffer as ArrayBuffer)], [1, 2, 3]);
  assert.instance(value.view, Uint8Array);
  const fields = decodeState(encodeLegacyState({ className: "C", fields: { buffer } })).fields;
  assert.instance(fields.buffer, ArrayBuffer);
  assert.equal([...new Uint8Array(fields.buffer as ArrayBuffer)], [1, 2, 3]);
});

test("a format-1 snapshot whose content was verified where it was assembled is not checksummed again; any other one is", () => {
  const bytes = encodeLegacyState({ className: "C", fields: { n: 1 } });
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, 0xdeadbeef, true); // a wrong CRC-32
  assert.throws(() => decodeState(bytes), /checksum does not match/);
  assert.equal(decodeState(bytes, { verified: true }).fields, { n: 1 });
  const cut = bytes.subarray(0, bytes.byteLength - 1);
  assert.throws(() => decodeState(cut, { verified: true }), /truncated/);
});

test("encodeState()/decodeState() round-trip a Set as a Set", () => {
  const out = roundTrip({ set: new Set(["x", 1, 2n]) }).set;
  assert.ok(out instanceof Set);
  assert.equal([...(out as Set<unknown>)], ["x", 1, 2n]);
});

test("encodeState()/decodeState() round-trip Dates to the millisecond", () => {
  const dates = [new Date(0), new Date("2020-01-02T03:04:05.678Z"), new Date(-86_400_001)];
  const out = roundTrip({ dates }).dates as Date[];
  assert.is(out.length, 3);
  out.forEach((d, i) => {
    assert.ok(d instanceof Date);
    assert.is(d.getTime(), dates[i]!.getTime());
  });
});

test("encodeState()/decodeState() round-trip BigInts: small, negative, at the 64-bit edges and beyond 2^64", () => {
  const values = [0n, 3n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, 2n ** 64n + 1n, 2n ** 70n, -(2n ** 100n), 10n ** 40n];
  const out = roundTrip({ values, one: 7n }) as { values: bigint[]; one: bigint };
  assert.is(out.one, 7n);
  assert.is(out.values.length, values.length);
  out.values.forEach((v, i) => {
    assert.is(typeof v, "bigint", `values[${i}] decoded as ${typeof v}`);
    assert.is(v, values[i]!);
  });
});

test("encodeState()/decodeState() round-trip typed arrays with their element type", () => {
  const fields = {
    u8: new Uint8Array([0, 1, 127, 255]),
    f64: new Float64Array([1.5, -0, Number.MAX_VALUE, Infinity, NaN]),
    i32: new Int32Array([-1, 2, -(2 ** 31), 2 ** 31 - 1]),
    // A view into a bigger buffer: only the viewed elements travel.
    view: new Int32Array([9, 8, 7, 6]).subarray(1, 3),
  };
  const out = roundTrip(fields) as typeof fields;
  assert.ok(out.u8 instanceof Uint8Array);
  assert.equal([...out.u8], [0, 1, 127, 255]);
  assert.ok(out.f64 instanceof Float64Array);
  assert.is(out.f64.length, 5);
  assert.is(out.f64[0], 1.5);
  assert.ok(Object.is(out.f64[1], -0), "-0 became +0");
  assert.is(out.f64[2], Number.MAX_VALUE);
  assert.is(out.f64[3], Infinity);
  assert.ok(Number.isNaN(out.f64[4]));
  assert.ok(out.i32 instanceof Int32Array);
  assert.equal([...out.i32], [-1, 2, -(2 ** 31), 2 ** 31 - 1]);
  assert.ok(out.view instanceof Int32Array);
  assert.equal([...out.view], [8, 7]);
});

test("encodeState()/decodeState() round-trip nested plain data", () => {
  const fields = { config: { deep: { list: [1, "two", { three: [3] }], flag: false, n: -1.25 } }, empty: {}, none: [] };
  assert.equal(roundTrip(fields), fields);
});

test("encodeState()/decodeState() keep a reference shared by several fields shared", () => {
  const shared = { hits: 1 };
  const out = roundTrip({ a: shared, b: [shared, shared], c: { inner: shared } }) as {
    a: object;
    b: object[];
    c: { inner: object };
  };
  assert.equal(out.a, { hits: 1 });
  assert.ok(out.b[0] === out.a && out.b[1] === out.a && out.c.inner === out.a, "shared reference was copied");
});

test("encodeState()/decodeState() round-trip an array that contains itself", () => {
  const list: unknown[] = [1];
  list.push(list);
  const out = roundTrip({ list }).list as unknown[];
  assert.is(out[0], 1);
  assert.ok(out[1] === out, "cycle was not preserved");
});

test("encodeState()/decodeState() round-trip cycles through plain objects", () => {
  const node: { name: string; self?: unknown } = { name: "n" };
  node.self = node;
  const parent: { kids: Array<{ parent: unknown }> } = { kids: [] };
  parent.kids.push({ parent });
  const out = roundTrip({ node, parent }) as { node: typeof node; parent: typeof parent };
  assert.is(out.node.name, "n");
  assert.ok(out.node.self === out.node, "self-reference was not preserved");
  assert.ok(out.parent.kids[0]!.parent === out.parent, "parent/child cycle was not preserved");
});

test("encodeState()/decodeState() round-trip cycles back to a Map", () => {
  const map = new Map<string, unknown>([["k", 1]]);
  map.set("me", map);
  const outer = new Map<string, unknown>();
  outer.set("inner", { back: outer });
  const out = roundTrip({ map, outer }) as { map: Map<string, unknown>; outer: Map<string, { back: unknown }> };
  assert.ok(out.map instanceof Map);
  assert.is(out.map.get("k"), 1);
  assert.ok(out.map.get("me") === out.map, `a Map holding itself came back holding ${String(out.map.get("me"))}`);
  assert.ok(out.outer.get("inner")!.back === out.outer, "an object pointing back to its Map lost the cycle");
});

test("encodeState()/decodeState() round-trip cycles back to a Set and through a Set", () => {
  const set = new Set<unknown>(["x"]);
  set.add(set);
  const holder: { set?: Set<unknown> } = {};
  holder.set = new Set<unknown>([holder]);
  const out = roundTrip({ set, holder }) as { set: Set<unknown>; holder: { set: Set<unknown> } };
  assert.ok(out.set instanceof Set);
  assert.ok([...out.set][1] === out.set, "a Set holding itself lost the cycle");
  assert.ok(out.holder.set instanceof Set);
  assert.ok([...out.holder.set][0] === out.holder, "an object held by its own Set lost the cycle");
});

test("encodeState()/decodeState() keep undefined and null apart", () => {
  const out = roundTrip({ u: undefined, n: null, list: [undefined, null, 0] });
  assert.ok("u" in out, "field holding undefined disappeared");
  assert.is(out.u, undefined);
  assert.is(out.n, null);
  assert.equal(out.list, [undefined, null, 0]);
});

test("encodeState()/decodeState() round-trip multi-byte UTF-8 strings, short and long", () => {
  const short = "héllo 世界 🚀";
  const long = "ä€𝄞".repeat(30_000);
  const out = roundTrip({ short, long, empty: "", ["clé 🔑"]: "value" });
  assert.is(out.short, short);
  assert.is(out.long, long);
  assert.is(out.empty, "");
  assert.is(out["clé 🔑"], "value");
});

test("decodeState() returns the class name the snapshot was taken from", () => {
  assert.is(decodeState(encodeState({ className: "Counter", fields: { count: 3n } })).className, "Counter");
});

test("decodeState() reads a snapshot that is a view into a larger buffer", () => {
  const bytes = encodeState({ className: "Probe", fields: { x: 1 } });
  const big = new Uint8Array(bytes.byteLength + 10);
  big.set(bytes, 7);
  assert.equal(decodeState(big.subarray(7, 7 + bytes.byteLength)).fields, { x: 1 });
});

test("encodeState() writes the documented envelope: magic, version and payload length", () => {
  const bytes = encodeState({ className: "Probe", fields: { x: 1 } });
  assert.equal([...bytes.subarray(0, 4)], [0x46, 0x52, 0x52, 0x59]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.is(view.getUint8(4), SNAPSHOT_VERSION);
  assert.is(Number(view.getBigUint64(16, true)), bytes.byteLength - HEADER_BYTES);
});

// --- portability checks ------------------------------------------------------------------------

class Unregistered {
  x = 1;
}

test("assertPortable() accepts every plain kind of value, cycles included", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.me = cyclic;
  assertPortable(
    {
      n: 1, s: "s", b: true, big: 1n, u: undefined, nil: null,
      map: new Map([["a", new Set([1])]]), when: new Date(), bytes: new Uint8Array(2), f: new Float64Array(1),
      re: /x/g, err: new Error("e"), bare: Object.create(null) as object, cyclic,
    },
    "Probe",
  );
});

test("assertPortable() rejects a function, naming its field", () => {
  notSerializable(() => assertPortable({ ok: 1, cb: () => 1 }, "Counter"), "cb", "Counter");
});

test("assertPortable() rejects a symbol, naming its field", () => {
  const message = notSerializable(() => assertPortable({ tag: Symbol("t") }, "Counter"), "tag", "Counter");
  assert.ok(message.includes("symbol"), message);
});

test("assertPortable() rejects an instance of an unregistered class, naming the class", () => {
  const message = notSerializable(() => assertPortable({ thing: new Unregistered() }, "Counter"), "thing", "Counter");
  assert.ok(message.includes("Unregistered"), message);
});

test("assertPortable() names the path of a bad value inside a Map: cache.get(\"k\")", () => {
  notSerializable(() => assertPortable({ cache: new Map<string, unknown>([["ok", 1], ["k", () => 1]]) }, "Probe"), 'cache.get("k")', "Probe");
});

test("assertPortable() names the path of a bad value inside an array: list[2]", () => {
  notSerializable(() => assertPortable({ list: [1, 2, Symbol("s")] }, "Probe"), "list[2]", "Probe");
});

test("assertPortable() names nested paths through objects, arrays and odd keys", () => {
  notSerializable(() => assertPortable({ a: { b: [{ c: () => 1 }] } }, "Probe"), "a.b[0].c", "Probe");
  notSerializable(() => assertPortable({ o: { "a-b": new Unregistered() } }, "Probe"), 'o["a-b"]', "Probe");
});

test("assertPortable() finds a bad value behind a cycle without looping forever", () => {
  const ring: Record<string, unknown> = { list: [] };
  (ring.list as unknown[]).push(ring, { fn: () => 1 });
  notSerializable(() => assertPortable({ ring }, "Probe"), "ring.list[1].fn", "Probe");
});

test("encodeState() rejects what assertPortable() rejects, with code not_serializable and the path", () => {
  notSerializable(() => encodeState({ className: "Cache", fields: { cache: new Map([["k", () => 1]]) } }), 'cache.get("k")', "Cache");
  notSerializable(() => encodeState({ className: "Lister", fields: { list: [0, 1, () => 2] } }), "list[2]", "Lister");
  notSerializable(() => encodeState({ className: "Holder", fields: { thing: new Unregistered() } }), "thing", "Holder");
});

// --- corruption --------------------------------------------------------------------------------

function corrupt(mutate: (bytes: Uint8Array) => Uint8Array, expect: RegExp): void {
  const bytes = encodeState({ className: "Probe", fields: { data: "x".repeat(100), n: 42 } });
  const error = thrown(() => decodeState(mutate(bytes.slice())));
  assert.is(error.code, "snapshot_corrupt");
  assert.match(error.message, expect);
}

test("decodeState() refuses bytes with a bad magic", () => {
  corrupt((b) => ((b[0] = 0x00), b), /header/);
});

test("decodeState() refuses bytes shorter than the header", () => {
  corrupt((b) => b.subarray(0, HEADER_BYTES - 1), /header/);
  corrupt(() => new Uint8Array(0), /header/);
});

test("decodeState() refuses an unsupported version", () => {
  corrupt((b) => ((b[4] = SNAPSHOT_VERSION + 1), b), /version/);
});

test("decodeState() refuses a truncated payload", () => {
  corrupt((b) => b.subarray(0, b.byteLength - 3), /truncated/);
});

test("decodeState() refuses a payload with extra bytes after it", () => {
  corrupt((b) => {
    const longer = new Uint8Array(b.byteLength + 1);
    longer.set(b);
    return longer;
  }, /truncated|length/);
});

test("decodeState() refuses a snapshot whose checksum does not match (one payload byte flipped)", () => {
  corrupt((b) => ((b[HEADER_BYTES + 10]! ^= 0x01), b), /checksum/);
  corrupt((b) => ((b[b.byteLength - 1]! ^= 0x80), b), /checksum/);
});

// --- registered classes and plain values ---------------------------------------------------------

class Point {
  constructor(readonly x: number, readonly y: number) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

test("registerPortable() lets instances of a class through and round-trips them as that class", () => {
  notSerializable(() => encodeState({ className: "Probe", fields: { p: new Point(3, 4) } }), "p", "Probe");
  registerPortable(Point, 40_001, (p) => [p.x, p.y], ([x, y]: number[]) => new Point(x!, y!));
  assertPortable({ p: new Point(3, 4) }, "Probe");
  const out = roundTrip({ p: new Point(3, 4), list: [new Point(1, 2)] }) as { p: Point; list: Point[] };
  assert.ok(out.p instanceof Point, "decoded as a plain value");
  assert.is(out.p.norm(), 5);
  assert.ok(out.list[0] instanceof Point);
  assert.equal([out.list[0]!.x, out.list[0]!.y], [1, 2]);
});

test("encodeValue()/decodeValue() round-trip scalars and undefined", () => {
  for (const value of [undefined, null, 0, -1.5, "héllo 🚀", true, 2n ** 70n, -3n]) {
    assert.is(decodeValue(encodeValue(value)), value);
  }
});

test("encodeValue()/decodeValue() round-trip a Map with non-string keys and BigInt values", () => {
  const out = decodeValue(encodeValue(new Map([[1, 2n], [3, 4n]])));
  assert.ok(out instanceof Map, `decoded as ${Object.prototype.toString.call(out)}`);
  assert.equal([...(out as Map<number, bigint>)], [[1, 2n], [3, 4n]]);
});

test("encodeValue()/decodeValue() round-trip structured values", () => {
  const value = { when: new Date(5), tags: new Set(["a"]), bytes: new Uint8Array([1, 2]), list: [1, { x: "y" }] };
  const out = decodeValue(encodeValue(value)) as typeof value;
  assert.is(out.when.getTime(), 5);
  assert.ok(out.tags instanceof Set && out.tags.has("a"));
  assert.equal([...out.bytes], [1, 2]);
  assert.equal(out.list, [1, { x: "y" }]);
});

test("encodeValue() returns bytes that own their whole buffer (safe to transfer)", () => {
  const bytes = encodeValue({ a: 1 });
  assert.is(bytes.byteOffset, 0);
  assert.is(bytes.buffer.byteLength, bytes.byteLength);
  const again = encodeValue({ a: 2 });
  assert.is.not(again.buffer, bytes.buffer);
  assert.equal(decodeValue(bytes), { a: 1 });
});

test.run();
