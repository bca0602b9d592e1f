import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, constants, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeStorageFs, type StorageFs } from "../../../daemon/store/fs.ts";
import { Journal, JOURNAL_FILE, type JournalRecord } from "../../../daemon/store/journal.ts";

let dir = "";
const open: Journal[] = [];

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-journal-"));
});

test.after.each(() => {
  for (const j of open.splice(0)) j.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openJournal(): Promise<Journal> {
  const journal = await Journal.open(dir);
  open.push(journal);
  return journal;
}

/** Closes `journal` and opens the same directory again, as a restarted daemon would. */
async function reopen(journal: Journal): Promise<Journal> {
  journal.close();
  return openJournal();
}

function own(name: string, generation = 0, extra: Partial<Extract<JournalRecord, { op: "own" }>> = {}): JournalRecord {
  return { op: "own", name, module: "Counter", args: ["a"], generation, migrations: generation, lastDowntimeMs: null, ...extra };
}

function prepared(name: string, handoffId: string, generation = 1): JournalRecord {
  return { op: "prepared", name, module: "Counter", args: [], generation, migrations: 1, lastDowntimeMs: null, from: "alpha", handoffId };
}

function lines(): string[] {
  return readFileSync(join(dir, "journal.ndjson"), "utf8").split("\n").filter(Boolean);
}

test("Journal.open() starts empty in a new directory and creates the file", async () => {
  const journal = await openJournal();
  assert.is(journal.state.owned.size, 0);
  assert.is(journal.state.released.size, 0);
  assert.is(journal.state.aborted.size, 0);
  assert.equal(lines(), []);
});

test("append() applies records to state only once they are durable, and reopen replays them", async () => {
  let journal = await openJournal();
  const done = journal.append(own("counter", 2, { memoryMb: 64, lastDowntimeMs: 12.5 }), own("sorter"));
  assert.not.ok(journal.state.owned.has("counter"), "state showed a record before it was on disk");
  await done;
  assert.is(journal.state.owned.get("counter")?.status, "owned");
  journal = await reopen(journal);
  assert.equal(journal.state.owned.get("counter"), {
    name: "counter", module: "Counter", args: ["a"], generation: 2, migrations: 2, lastDowntimeMs: 12.5, memoryMb: 64, status: "owned",
  });
  assert.equal([...journal.state.owned.keys()].sort(), ["counter", "sorter"]);
});

test("durable() resolves once pending appends are on disk, at once when none are", async () => {
  const journal = await openJournal();
  await journal.durable();
  void journal.append(own("counter", 3));
  assert.not.ok(journal.state.owned.has("counter"));
  await journal.durable();
  assert.is(journal.state.owned.get("counter")?.generation, 3);
  assert.is(lines().length, 1);
});

test("a checkpoint record keeps the time it was taken through compaction and reopen", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 1), { op: "checkpoint", name: "counter", generation: 1, data: "AAAA", at: 1767225600123 });
  journal = await reopen(journal);
  journal = await reopen(journal);
  assert.equal(journal.state.checkpoints.get("counter"), { generation: 1, data: "AAAA", at: 1767225600123 });
});

test("a later own record of the same name replaces the earlier one", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 0));
  await journal.append(own("counter", 1, { args: ["b"] }));
  journal = await reopen(journal);
  assert.is(journal.state.owned.get("counter")?.generation, 1);
  assert.equal(journal.state.owned.get("counter")?.args, ["b"]);
});

test("a released record leaves a tombstone that survives reopen", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 0));
  await journal.append({ op: "released", name: "counter", generation: 1, to: "beta", handoffId: "h-released-1" });
  assert.not.ok(journal.state.owned.has("counter"));
  journal = await reopen(journal);
  assert.not.ok(journal.state.owned.has("counter"));
  assert.equal(journal.state.released.get("counter"), { generation: 1, to: "beta", handoffId: "h-released-1" });
  journal = await reopen(journal);
  assert.equal(journal.state.released.get("counter"), { generation: 1, to: "beta", handoffId: "h-released-1" });
});

