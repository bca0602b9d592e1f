import { suite } from "uvu";
import * as assert from "uvu/assert";
import fs, { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { decode, encode, Tag } from "cbor-x";
import { READER_TAG, TransactionalFileReader, TransactionalFileWriter, WRITER_TAG } from "../../../daemon/io/mod.ts";
import { decodeState, encodeState } from "../../../daemon/snapshot/mod.ts";
import { isFerryError } from "../../../daemon/errors.ts";
import type { FerryError } from "../../../daemon/errors.ts";

let dir = "";
const file = (name: string) => join(dir, name);
const text = (name: string) => readFileSync(file(name), "utf8");

/** Captures `fields` as a process snapshot and restores them, as a hand-off or a restart does. */
function migrate<T extends Record<string, unknown>>(fields: T): T {
  return decodeState(encodeState({ className: "Probe", fields })).fields as T;
}

/** The FerryError `fn` throws; fails the test when it returns. */
function thrown(fn: () => unknown): FerryError {
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

function setup(s: ReturnType<typeof suite>): void {
  s.before.each(() => {
    dir = mkdtempSync(join(tmpdir(), "ferry-io-"));
  });
  s.after.each(() => {
    rmSync(dir, { recursive: true, force: true });
  });
}

// --- reader ------------------------------------------------------------------------------------

const reader = suite("TransactionalFileReader");
setup(reader);

reader("readChar() returns one code point and moves the offset by its UTF-8 length", () => {
  writeFileSync(file("in.txt"), "héllo→😀\nz");
  const r = new TransactionalFileReader(file("in.txt"));
  const seen: Array<[string | null, number]> = [];
  for (let i = 0; i < 11; i++) seen.push([r.readChar(), r.offset]);
  assert.equal(seen, [
    ["h", 1], ["é", 3], ["l", 4], ["l", 5], ["o", 6], ["→", 9], ["😀", 13], ["\n", 14], ["z", 15], [null, 15], [null, 15],
  ]);
});

reader("readChar() reads a malformed or truncated sequence as one U+FFFD, consuming only its bad bytes", () => {
  // 0xff cannot start a character; 0xe2 0x86 is "→" cut short by "a"; 0xc0 0x80 is an overlong NUL.
  writeFileSync(file("bad.bin"), new Uint8Array([0xff, 0xe2, 0x86, 0x61, 0xc0, 0x80, 0xf0, 0x9f]));
  const r = new TransactionalFileReader(file("bad.bin"));
  const seen: Array<[string | null, number]> = [];
  for (let i = 0; i < 6; i++) seen.push([r.readChar(), r.offset]);
  assert.equal(seen, [["\uFFFD", 1], ["\uFFFD", 3], ["a", 4], ["\uFFFD", 6], ["\uFFFD", 8], [null, 8]]);
});

reader("readChar() keeps multi-byte characters whole across read-ahead windows, at every alignment", () => {
  // 1 + 2 + 3 + 4 bytes per repeat: window edges fall inside characters at every phase.
  const content = "aé→😀".repeat(30_000);
  writeFileSync(file("long.txt"), content);
  const r = new TransactionalFileReader(file("long.txt"));
  let read = "";
  let bytes = 0;
  for (let char = r.readChar(); char !== null; char = r.readChar()) {
    bytes += Buffer.byteLength(char);
    assert.is(r.offset, bytes);
    read += char;
  }
  assert.ok(read === content, "characters differ");
});

reader("readLine() strips \\n and \\r\\n, returns a last line without newline, then null", () => {
  writeFileSync(file("lines.txt"), "héllo→😀\r\n\nsecond\nlast");
  const r = new TransactionalFileReader(file("lines.txt"));
  assert.is(r.readLine(), "héllo→😀");
  assert.is(r.offset, Buffer.byteLength("héllo→😀\r\n"));
  assert.is(r.readLine(), "");
  assert.is(r.readLine(), "second");
  assert.is(r.readLine(), "last");
  assert.is(r.offset, statSync(file("lines.txt")).size);
  assert.is(r.readLine(), null);
});

reader("readLine() reads lines longer than the read-ahead window", () => {
  const long = "é".repeat(100_000);
  writeFileSync(file("long.txt"), `${long}\nnext\n`);
  const r = new TransactionalFileReader(file("long.txt"));
  assert.is(r.readLine(), long);
  assert.is(r.readLine(), "next");
});

reader("readByte() returns bytes, and reading goes on once the file grows", () => {
  writeFileSync(file("grow.txt"), "a");
  const r = new TransactionalFileReader(file("grow.txt"));
  assert.is(r.readByte(), 0x61);
  assert.is(r.readByte(), null);
  appendFileSync(file("grow.txt"), "b\n");
  assert.is(r.readByte(), 0x62);
  assert.is(r.readChar(), "\n");
  assert.is(r.offset, 3);
});

reader("the file is opened lazily: a reader of a missing file is harmless until it reads", () => {
  const r = new TransactionalFileReader(file("later.txt"));
  writeFileSync(file("later.txt"), "ok\n");
  assert.is(r.readLine(), "ok");
});

reader("a missing file is a not_found FerryError naming the path", () => {
  const error = thrown(() => new TransactionalFileReader(file("missing.txt")).readChar());
  assert.is(error.code, "not_found");
  assert.is(error.message, `Cannot open "${file("missing.txt")}" for reading: no such file`);
});

reader("a relative path resolves against FERRY_CONFIG_DIR when the file is opened, and is named as given", () => {
  mkdirSync(file("data"));
  writeFileSync(file("data/in.txt"), "rel\n");
  const before = process.env.FERRY_CONFIG_DIR;
  try {
    const r = new TransactionalFileReader("data/in.txt");
    process.env.FERRY_CONFIG_DIR = dir;
    assert.is(r.readLine(), "rel");
    assert.is(r.path, "data/in.txt");
    const error = thrown(() => new TransactionalFileReader("data/nope.txt").readLine());
    assert.ok(error.message.startsWith('Cannot open "data/nope.txt" for reading: no such file'), error.message);
    assert.ok(error.message.includes(file("data/nope.txt")), error.message);
  } finally {
    if (before === undefined) delete process.env.FERRY_CONFIG_DIR;
    else process.env.FERRY_CONFIG_DIR = before;
  }
});

reader("a directory is a FerryError too, not a crash", () => {
  const error = thrown(() => new TransactionalFileReader(dir).readByte());
  assert.match(error.message, /^Cannot (open|read) ".*": it is a directory$/);
});

reader.run();

// --- writer ------------------------------------------------------------------------------------

const writer = suite("TransactionalFileWriter");
setup(writer);

writer("write() moves the offset by the UTF-8 byte length; writeLine() adds a newline", () => {
  const w = new TransactionalFileWriter(file("out.txt"));
  w.write("héllo→😀");
  assert.is(w.offset, 13);
  w.writeLine("!");
  w.write(new Uint8Array([0x41]));
  assert.is(w.offset, 16);
  assert.is(text("out.txt"), "héllo→😀!\nA");
});

writer("a new writer starts its file afresh, so a restart without a checkpoint does not append twice", () => {
  writeFileSync(file("out.txt"), "old content that is longer\n");
  const w = new TransactionalFileWriter(file("out.txt"));
  assert.is(text("out.txt"), "old content that is longer\n", "opened lazily: untouched before the first write");
  w.writeLine("new");
  assert.is(text("out.txt"), "new\n");
});

writer("flush() creates the file even when nothing was written", () => {
  new TransactionalFileWriter(file("empty.txt")).flush();
  assert.is(text("empty.txt"), "");
});

writer("close() flushes; the next write reopens the file and goes on at the offset", () => {
  const w = new TransactionalFileWriter(file("out.txt"));
  w.writeLine("a");
  w.close();
  w.close();
  w.writeLine("b");
  assert.is(text("out.txt"), "a\nb\n");
});

writer("a missing folder is a not_found FerryError naming the path", () => {
  const error = thrown(() => new TransactionalFileWriter(file("no/such/out.txt")).write("x"));
  assert.is(error.code, "not_found");
  assert.is(error.message, `Cannot open "${file("no/such/out.txt")}" for writing: no such directory`);
});

writer("a file shorter than the offset (changed outside Ferry) is refused, not padded", () => {
  writeFileSync(file("short.txt"), "abc");
  const error = thrown(() => new TransactionalFileWriter(file("short.txt"), 10).write("x"));
  assert.match(error.message, /at byte 10: the file has only 3 bytes/);
  assert.is(text("short.txt"), "abc");
});

writer("two writers on different files are independent, also across a restore", () => {
  const a = new TransactionalFileWriter(file("a.txt"));
  const b = new TransactionalFileWriter(file("b.txt"));
  for (let i = 0; i < 5; i++) {
    a.writeLine(`a${i}`);
    b.writeLine(`b${i}`);
  }
  const restored = migrate({ a });
  b.writeLine("b5");
  a.writeLine("lost copy"); // the old copy of `a` writes on after the capture…
  restored.a.writeLine("a5"); // …and the restored one replaces that
  assert.is(text("a.txt"), "a0\na1\na2\na3\na4\na5\n");
  assert.is(text("b.txt"), "b0\nb1\nb2\nb3\nb4\nb5\n");
  assert.is(b.offset, 18);
});

writer.run();

// --- snapshots ---------------------------------------------------------------------------------

const snapshots = suite("file streams in snapshots");
setup(snapshots);

snapshots("a round trip of an object holding a reader and a writer continues at the same offsets", () => {
  writeFileSync(file("in.txt"), "héllo→😀\nsecond line\n");
  const r = new TransactionalFileReader(file("in.txt"));
  const w = new TransactionalFileWriter(file("out.txt"));
  assert.is(r.readChar(), "h");
  assert.is(r.readChar(), "é");
  w.write("→");
  const state = migrate({ job: { input: r, output: w, partial: "hé" }, alias: r });
  const { input, output } = state.job as { input: TransactionalFileReader; output: TransactionalFileWriter; partial: string };
  assert.ok(input instanceof TransactionalFileReader);
  assert.ok(output instanceof TransactionalFileWriter);
  assert.is(state.alias, input, "a stream shared by two fields stays one object");
  assert.is(input.path, r.path);
  assert.is(input.offset, 3);
  assert.is(output.offset, 3);
  assert.is(input.readLine(), "llo→😀");
  assert.is(input.readLine(), "second line");
  output.writeLine("😀");
  assert.is(text("out.txt"), "→😀\n");
});

snapshots("a reader whose file is missing where it is restored refuses to resume, naming the file", () => {
  writeFileSync(file("in.txt"), "abcdef\n");
  const r = new TransactionalFileReader(file("in.txt"));
  r.readChar();
  const snapshot = encodeState({ className: "Probe", fields: { r } });
  rmSync(file("in.txt"));
  const error = thrown(() => decodeState(snapshot));
  assert.match(error.message, /Cannot continue reading ".*in\.txt" at byte 1 on this node: the file does not exist here/);
  assert.match(error.hint ?? "", /copy it there|shared filesystem/);
});

snapshots("a reader restored against a shorter copy of its file refuses to resume", () => {
  writeFileSync(file("in.txt"), "abcdef\n");
  const r = new TransactionalFileReader(file("in.txt"));
  const snapshot = encodeState({ className: "Probe", fields: { r } });
  writeFileSync(file("in.txt"), "abc\n");
  assert.match(thrown(() => decodeState(snapshot)).message, /the file here has 4 bytes, 7 expected/);
  writeFileSync(file("in.txt"), "abcdef\nmore appended\n");
  assert.ok(decodeState(snapshot).fields.r instanceof TransactionalFileReader, "an input that grew is fine");
});

snapshots("a writer restored where its output is missing or shorter than its offset refuses to resume", () => {
  const w = new TransactionalFileWriter(file("out.txt"));
  w.writeLine("line 1");
  const snapshot = encodeState({ className: "Probe", fields: { w } });
  rmSync(file("out.txt"));
  assert.match(thrown(() => decodeState(snapshot)).message, /Cannot continue writing ".*out\.txt" at byte 7 on this node: the file does not exist here/);
  const fresh = encodeState({ className: "Probe", fields: { w: new TransactionalFileWriter(file("new.txt")) } });
  assert.ok(decodeState(fresh).fields.w instanceof TransactionalFileWriter, "a writer at offset 0 may start its file anywhere");
});

snapshots("restore-then-write truncates what a copy wrote past the captured offset", () => {
  const w = new TransactionalFileWriter(file("out.txt"));
  w.writeLine("kept 1");
  w.writeLine("kept 2");
  const snapshot = encodeState({ className: "Probe", fields: { w } });
  w.writeLine("written after the checkpoint by a copy that then crashed");
  const restored = (decodeState(snapshot).fields as { w: TransactionalFileWriter }).w;
  assert.is(restored.offset, 14);
  assert.ok(statSync(file("out.txt")).size > 14, "opened lazily: untouched until the first write");
  restored.writeLine("kept 3");
  assert.is(text("out.txt"), "kept 1\nkept 2\nkept 3\n");
  // Restored twice from the same checkpoint (crash again): still no duplicate.
  const again = (decodeState(snapshot).fields as { w: TransactionalFileWriter }).w;
  again.writeLine("kept 3");
  assert.is(text("out.txt"), "kept 1\nkept 2\nkept 3\n");
});

snapshots("a restored writer that never writes drops the stale tail on flush()", () => {
  const w = new TransactionalFileWriter(file("out.txt"));
  w.writeLine("done");
  const restored = migrate({ w }).w;
  w.writeLine("stale");
  restored.flush();
  assert.is(text("out.txt"), "done\n");
});

snapshots("a capture fsyncs the written file before it records the offset", () => {
  const w = new TransactionalFileWriter(file("out.txt"));
  const r = new TransactionalFileReader(file("out.txt"));
  w.writeLine("durable");
  const synced: number[] = [];
  const original = fs.fsyncSync;
  fs.fsyncSync = (fd: number) => {
    synced.push(fd);
    original(fd);
  };
  syncBuiltinESMExports();
  let bytes: Uint8Array;
  try {
    bytes = encodeState({ className: "Probe", fields: { w, r } });
  } finally {
    fs.fsyncSync = original;
    syncBuiltinESMExports();
  }
  assert.is(synced.length, 1, "one fsync, for the writer (nothing to flush for a reader)");
  const back = decodeState(bytes).fields as { w: TransactionalFileWriter };
  assert.is(back.w.offset, 8);
  assert.is(statSync(file("out.txt")).size, 8);
});

snapshots("a writer never opened is captured without touching the file system", () => {
  const w = new TransactionalFileWriter(file("never/out.txt"));
  const back = migrate({ w }).w;
  assert.is(back.offset, 0);
  assert.is(back.path, file("never/out.txt"));
});

snapshots("malformed stream data in a snapshot is refused as snapshot_corrupt", () => {
  for (const tag of [READER_TAG, WRITER_TAG]) {
    const error = thrown(() => decode(encode(new Tag({ path: "x", offset: -1 }, tag))));
    assert.is(error.code, "snapshot_corrupt");
  }
});

snapshots.run();
