import { test } from "uvu";
import * as assert from "uvu/assert";
import { Encoder, Tag } from "cbor-x";
import { crc32 as zlibCrc32 } from "node:zlib";
import { decodeState, encodeState, envelopeProblem, snapshotChecksum } from "../../daemon/snapshot/mod.ts";
import { crc32, SnapshotDecoder, SnapshotEncoder } from "../../daemon/snapshot/stream.ts";
import type { StreamState } from "../../daemon/snapshot/stream.ts";
import { isFerryError } from "../../daemon/errors.ts";
import type { FerryError } from "../../daemon/errors.ts";

/** Encodes with a cursor in `chunk`-byte reads and decodes by pushing those chunks one by one. */
function roundTrip(state: StreamState, chunk = 7): StreamState {
  const encoder = new SnapshotEncoder(state);
  const cursor = encoder.cursor();
  const decoder = new SnapshotDecoder(encoder.byteLength);
  for (let part = cursor.read(chunk); part; part = cursor.read(chunk)) decoder.push(part);
  assert.is(cursor.position, encoder.byteLength);
  return decoder.finish();
}

function bytesOf(state: StreamState): Uint8Array {
  return new SnapshotEncoder(state).toBytes();
}

function thrown(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (error) {
    assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
    return error as FerryError;
  }
  assert.unreachable("expected an error, none was thrown");
  throw new Error("unreachable");
}

function filled<T extends { length: number; [i: number]: number | bigint }>(array: T, value: (i: number) => number | bigint): T {
  for (let i = 0; i < array.length; i++) array[i] = value(i);
  return array;
}

test("every typed array kind round-trips with its class, length and contents", () => {
  const fields = {
    i8: filled(new Int8Array(5), (i) => i - 2),
    u8: filled(new Uint8Array(5), (i) => 250 + i),
    u8c: filled(new Uint8ClampedArray(3), (i) => i * 100),
    i16: filled(new Int16Array(4), (i) => -30000 + i),
    u16: filled(new Uint16Array(4), (i) => 65530 + i),
    i32: filled(new Int32Array(3), (i) => -(2 ** 31) + i),
    u32: filled(new Uint32Array(3), (i) => 2 ** 32 - 1 - i),
    f32: filled(new Float32Array(3), (i) => i + 0.5),
    f64: filled(new Float64Array(4), (i) => [Math.PI, -0, Number.NaN, Infinity][i]!),
    i64: filled(new BigInt64Array(2), (i) => -(2n ** 63n) + BigInt(i)),
    u64: filled(new BigUint64Array(2), (i) => 2n ** 64n - 1n - BigInt(i)),
    empty: new Float64Array(0),
  };
  for (const chunk of [1, 3, 64, 1 << 20]) {
    const out = roundTrip({ className: "Kinds", fields }, chunk).fields;
    for (const [key, value] of Object.entries(fields)) {
      const back = out[key] as typeof value;
      assert.is(Object.getPrototypeOf(back), Object.getPrototypeOf(value), key);
      assert.equal([...back], [...value], key);
    }
    assert.ok(Object.is((out.f64 as Float64Array)[1], -0));
  }
});

test("an ArrayBuffer and a DataView round-trip; a view keeps its offset and length within its buffer", () => {
  const buffer = filled(new Uint8Array(16), (i) => i).buffer;
  const view = new DataView(buffer, 4, 8);
  const middle = new Uint16Array(buffer, 2, 3);
  const out = roundTrip({ className: "Views", fields: { view, middle } }).fields;
  const v = out.view as DataView;
  const m = out.middle as Uint16Array;
  assert.ok(v instanceof DataView);
  assert.equal([v.byteOffset, v.byteLength, v.buffer.byteLength], [4, 8, 16]);
  assert.is(v.getUint8(0), 4);
  assert.equal([m.byteOffset, m.length], [2, 3]);
  assert.ok(roundTrip({ className: "Raw", fields: { raw: buffer } }).fields.raw instanceof ArrayBuffer);
  assert.equal([...new Uint8Array(roundTrip({ className: "Raw", fields: { raw: buffer } }).fields.raw as ArrayBuffer)], [...new Uint8Array(buffer)]);
});