test("owning a released process again clears its tombstone", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 0), { op: "released", name: "counter", generation: 1, to: "beta", handoffId: "h-released-1" });
  await journal.append(own("counter", 2));
  journal = await reopen(journal);
  assert.not.ok(journal.state.released.has("counter"));
  assert.is(journal.state.owned.get("counter")?.generation, 2);
});

test("a prepared hand-off survives reopen with its source and id", async () => {
  let journal = await openJournal();
  await journal.append(prepared("counter", "h-prepared-1"));
  journal = await reopen(journal);
  const p = journal.state.owned.get("counter");
  assert.is(p?.status, "prepared");
  assert.is(p?.from, "alpha");
  assert.is(p?.handoffId, "h-prepared-1");
  assert.is(p?.generation, 1);
});

test("prepared then aborted with the same handoffId drops the process, also after reopen", async () => {
  let journal = await openJournal();
  await journal.append(prepared("counter", "h-abort-1"));
  await journal.append({ op: "aborted", name: "counter", generation: 1, handoffId: "h-abort-1" });
  assert.not.ok(journal.state.owned.has("counter"));
  assert.ok(journal.state.aborted.has("h-abort-1"));
  journal = await reopen(journal);
  assert.not.ok(journal.state.owned.has("counter"));
  assert.ok(journal.state.aborted.has("h-abort-1"));
});

test("aborted hand-off ids are still known after a second reopen (compaction keeps them)", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 0), { op: "aborted", name: "counter", generation: 0, handoffId: "h-abort-2" });
  journal = await reopen(journal);
  journal = await reopen(journal);
  assert.ok(journal.state.aborted.has("h-abort-2"), "an aborted hand-off was forgotten once the journal was compacted");
});

test("aborted with another handoffId keeps the prepared process; aborted never drops an owned one", async () => {
  let journal = await openJournal();
  await journal.append(prepared("incoming", "h-current"), own("mine", 3));
  await journal.append(
    { op: "aborted", name: "incoming", generation: 1, handoffId: "h-stale-1" },
    { op: "aborted", name: "mine", generation: 3, handoffId: "h-mine-1" },
  );
  journal = await reopen(journal);
  assert.is(journal.state.owned.get("incoming")?.status, "prepared");
  assert.is(journal.state.owned.get("incoming")?.handoffId, "h-current");
  assert.is(journal.state.owned.get("mine")?.status, "owned");
});

test("completed and failed records set the status, generation and error, and survive reopen", async () => {
  let journal = await openJournal();
  await journal.append(own("done", 0), own("broken", 0));
  await journal.append({ op: "completed", name: "done", generation: 1 }, { op: "failed", name: "broken", generation: 2, error: "run() threw: boom" });
  journal = await reopen(journal);
  assert.is(journal.state.owned.get("done")?.status, "completed");
  assert.is(journal.state.owned.get("done")?.generation, 1);
  const broken = journal.state.owned.get("broken");
  assert.is(broken?.status, "failed");
  assert.is(broken?.generation, 2);
  assert.is(broken?.error, "run() threw: boom");
  journal = await reopen(journal);
  assert.is(journal.state.owned.get("broken")?.error, "run() threw: boom");
});

test("completed for a process not owned here changes nothing", async () => {
  let journal = await openJournal();
  await journal.append({ op: "completed", name: "ghost", generation: 1 });
  journal = await reopen(journal);
  assert.not.ok(journal.state.owned.has("ghost"));
});

test("removed forgets both the process and its tombstone", async () => {
  let journal = await openJournal();
  await journal.append(own("a"), own("b"), { op: "released", name: "b", generation: 1, to: "beta", handoffId: "h-removed-1" });
  await journal.append({ op: "removed", name: "a" }, { op: "removed", name: "b" });
  journal = await reopen(journal);
  assert.is(journal.state.owned.size, 0);
  assert.is(journal.state.released.size, 0);
});

