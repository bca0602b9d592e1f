import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeState, encodeState } from "../../daemon/snapshot/mod.ts";
import { CHUNK_BYTES, crcShift, DeltaBase, DeltaTracker, joinParts, parseDelta } from "../../daemon/snapshot/delta.ts";
import { crc32 } from "node:zlib";
import { isFerryError } from "../../daemon/errors.ts";

const state = (fields: Record<string, unknown>) => ({ className: "Probe", fields, moduleVersion: "v1" });

/** Runs rounds through a tracker and a base, each round building on the one before. */
function pair() {
  const tracker = new DeltaTracker("h1");
  const base = new DeltaBase();
  let after = -1;
  return {
    tracker,
    base,
    round(fields: Record<string, unknown>, budgetBytes?: number) {
      const { delta, header } = tracker.next(state(fields), { after, ...(budgetBytes !== undefined ? { budgetBytes } : {}) });
      base.apply(delta);
      after = header.round;
      return header;
    },
  };
}

function carriedChunks(header: ReturnType<typeof parseDelta>["header"]): number[] {
  return header.blobs.flatMap(([, , , chunks]) => chunks.map(([index]) => index));
}

test("a first round carries everything; an unchanged state then carries nothing", () => {
  const p = pair();
  const fields = { count: 3n, names: new Map([["a", new Set([1, 2])]]), when: new Date(5) };
  const first = p.round(fields);
  assert.is(first.after, -1);
  assert.ok(first.sentBytes > 0);
  assert.ok(first.complete);
  const second = p.round(fields);
  assert.is(second.sentBytes, 0);
  assert.is(second.dirtyBytes, 0);
  const back = decodeState(p.base.rebuild());
  assert.is(back.className, "Probe");
  assert.is(back.moduleVersion, "v1");
  assert.equal(back.fields, fields);
});

test("fields added, changed and removed: only the changed ones travel, and the order of fields is kept", () => {
  const p = pair();
  const fields: Record<string, unknown> = { a: "x".repeat(5000), b: [1, 2, 3], c: { deep: true } };
  p.round(fields);
  fields.b = [1, 2, 4];
  delete fields.c;
  fields.d = "new";
  const header = p.round(fields);
  assert.ok(header.sentBytes < 100, `carried ${header.sentBytes} bytes for two small fields`);
  const back = decodeState(p.base.rebuild()).fields;
  assert.equal(Object.keys(back), ["a", "b", "d"]);
  assert.equal(back, fields);
});

test("a large typed array travels per chunk: one changed element carries one chunk", () => {
  const p = pair();
  const data = new Float64Array((8 * CHUNK_BYTES) / 8);
  data.fill(1.5);
  const first = p.round({ data, label: "x" });
  assert.is(carriedChunks(first).length, 8);
  data[CHUNK_BYTES / 8 * 5 + 3] = 42;
  const second = p.round({ data, label: "x" });
  assert.equal(carriedChunks(second), [5]);
  assert.is(second.sentBytes, CHUNK_BYTES);
  const back = decodeState(p.base.rebuild()).fields.data as Float64Array;
  assert.instance(back, Float64Array);
  assert.is(back.length, data.length);
  assert.is(back[CHUNK_BYTES / 8 * 5 + 3], 42);
  assert.is(back[0], 1.5);
});

test("an ArrayBuffer and a typed array of odd length: the last, short chunk travels and lands right", () => {
  const p = pair();
  const buffer = new ArrayBuffer(CHUNK_BYTES * 2 + 10);
  const bytes = new Int16Array(CHUNK_BYTES + 7);
  p.round({ buffer, bytes });
  new Uint8Array(buffer)[CHUNK_BYTES * 2 + 9] = 7;
  bytes[CHUNK_BYTES + 6] = -3;
  const header = p.round({ buffer, bytes });
  // The last chunk of each: bytes 2·64 KiB + 9 of the buffer, bytes 2·64 KiB + 12 of the Int16Array.
  assert.equal(carriedChunks(header), [2, 2]);
  const back = decodeState(p.base.rebuild()).fields;
  // Exactly what a snapshot taken directly gives back (the codec returns an ArrayBuffer's bytes).
  assert.equal(back, decodeState(encodeState(state({ buffer, bytes }))).fields);
  assert.is(new Uint8Array(back.buffer as ArrayBuffer)[CHUNK_BYTES * 2 + 9], 7);
  assert.is((back.bytes as Int16Array)[CHUNK_BYTES + 6], -3);
  assert.is((back.bytes as Int16Array).length, CHUNK_BYTES + 7);
});

