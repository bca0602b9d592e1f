import { test } from "uvu";
import * as assert from "uvu/assert";
import { Buffer } from "node:buffer";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointStore, INLINE_MAX_BYTES } from "../../../daemon/store/checkpoints.ts";
import { StagedSnapshot } from "../../../daemon/store/staged.ts";
import { Journal, type JournalRecord } from "../../../daemon/store/journal.ts";
import { decodeState, encodeState } from "../../../daemon/snapshot/mod.ts";
import { smallDisk } from "./small-disk.ts";
import { isFerryError } from "../../../daemon/errors.ts";
import type { FerryError } from "../../../daemon/errors.ts";

let root = "";
let dataDir = "";
let dir = "";
let journal: Journal;
let store: CheckpointStore;

test.before.each(async () => {
  root = mkdtempSync(join(tmpdir(), "ferry-checkpoints-"));
  dataDir = join(root, "data");
  dir = join(dataDir, "checkpoints");
  journal = await Journal.open(dataDir);
  store = new CheckpointStore(journal, dir);
});

test.after.each(() => {
  journal.close();
  rmSync(root, { recursive: true, force: true });
});

/** A snapshot small enough to live in the journal. */
function small(count: number): Uint8Array {
  const bytes = encodeState({ className: "Counter", fields: { count: BigInt(count), label: `n${count}` } });
  assert.ok(bytes.byteLength <= INLINE_MAX_BYTES);
  return bytes;
}

/** A snapshot big enough to go to a file of its own. */
function large(count: number, size = INLINE_MAX_BYTES + 1024): Uint8Array {
  const bytes = encodeState({ className: "Counter", fields: { count: BigInt(count), blob: new Uint8Array(size).fill(count & 0xff) } });
  assert.ok(bytes.byteLength > INLINE_MAX_BYTES);
  return bytes;
}

function countOf(bytes: Uint8Array | undefined): bigint {
  assert.ok(bytes, "no checkpoint");
  return decodeState(bytes!).fields.count as bigint;
}

/** The FerryError `fn` throws. */
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

function files(): string[] {
  return readdirSync(dir).sort();
}

function own(name: string, generation = 0): JournalRecord {
  return { op: "own", name, module: "Counter", args: [], generation, migrations: 0, lastDowntimeMs: null };
}

/** Closes the journal and opens it and a new store again, as a restarted daemon would. */
async function restart(): Promise<void> {
  journal.close();
  journal = await Journal.open(dataDir);
  store = new CheckpointStore(journal, dir);
}

test("CheckpointStore creates its directory", () => {
  assert.ok(statSync(dir).isDirectory());
});

for (const [kind, make] of [["small (inline)", small], ["large (file)", large]] as const) {
  test(`save() then read() returns the same bytes for that generation: ${kind}`, async () => {
    const bytes = make(1);
    assert.is(await store.save("counter", 0, bytes), true);
    const back = store.read("counter", 0);
    assert.ok(back instanceof Uint8Array);
    assert.equal([...back!], [...bytes]);
    assert.is(countOf(back), 1n);
    assert.is(store.read("counter", 1), undefined, "read another generation");
    assert.is(store.read("other", 0), undefined, "read another name");
  });

  test(`a checkpoint outlives a daemon restart: ${kind}`, async () => {
    await journal.append(own("counter", 3));
    await store.save("counter", 3, make(9));
    await restart();
    assert.is(countOf(store.read("counter", 3)), 9n);
    await restart();
    assert.is(countOf(store.read("counter", 3)), 9n);
  });

  test(`save() skips identical bytes (resolves false) and saves changed ones: ${kind}`, async () => {
    assert.is(await store.save("counter", 0, make(1)), true);
    assert.is(await store.save("counter", 0, make(1)), false);
    assert.is(await store.save("counter", 0, make(2)), true);
    assert.is(countOf(store.read("counter", 0)), 2n);
  });

  test(`save() with force saves identical bytes again: ${kind}`, async () => {
    await store.save("counter", 0, make(1));
    assert.is(await store.save("counter", 0, make(1), { force: true }), true);
    assert.is(countOf(store.read("counter", 0)), 1n);
  });

  test(`the same bytes at a new generation are saved and the older generation is gone: ${kind}`, async () => {
    await store.save("counter", 0, make(1));
    assert.is(await store.save("counter", 1, make(1)), true);
    assert.is(store.read("counter", 0), undefined);
    assert.is(countOf(store.read("counter", 1)), 1n);
    assert.ok(!files().includes("counter@0.snap"), `old file kept: ${files().join(", ")}`);
  });
}