test("Journal.open() ignores a torn last line without a warning and later appends still survive", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 4));
  journal.close();
  appendFileSync(join(dir, "journal.ndjson"), '{"op":"own","name":"ghost","module":"X","ar');
  journal = await openJournal();
  assert.is(journal.state.owned.get("counter")?.generation, 4);
  assert.not.ok(journal.state.owned.has("ghost"));
  assert.equal(journal.warnings, []);
  await journal.append(own("after", 0));
  journal = await reopen(journal);
  assert.equal([...journal.state.owned.keys()].sort(), ["after", "counter"]);
});

test("Journal.open() ignores a complete record whose line was never ended (its write did not finish)", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 4));
  journal.close();
  appendFileSync(join(dir, "journal.ndjson"), JSON.stringify(own("unfinished")));
  journal = await openJournal();
  assert.not.ok(journal.state.owned.has("unfinished"));
  assert.ok(journal.state.owned.has("counter"));
});

test("Journal.open() skips an unreadable line in the middle, reports it with its line number and keeps the records after it", async () => {
  let journal = await openJournal();
  await journal.append(own("first"), own("second"));
  journal.close();
  const file = join(dir, "journal.ndjson");
  appendFileSync(file, "this is not json\n");
  appendFileSync(file, "null\n");
  appendFileSync(file, JSON.stringify(own("after-garbage")) + "\n");
  journal = await openJournal();
  assert.equal([...journal.state.owned.keys()].sort(), ["after-garbage", "first", "second"]);
  assert.is(journal.warnings.length, 2, journal.warnings.join("\n"));
  assert.ok(journal.warnings[0]!.startsWith(`${file}:3: unreadable record skipped (`), journal.warnings[0]);
  assert.match(journal.warnings[0]!, /JSON\)$/, "the reason is JSON.parse's");
  assert.ok(journal.warnings[1]!.startsWith(`${file}:4: unreadable record skipped (not a journal record)`), journal.warnings[1]);
  journal = await reopen(journal);
  assert.equal(journal.warnings, [], "the compacted journal still has the unreadable lines");
  assert.is(journal.state.owned.size, 3);
});

test("Journal.open() compacts the file to the current state", async () => {
  let journal = await openJournal();
  for (let g = 0; g < 30; g++) await journal.append(own("counter", g), { op: "completed", name: "counter", generation: g });
  await journal.append(own("other", 0), { op: "removed", name: "other" });
  assert.ok(lines().length >= 62);
  journal = await reopen(journal);
  assert.ok(lines().length <= 2, `compacted journal has ${lines().length} lines`);
  assert.is(journal.state.owned.get("counter")?.generation, 29);
  assert.is(journal.state.owned.get("counter")?.status, "completed");
  assert.not.ok(journal.state.owned.has("other"));
  journal = await reopen(journal);
  assert.is(journal.state.owned.get("counter")?.status, "completed");
});

test("a long-running journal compacts itself and keeps the state", async () => {
  let journal = await openJournal();
  const records: JournalRecord[] = [];
  for (let g = 0; g < 1100; g++) records.push(own("counter", g));
  await journal.append(...records);
  assert.ok(lines().length < 100, `journal still has ${lines().length} lines`);
  await journal.append(own("late", 0));
  journal = await reopen(journal);
  assert.is(journal.state.owned.get("counter")?.generation, 1099);
  assert.ok(journal.state.owned.has("late"));
});

test("append() calls made in one turn resolve together (group commit) and all survive reopen", async () => {
  let journal = await openJournal();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) writes.push(journal.append(own(`p${i}`, i)));
  await writes[0];
  assert.is(journal.state.owned.size, 200, "appends of one turn were not committed together");
  await Promise.all(writes);
  assert.is(lines().length, 200);
  journal = await reopen(journal);
  assert.is(journal.state.owned.size, 200);
  assert.is(journal.state.owned.get("p199")?.generation, 199);
});

/**
 * A journal in `dir` whose writes and fsyncs are counted from now on. `durable`: whether it may
 * open its file with O_DSYNC (each write durable as it returns, no fsync needed).
 */