test("shared references survive: fields sharing an object travel together, a shared big array stays one array", () => {
  const p = pair();
  const shared = { n: 1 };
  const big = new Uint8Array(CHUNK_BYTES * 2);
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const fields = { left: [shared], right: { inner: shared }, big, alsoBig: { ref: big }, cycle, alone: 5 };
  p.round(fields);
  shared.n = 2;
  big[1] = 9;
  p.round(fields);
  const back = decodeState(p.base.rebuild()).fields as typeof fields;
  assert.is((back.left as unknown[])[0], back.right.inner);
  assert.is(back.right.inner.n, 2);
  assert.is(back.big, back.alsoBig.ref);
  assert.is(back.big[1], 9);
  assert.is(back.cycle.self, back.cycle);
});

test("a field given a new array of another size is carried whole, and the old one is forgotten", () => {
  const p = pair();
  p.round({ data: new Uint8Array(CHUNK_BYTES * 3).fill(1) });
  const header = p.round({ data: new Uint8Array(CHUNK_BYTES).fill(2) });
  assert.is(header.blobs.length, 1);
  assert.is(p.base.bytes < CHUNK_BYTES * 2, true);
  assert.is((decodeState(p.base.rebuild()).fields.data as Uint8Array)[0], 2);
});

test("a budget leaves chunks dirty for later rounds; the base is complete only when they all arrived", () => {
  const p = pair();
  const data = new Uint8Array(CHUNK_BYTES * 10).fill(3);
  const first = p.round({ data }, CHUNK_BYTES * 4);
  assert.is(carriedChunks(first).length, 4);
  assert.not.ok(first.complete);
  assert.ok(first.dirtyBytes >= CHUNK_BYTES * 10 && first.sentBytes < CHUNK_BYTES * 5);
  data[0] = 8; // a carried chunk changes meanwhile
  const second = p.round({ data }, CHUNK_BYTES * 4);
  assert.not.ok(second.complete);
  assert.throws(() => p.base.rebuild(), /not complete/);
  const third = p.round({ data }, CHUNK_BYTES * 4);
  assert.ok(third.complete);
  assert.equal(decodeState(p.base.rebuild()).fields.data, data);
});

/** Runs a round cut in slices of `sliceBytes`, calling `atStop(n)` at each stop (where the process would run). */
function slicedRound(tracker: DeltaTracker, fields: Record<string, unknown>, after: number, sliceBytes: number, atStop: (stop: number) => void) {
  const steps = tracker.cut(state(fields), { after, sliceBytes });
  let stops = 0;
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return { ...step.value, stops };
    atStop(++stops);
  }
}

test("a round cut in slices stops after each slice and carries every chunk as it was when hashed; later writes travel next round", () => {
  const tracker = new DeltaTracker("h1");
  const base = new DeltaBase();
  const data = new Uint8Array(CHUNK_BYTES * 8).fill(1);
  const fields = { data, label: "x" };
  const first = slicedRound(tracker, fields, -1, CHUNK_BYTES * 2, (stop) => {
    if (stop !== 1) return;
    data.fill(7, 0, CHUNK_BYTES); // chunk 0: already hashed and carried
    data.fill(9, CHUNK_BYTES * 7); // chunk 7: not yet hashed
  });
  assert.is(first.stops, 3, "one stop after every two chunks");
  assert.ok(first.header.complete);
  const alone = new DeltaBase();
  alone.apply(joinParts(first.parts));
  const arrived = decodeState(alone.rebuild()).fields.data as Uint8Array;
  assert.equal([arrived[0], arrived[CHUNK_BYTES * 7]], [1, 9], "a chunk is carried as it was when its hash was taken");
  base.apply(joinParts(first.parts));
  // The next round, in one go, finds chunk 0 changed since its hash, and only that.
  const second = tracker.next(state(fields), { after: first.header.round });
  assert.equal(carriedChunks(second.header), [0]);
  base.apply(second.delta);
  assert.equal(decodeState(base.rebuild()).fields.data, data);
});