test("views sharing one buffer still share it: a write through one shows through the others", () => {
  const buffer = new ArrayBuffer(32);
  const bytes = new Uint8Array(buffer);
  const words = new Uint32Array(buffer, 8, 2);
  const fields = { buffer, bytes, words, again: bytes, nested: { view: new DataView(buffer) } };
  const out = roundTrip({ className: "Shared", fields }).fields as typeof fields;
  assert.is(out.bytes.buffer, out.buffer);
  assert.is(out.words.buffer, out.buffer);
  assert.is(out.nested.view.buffer, out.buffer);
  assert.is(out.again, out.bytes);
  out.words[0] = 0x01020304;
  assert.is(out.bytes[8], 0x04);
  // One buffer travels once, however many views there are.
  const one = bytesOf({ className: "One", fields: { a: new Uint8Array(1 << 16), b: new Uint8Array(1 << 16) } }).byteLength;
  const shared = new Uint8Array(1 << 16);
  assert.ok(bytesOf({ className: "Two", fields: { a: shared, b: new Uint8Array(shared.buffer) } }).byteLength < one - (1 << 15));
});

test("a resizable ArrayBuffer comes back resizable, with its capacity", () => {
  const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resizable: boolean; maxByteLength: number };
  const buffer = new Resizable(4, { maxByteLength: 64 });
  new Uint8Array(buffer).set([1, 2, 3, 4]);
  const out = roundTrip({ className: "Grow", fields: { buffer } }).fields.buffer as ArrayBuffer & { resizable: boolean; maxByteLength: number };
  assert.equal([out.resizable, out.maxByteLength, out.byteLength], [true, 64, 4]);
  assert.equal([...new Uint8Array(out)], [1, 2, 3, 4]);
});

test("plain fields, cycles and the module version travel in the skeleton next to the buffers", () => {
  const ring: Record<string, unknown> = { bytes: new Uint8Array([9, 8, 7]) };
  ring.self = ring;
  const out = roundTrip({ className: "Mixed", fields: { ring, when: new Date(5), big: 2n ** 70n, map: new Map([["k", new Set([1])]]) }, moduleVersion: "abc" });
  assert.is(out.moduleVersion, "abc");
  const back = out.fields.ring as Record<string, unknown>;
  assert.is(back.self, back);
  assert.equal([...(back.bytes as Uint8Array)], [9, 8, 7]);
  assert.is(out.fields.big, 2n ** 70n);
  assert.equal(out.fields.map, new Map([["k", new Set([1])]]));
});

test("two cursors read the same bytes at their own pace, and the whole-buffer form is those bytes", () => {
  const encoder = new SnapshotEncoder({ className: "Big", fields: { data: filled(new Uint8Array(100_000), (i) => i & 0xff), n: 1 } });
  const fast = encoder.cursor();
  const slow = encoder.cursor();
  const a: number[] = [];
  const b: number[] = [];
  for (let part = fast.read(4096); part; part = fast.read(4096)) a.push(...part);
  for (let part = slow.read(333); part; part = slow.read(333)) b.push(...part);
  assert.equal(b, a);
  assert.equal([...encoder.toBytes()], a);
  assert.is(a.length, encoder.byteLength);
});

test("the trailing CRC covers the whole snapshot; snapshotChecksum() reads it; envelopeProblem() checks it", () => {
  const bytes = bytesOf({ className: "C", fields: { data: new Uint8Array(1000).fill(3) } });
  const view = new DataView(bytes.buffer);
  assert.is(view.getUint32(bytes.byteLength - 4, true), zlibCrc32(bytes.subarray(0, bytes.byteLength - 4)));
  assert.is(snapshotChecksum(bytes), zlibCrc32(bytes.subarray(0, bytes.byteLength - 4)));
  assert.is(envelopeProblem(bytes), undefined);
  assert.is(crc32(bytes.subarray(100), crc32(bytes.subarray(0, 100))), zlibCrc32(bytes));
});

// --- refusals ------------------------------------------------------------------------------------

function refusal(bytes: Uint8Array, expect: RegExp, announced?: number, chunk = 64): void {
  const error = thrown(() => {
    const decoder = new SnapshotDecoder(announced);
    for (let at = 0; at < bytes.byteLength; at += chunk) decoder.push(bytes.subarray(at, at + chunk));
    decoder.finish();
  });
  assert.is(error.code, "snapshot_corrupt");
  assert.match(error.message, expect);
}