test("a large checkpoint is a <name>@<generation>.snap file; a small one is not a file", async () => {
  await store.save("big", 4, large(1));
  await store.save("tiny", 4, small(1));
  assert.equal(files(), ["big@4.snap"]);
});

test("save() with force rewrites a large checkpoint whose file went missing", async () => {
  await store.save("counter", 0, large(1));
  rmSync(join(dir, "counter@0.snap"));
  assert.is(thrown(() => store.read("counter", 0)).code, "checkpoint_missing");
  assert.is(await store.save("counter", 0, large(1), { force: true }), true);
  assert.is(countOf(store.read("counter", 0)), 1n);
});

test("a newer small checkpoint removes the file of an older large one", async () => {
  await store.save("counter", 0, large(1));
  await store.save("counter", 1, small(2));
  assert.is(countOf(store.read("counter", 1)), 2n);
  assert.equal(files(), [], "the file of generation 0 was left behind");
});

test("save() reads the CRC from a snapshot that is a view into a larger buffer", async () => {
  const bytes = small(5);
  const big = new Uint8Array(bytes.byteLength + 16);
  big.set(bytes, 16);
  assert.is(await store.save("counter", 0, big.subarray(16)), true);
  assert.is(await store.save("counter", 0, bytes), false, "same snapshot at another offset was saved again");
  assert.equal([...store.read("counter", 0)!], [...bytes]);
});

test("save() leaves no temp file behind", async () => {
  await store.save("counter", 0, large(1));
  await store.save("counter", 0, large(2));
  assert.equal(files(), ["counter@0.snap"]);
});

test("a save that failed is not remembered as saved: the next identical save writes", async () => {
  const bytes = large(7);
  rmSync(dir, { recursive: true, force: true });
  const error = await store.save("counter", 0, bytes).then(() => undefined, (e: unknown) => e as FerryError);
  assert.is(error?.code, "storage_failed", "save() into a missing directory did not fail as storage_failed");
  assert.match(error!.message, `Cannot write the checkpoint "${join(dir, "counter@0.snap")}": ENOENT: no such file or directory`);
  mkdirSync(dir, { recursive: true });
  assert.is(await store.save("counter", 0, bytes), true, "the retry was skipped as unchanged although nothing was saved");
  assert.is(countOf(store.read("counter", 0)), 7n);
});

test("remove() deletes a name's files and the next save is not skipped; `removed` forgets the entry", async () => {
  await store.save("counter", 2, large(1));
  await store.save("sorter", 0, large(3));
  store.remove("counter");
  await journal.append({ op: "removed", name: "counter" });
  assert.is(store.read("counter", 2), undefined);
  assert.equal(files(), ["sorter@0.snap"]);
  assert.is(await store.save("counter", 2, large(1)), true);
  assert.is(countOf(store.read("counter", 2)), 1n);
});

test("remove() of a name with no checkpoint is a no-op", () => {
  store.remove("nothing");
  assert.equal(files(), []);
});

test("names that share a prefix or contain dots do not clobber each other's checkpoints", async () => {
  const names = ["a", "a.1", "a.1.2", "a1", "a-b", "a_b"];
  for (const [i, name] of names.entries()) await store.save(name, 0, large(i));
  await store.save("a", 1, large(100));
  await store.save("a.1", 5, large(101));
  for (const [i, name] of names.entries()) {
    if (name === "a" || name === "a.1") continue;
    assert.is(countOf(store.read(name, 0)), BigInt(i), `${name} was clobbered`);
  }
  assert.is(countOf(store.read("a", 1)), 100n);
  assert.is(countOf(store.read("a.1", 5)), 101n);
  store.remove("a");
  assert.not.ok(existsSync(join(dir, "a@1.snap")));
  assert.ok(store.read("a.1", 5), 'remove("a") removed a.1\'s checkpoint');
  assert.ok(store.read("a.1.2", 0), 'remove("a") removed a.1.2\'s checkpoint');
  assert.ok(store.read("a1", 0), 'remove("a") removed a1\'s checkpoint');
  store.remove("a.1");
  assert.ok(store.read("a.1.2", 0), 'remove("a.1") removed a.1.2\'s checkpoint');
});

test("a multi-megabyte snapshot is saved and read back whole", async () => {
  const bytes = large(7, 3 * 1024 * 1024);
  await store.save("big", 0, bytes);
  const blob = decodeState(store.read("big", 0)!).fields.blob as Uint8Array;
  assert.is(blob.byteLength, 3 * 1024 * 1024);
  assert.is(blob[blob.length - 1], 7);
});