test("a blob resized while a sliced round stopped is left for a later round, which carries it whole", () => {
  const tracker = new DeltaTracker("h1");
  const base = new DeltaBase();
  const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
  const buffer = new Resizable(CHUNK_BYTES * 8, { maxByteLength: CHUNK_BYTES * 8 });
  new Uint8Array(buffer).fill(4);
  const fields = { buffer };
  const first = slicedRound(tracker, fields, -1, CHUNK_BYTES * 2, (stop) => {
    if (stop === 1) buffer.resize(CHUNK_BYTES * 3);
  });
  assert.not.ok(first.header.complete, "the blob's rest was not hashed: the round cannot be complete");
  assert.equal(carriedChunks(first.header), [0, 1]);
  base.apply(joinParts(first.parts));
  assert.throws(() => base.rebuild(), /not complete/);
  const second = tracker.next(state(fields), { after: first.header.round });
  assert.ok(second.header.complete);
  assert.equal(carriedChunks(second.header), [0, 1, 2]);
  base.apply(second.delta);
  const back = decodeState(base.rebuild()).fields.buffer as ArrayBuffer;
  assert.is(back.byteLength, CHUNK_BYTES * 3);
  assert.equal(new Uint8Array(back), new Uint8Array(buffer));
});

test("a round in one go never stops", () => {
  const tracker = new DeltaTracker("h1");
  const { stops } = slicedRound(tracker, { data: new Uint8Array(CHUNK_BYTES * 8) }, -1, Infinity, () => {});
  assert.is(stops, 0);
});

test("a delta the receiver never got is carried again: the holder only trusts the round it was asked to build on", () => {
  const tracker = new DeltaTracker("h1");
  const base = new DeltaBase();
  const data = new Uint8Array(CHUNK_BYTES * 2);
  base.apply(tracker.next(state({ data }), { after: -1 }).delta);
  data[0] = 1;
  tracker.next(state({ data }), { after: 0 }); // lost on the way
  data[CHUNK_BYTES] = 1;
  const again = tracker.next(state({ data }), { after: 0 });
  assert.equal(carriedChunks(again.header).sort(), [0, 1]);
  base.apply(again.delta);
  assert.equal(decodeState(base.rebuild()).fields.data, data);
});

test("an unknown base round starts afresh; a delta on another base is refused", () => {
  const tracker = new DeltaTracker("h1");
  const base = new DeltaBase();
  base.apply(tracker.next(state({ a: 1 }), { after: -1 }).delta);
  const fresh = tracker.next(state({ a: 2 }), { after: 17 });
  assert.is(fresh.header.after, -1);
  const other = new DeltaTracker("h2");
  other.next(state({ a: 1 }), { after: -1 });
  const misplaced = other.next(state({ a: 1 }), { after: 0 });
  const before = base.round;
  try {
    new DeltaBase().apply(misplaced.delta);
    assert.unreachable("applied a delta on a base it does not build on");
  } catch (error) {
    assert.ok(isFerryError(error) && error.code === "conflict", String(error));
  }
  assert.is(base.round, before);
});