async function countingJournal(durable = true): Promise<{ journal: Journal; calls: { write: number; fsync: number } }> {
  const calls = { write: 0, fsync: 0 };
  const { openDurableSync, ...plain } = nodeStorageFs;
  const counting: StorageFs = {
    ...plain,
    ...(durable && openDurableSync ? { openDurableSync } : {}),
    write: (...args) => (calls.write++, nodeStorageFs.write(...args)),
    fsync: (fd) => (calls.fsync++, nodeStorageFs.fsync(fd)),
  };
  const journal = await Journal.open(dir, { fs: counting });
  open.push(journal);
  calls.write = calls.fsync = 0;
  return { journal, calls };
}

test("appends of many callbacks of one event-loop iteration share the fsync after the first", async () => {
  const { journal, calls } = await countingJournal();
  // Like many executor replies or answers read in one poll: separate callbacks, one iteration.
  const writes = await new Promise<Promise<void>[]>((resolve) => {
    const out: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      setImmediate(() => {
        out.push(journal.append(own(`p${i}`, i)));
        if (out.length === 50) resolve(out);
      });
    }
  });
  await Promise.all(writes);
  assert.is(calls.write, 2, "the first callback's append alone, then the other 49 together");
  assert.is(calls.fsync, 0, "each write was durable as it returned");
  assert.is(journal.state.owned.size, 50);
});

test("1000 appends made in one turn cost one durable write (O_DSYNC), or one write and one fsync without it", async () => {
  for (const durable of [true, false]) {
    const { journal, calls } = await countingJournal(durable);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) writes.push(journal.append(own(`p${i % 10}`, i)));
    await Promise.all(writes);
    assert.equal(calls, { write: 1, fsync: durable ? 0 : 1 });
    assert.is(journal.state.owned.get("p9")?.generation, 999);
    await journal.close();
  }
});

test("the journal file is opened with O_DSYNC where the platform has it", async () => {
  if (!nodeStorageFs.openDurableSync) return;
  const journal = await openJournal();
  const fdinfo = readdirSync("/proc/self/fd").map((fd) => {
    try {
      return { link: readlinkSync(`/proc/self/fd/${fd}`), flags: Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!, 8) };
    } catch {
      return undefined;
    }
  });
  const file = fdinfo.find((f) => f?.link === join(dir, JOURNAL_FILE));
  assert.ok(file, "the journal's descriptor is open");
  assert.ok((file.flags & constants.O_DSYNC) === constants.O_DSYNC, `flags ${file.flags.toString(8)} include O_DSYNC`);
  await journal.close();
});

test("appends made while a group commit is being written form the next one, in order", async () => {
  const { journal, calls } = await countingJournal();
  const first = journal.append(own("p", 1));
  await new Promise((r) => setImmediate(r)); // the first group is on its way to the disk
  const second = [journal.append(own("p", 2)), journal.append(own("q", 1))];
  assert.is(journal.state.owned.get("p")?.generation, undefined, "a record was applied before its fsync");
  await first;
  await Promise.all(second);
  assert.equal(calls, { write: 2, fsync: 0 });
  assert.is(journal.state.owned.get("p")?.generation, 2);
  assert.equal(lines().map((l) => JSON.parse(l) as { name: string; generation: number }).map((r) => `${r.name}@${r.generation}`), ["p@1", "p@2", "q@1"]);
});

test("durable() waits for a group commit being written", async () => {
  const journal = await openJournal();
  const appended = journal.append(own("p", 1));
  await new Promise((r) => setImmediate(r));
  await journal.durable();
  assert.is(journal.state.owned.get("p")?.generation, 1);
  await appended;
});

test("append() with no records resolves once earlier appends are on disk", async () => {
  const journal = await openJournal();
  void journal.append(own("counter"));
  await journal.append();
  assert.is(lines().length, 1);
});

test("close() flushes pending appends; append() after close() rejects", async () => {
  let journal = await openJournal();
  const pending = journal.append(own("counter", 7));
  journal.close();
  await pending;
  journal.close();
  let rejected = false;
  await journal.append(own("late")).catch((error) => (rejected = error.code === "unavailable"));
  assert.ok(rejected, "append() after close() did not reject as unavailable");
  journal = await openJournal();
  assert.is(journal.state.owned.get("counter")?.generation, 7);
  assert.not.ok(journal.state.owned.has("late"));
});

test.run();