for (const [kind, make] of [["small (inline)", small], ["large (file)", large]] as const) {
  test(`readEntry() returns the bytes with the time the checkpoint was taken, also after a restart: ${kind}`, async () => {
    const before = Date.now();
    const bytes = make(4);
    await journal.append(own("counter", 2));
    await store.save("counter", 2, bytes);
    const after = Date.now();
    const entry = store.readEntry("counter", 2);
    assert.ok(entry);
    assert.equal([...entry!.bytes], [...bytes]);
    assert.ok(entry!.at !== undefined && entry!.at >= before && entry!.at <= after, `at ${entry!.at} outside ${before}..${after}`);
    if (bytes.byteLength > INLINE_MAX_BYTES) assert.is(entry!.file, join(dir, "counter@2.snap"));
    else assert.is(entry!.file, undefined);
    const at = entry!.at;
    await restart();
    assert.is(store.readEntry("counter", 2)?.at, at);
    assert.is(store.readEntry("counter", 3), undefined);
  });

  test(`save() records the time given for a state taken earlier: ${kind}`, async () => {
    await store.save("counter", 0, make(1), { at: 1767225600000 });
    assert.is(store.readEntry("counter", 0)?.at, 1767225600000);
  });
}

test("reading a checkpoint whose file is gone throws checkpoint_missing naming the file and the process", async () => {
  await journal.append(own("counter", 1));
  await store.save("counter", 1, large(3));
  const file = join(dir, "counter@1.snap");
  rmSync(file);
  await restart();
  const error = thrown(() => store.readEntry("counter", 1));
  assert.is(error.code, "checkpoint_missing");
  assert.is(error.message, `Checkpoint "${file}" of "counter" is missing`);
  assert.is(thrown(() => store.read("counter", 1)).code, "checkpoint_missing", "read() hid the missing file");
  assert.is(store.read("counter", 0), undefined, "another generation is simply not recorded");
});

test("reading a checkpoint file with a flipped byte throws snapshot_corrupt naming the file and what is wrong", async () => {
  await journal.append(own("counter", 1));
  await store.save("counter", 1, large(3));
  const file = join(dir, "counter@1.snap");
  const bytes = readFileSync(file);
  bytes[bytes.byteLength - 100]! ^= 0x01;
  writeFileSync(file, bytes);
  const error = thrown(() => store.read("counter", 1));
  assert.is(error.code, "snapshot_corrupt");
  assert.is(error.message, `Checkpoint "${file}" of "counter" is corrupt: checksum does not match`);
});

test("reading a truncated checkpoint file throws snapshot_corrupt saying it is truncated", async () => {
  await store.save("counter", 1, large(3));
  const file = join(dir, "counter@1.snap");
  truncateSync(file, 4096);
  const error = thrown(() => store.read("counter", 1));
  assert.is(error.code, "snapshot_corrupt");
  assert.match(error.message, `Checkpoint "${file}" of "counter" is corrupt: truncated: ${4096 - 24} of `);
});

test("an inline checkpoint damaged in the journal throws snapshot_corrupt naming the journal", async () => {
  await journal.append(own("counter", 1), { op: "checkpoint", name: "counter", generation: 1, data: Buffer.from("not a snapshot at all, just text").toString("base64"), at: 1 });
  const error = thrown(() => store.read("counter", 1));
  assert.is(error.code, "snapshot_corrupt");
  assert.is(error.message, `Checkpoint "${journal.file}" of "counter" is corrupt: not a Ferry snapshot (bad header)`);
});

test("on a full disk, saving a large checkpoint rejects with storage_failed naming the file, leaves no temp file, and the last one still reads back", async () => {
  const disk = smallDisk();
  const options = disk.fs ? { fs: disk.fs } : {};
  const fullJournal = await Journal.open(disk.dir, options);
  try {
    const snapshots = join(disk.dir, "checkpoints");
    const onDisk = new CheckpointStore(fullJournal, snapshots, options);
    await onDisk.save("counter", 0, large(1));
    disk.fill();
    const error = await onDisk.save("counter", 0, large(2)).then(() => undefined, (e: unknown) => e as FerryError);
    assert.is(error?.code, "storage_failed");
    assert.is(error!.message, `Cannot write the checkpoint "${join(snapshots, "counter@0.snap")}": ENOSPC: no space left on device`);
    assert.is(error!.hint, `free space in "${snapshots}"; the node keeps running what it has`);
    assert.equal(readdirSync(snapshots), ["counter@0.snap"], "the failed save left a temp file taking space");
    assert.is(countOf(onDisk.read("counter", 0)), 1n);
    // Inline, yet larger than the slack a full disk leaves in the journal's last page.
    const inlineBytes = encodeState({ className: "Counter", fields: { count: 3n, blob: new Uint8Array(10_000) } });
    assert.ok(inlineBytes.byteLength <= INLINE_MAX_BYTES);
    const inline = await onDisk.save("counter", 0, inlineBytes).then(() => undefined, (e: unknown) => e as FerryError);
    assert.is(inline?.code, "storage_failed", "an inline save on a full disk did not fail");
    assert.is(countOf(onDisk.read("counter", 0)), 1n, "the refused inline checkpoint replaced the last good one");
    disk.free();
    assert.is(await onDisk.save("counter", 0, large(2)), true);
    assert.is(countOf(onDisk.read("counter", 0)), 2n);
  } finally {
    fullJournal.close();
    disk.close();
  }
});