test("a damaged piece, or a piece merged into the wrong place, is refused before anything is rebuilt", () => {
  const tracker = new DeltaTracker("h1");
  const data = new Uint8Array(CHUNK_BYTES * 2).fill(4);
  const { delta } = tracker.next(state({ data }), { after: -1 });
  const damaged = delta.slice();
  damaged[damaged.byteLength - 1] ^= 0xff;
  try {
    new DeltaBase().apply(damaged);
    assert.unreachable("applied a damaged delta");
  } catch (error) {
    assert.ok(isFerryError(error) && error.code === "snapshot_corrupt", String(error));
  }
  // A holder that believes the receiver has round 0 while this one holds nothing useful.
  const base = new DeltaBase();
  base.apply(new DeltaTracker("x").next(state({ other: 1 }), { after: -1 }).delta);
  data[0] = 5;
  const next = tracker.next(state({ data }), { after: 0 });
  try {
    base.apply(next.delta);
    assert.unreachable("merged a delta whose unchanged pieces are not here");
  } catch (error) {
    assert.ok(isFerryError(error) && error.code === "snapshot_corrupt", String(error));
    assert.match(error.message, /unchanged there but differ here/);
  }
});

test("a sealed base is patched in place: the changed ranges alone turn the sealed snapshot into the new one", () => {
  const p = pair();
  const data = new Float64Array((CHUNK_BYTES * 6) / 8).fill(0.5);
  const raw = new ArrayBuffer(CHUNK_BYTES * 2);
  const fields: Record<string, unknown> = { data, raw, small: new Uint32Array(64), seq: 1, label: "x" };
  p.round(fields);
  const sealed = p.base.seal();
  assert.ok(sealed);
  assert.equal(decodeState(sealed!).fields, decodeState(encodeState(state(fields))).fields);
  const onDisk = sealed!.slice();
  data[(CHUNK_BYTES / 8) * 4 + 1] = 7;
  new Uint8Array(raw)[5] = 9;
  (fields.small as Uint32Array)[3] = 77;
  fields.seq = 2;
  p.round(fields);
  const resealed = p.base.reseal();
  assert.ok(resealed);
  assert.equal(decodeState(resealed!.bytes).fields, decodeState(encodeState(state(fields))).fields);
  for (const [start, end] of resealed!.dirty) onDisk.set(resealed!.bytes.subarray(start, end), start);
  assert.equal(onDisk, resealed!.bytes);
  const written = resealed!.dirty.reduce((n, [start, end]) => n + end - start, 0);
  assert.ok(written < CHUNK_BYTES * 3, `wrote ${written} bytes again`);
});

test("a sealed base whose shape changed (a blob resized) is not patched; it is rebuilt", () => {
  const p = pair();
  const fields: Record<string, unknown> = { data: new Uint8Array(CHUNK_BYTES * 2).fill(1) };
  p.round(fields);
  assert.ok(p.base.seal());
  fields.data = new Uint8Array(CHUNK_BYTES * 3).fill(2);
  p.round(fields);
  assert.is(p.base.reseal(), undefined);
  assert.equal(decodeState(p.base.rebuild()).fields, fields);
});

test("a CRC-32 is updated from the change of a stretch alone", () => {
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
  const before = crc32(bytes);
  for (const [start, end] of [[0, 10], [5000, 70000], [99_990, 100_000]] as const) {
    const old = crc32(bytes.subarray(start, end));
    for (let i = start; i < end; i++) bytes[i] = (bytes[i]! * 7 + 3) & 0xff;
    const updated = (before ^ crcShift(old ^ crc32(bytes.subarray(start, end)), bytes.byteLength - end)) >>> 0;
    assert.is(updated, crc32(bytes));
    bytes.set(new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff).subarray(start, end), start);
  }
});

test("an unportable field fails the round naming it, as a suspend would", () => {
  try {
    new DeltaTracker("h1").next(state({ fn: () => 1 }), { after: -1 });
    assert.unreachable("captured a function");
  } catch (error) {
    assert.ok(isFerryError(error) && error.code === "not_serializable", String(error));
    assert.match(error.message, /fn/);
  }
});

test.run();