const sample = () => bytesOf({ className: "Probe", fields: { data: filled(new Uint8Array(5000), (i) => i & 0xff), label: "x" } });

test("a flipped byte in a buffer's bytes is refused by the trailing checksum", () => {
  const bytes = sample();
  bytes[bytes.byteLength - 100]! ^= 0x01;
  refusal(bytes, /checksum does not match/, bytes.byteLength);
});

test("a flipped byte in the skeleton is refused before anything is allocated from it", () => {
  const bytes = sample();
  bytes[30]! ^= 0x40;
  refusal(bytes, /checksum does not match \(skeleton\)/, bytes.byteLength);
});

test("a stream cut short is refused as truncated, however it was chunked", () => {
  const bytes = sample();
  for (const cut of [10, 30, bytes.byteLength - 1]) refusal(bytes.subarray(0, cut), /truncated|bad header/, undefined, 7);
});

test("a stream longer than its header says, or than announced, is refused as soon as it shows", () => {
  const bytes = sample();
  const longer = new Uint8Array(bytes.byteLength + 1);
  longer.set(bytes);
  refusal(longer, /length does not match/);
  refusal(bytes, /length does not match: 4 bytes announced/, 4);
});

test("bad magic and unknown versions are refused at the header", () => {
  const bytes = sample();
  const magic = bytes.slice();
  magic[0] = 0;
  refusal(magic, /bad header/);
  const version = bytes.slice();
  version[4] = 9;
  refusal(version, /version 9/);
  const total = bytes.slice();
  new DataView(total.buffer).setBigUint64(16, 1n << 40n, true);
  refusal(total, /length does not match/, bytes.byteLength);
});

test("decodeState() still reads a format-1 snapshot (checkpoints written before format 2)", () => {
  // Format 1 as it was written: header with the payload's CRC at byte 8, CBOR of [class, graph, version].
  const ref = (n: number) => new Tag(n, 40100);
  const graph = [[[0, ["count", "bytes"], [41, ref(1)]], [4, new Uint8Array([1, 2, 3])]], ref(0)];
  const cbor = new Encoder({ useRecords: false, pack: false, structuredClone: false });
  const payload = cbor.encode(["Old", graph, "v0"]);
  const bytes = new Uint8Array(24 + payload.byteLength);
  bytes.set([0x46, 0x52, 0x52, 0x59, 1], 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, zlibCrc32(payload), true);
  view.setBigUint64(16, BigInt(payload.byteLength), true);
  bytes.set(payload, 24);
  assert.is(envelopeProblem(bytes), undefined);
  const state = decodeState(bytes);
  assert.equal([state.className, state.moduleVersion, state.fields.count], ["Old", "v0", 41]);
  assert.equal([...(state.fields.bytes as Uint8Array)], [1, 2, 3]);
  bytes[bytes.byteLength - 1]! ^= 1;
  assert.match(envelopeProblem(bytes) ?? "", /checksum/);
});

test("a format-1 snapshot streamed in (from a node of an earlier version) is decoded when a legacy decoder is given, else refused", () => {
  const cbor = new Encoder({ useRecords: false, pack: false, structuredClone: false });
  const payload = cbor.encode(["Old", [[[0, ["n"], [7]]], new Tag(0, 40100)]]);
  const bytes = new Uint8Array(24 + payload.byteLength);
  bytes.set([0x46, 0x52, 0x52, 0x59, 1], 0);
  new DataView(bytes.buffer).setUint32(8, zlibCrc32(payload), true);
  new DataView(bytes.buffer).setBigUint64(16, BigInt(payload.byteLength), true);
  bytes.set(payload, 24);
  const decoder = new SnapshotDecoder(bytes.byteLength, { legacy: decodeState });
  for (let at = 0; at < bytes.byteLength; at += 5) decoder.push(bytes.subarray(at, at + 5));
  assert.equal(decoder.finish().fields, { n: 7 });
  refusal(bytes, /version 1/, bytes.byteLength);
});

test("encodeState() writes format 2 and decodeState() reads it back whole", () => {
  const bytes = encodeState({ className: "Whole", fields: { f: new Float32Array([1.5, 2.5]) } });
  assert.is(bytes[4], 2);
  assert.equal([...(decodeState(bytes).fields.f as Float32Array)], [1.5, 2.5]);
});

test.run();