// --- checkpoints written as they stream in --------------------------------------------------------

async function streamIn(target: CheckpointStore, name: string, generation: number, bytes: Uint8Array, chunk = 4096): Promise<boolean> {
  const file = target.openStream(name, generation);
  for (let at = 0; at < bytes.byteLength; at += chunk) await file.write(bytes.slice(at, at + chunk));
  return file.commit();
}

test("openStream() writes a checkpoint chunk by chunk; it reads back verified, and an identical save() is then skipped", async () => {
  const bytes = large(7, 100_000);
  assert.is(await streamIn(store, "counter", 3, bytes, 3000), true);
  assert.equal(readdirSync(dir), ["counter@3.snap"]);
  assert.is(countOf(store.read("counter", 3)), 7n);
  assert.is(await store.save("counter", 3, bytes), false, "the streamed save was not remembered");
  assert.is(await store.save("counter", 3, large(8, 100_000)), true);
});

test("openStream() survives a restart: the journal records the file like any large checkpoint", async () => {
  await streamIn(store, "counter", 1, large(5, 50_000));
  journal.close();
  journal = await Journal.open(dataDir);
  store = new CheckpointStore(journal, dir);
  assert.is(countOf(store.read("counter", 1)), 5n);
});

test("abort() removes the partial file and keeps the previous checkpoint current", async () => {
  await store.save("counter", 0, large(1));
  const file = store.openStream("counter", 1);
  await file.write(large(2).subarray(0, 1000));
  await file.abort();
  assert.equal(readdirSync(dir), ["counter@0.snap"]);
  assert.is(countOf(store.read("counter", 0)), 1n);
  await rejects(file.write(new Uint8Array(1)), /no longer being written/);
});

test("a partial file left by a crash mid-stream is removed when the store opens", () => {
  writeFileSync(join(dir, "counter@4.snap.tmp"), new Uint8Array(100));
  store = new CheckpointStore(journal, dir);
  assert.equal(readdirSync(dir), []);
});

test("a streamed checkpoint that fails to write (full disk) rejects with storage_failed and leaves no partial file", async () => {
  const disk = smallDisk();
  const options = disk.fs ? { fs: disk.fs } : {};
  const fullJournal = await Journal.open(disk.dir, options);
  try {
    const snapshots = join(disk.dir, "checkpoints");
    const onDisk = new CheckpointStore(fullJournal, snapshots, options);
    const error = await streamIn(onDisk, "counter", 0, large(1, 200_000)).then(() => undefined, (e: unknown) => e as FerryError);
    assert.is(error?.code, "storage_failed");
    assert.match(error!.message, /counter@0\.snap/);
    assert.equal(readdirSync(snapshots), []);
  } finally {
    fullJournal.close();
    disk.close();
  }
});

async function rejects(promise: Promise<unknown>, expect: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e as Error);
  assert.ok(error, "did not reject");
  assert.match(error!.message, expect);
}

test("a staged (pre-copied) snapshot is patched by ranges, then adopted as the checkpoint and read back", async () => {
  const first = large(1);
  const staged = await StagedSnapshot.write(store.stagingPath("p", 2), first);
  assert.is(store.read("p", 2), undefined);
  const second = large(2);
  await staged.patch(second, [[0, second.byteLength]]);
  await store.adopt("p", 2, staged, second);
  assert.is(countOf(store.read("p", 2)), 2n);
  assert.not.ok(existsSync(staged.path));
  await staged.discard();
  assert.ok(existsSync(join(dir, "p@2.snap")));
});

test("a staged snapshot left by a stopped node is deleted when it starts again, never read", async () => {
  const staged = await StagedSnapshot.write(store.stagingPath("p", 2), large(3));
  assert.ok(existsSync(staged.path));
  journal.close();
  journal = await Journal.open(dataDir);
  store = new CheckpointStore(journal, dir);
  assert.not.ok(existsSync(staged.path));
  assert.is(store.read("p", 2), undefined);
});

test.run();
