// The journal on a disk that fills up (a real 64 KiB tmpfs; see small-disk.ts) and on one whose
// truncate fails: nothing acknowledged is lost, nothing refused is kept, nothing crashes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isFerryError } from "../../../daemon/errors.ts";
import type { FerryError } from "../../../daemon/errors.ts";
import { nodeStorageFs } from "../../../daemon/store/fs.ts";
import type { StorageFs } from "../../../daemon/store/fs.ts";
import { Journal, type JournalRecord } from "../../../daemon/store/journal.ts";
import { smallDisk, type SmallDisk } from "./small-disk.ts";

let disk: SmallDisk;
const open: Journal[] = [];

test.before.each(() => {
  disk = smallDisk();
});

test.after.each(() => {
  for (const j of open.splice(0)) j.close();
  disk.close();
});

async function openJournal(fs = disk.fs): Promise<Journal> {
  const journal = await Journal.open(disk.dir, fs ? { fs } : {});
  open.push(journal);
  return journal;
}

async function reopen(journal: Journal): Promise<Journal> {
  journal.close();
  return openJournal();
}

function own(name: string, generation = 0): JournalRecord {
  return { op: "own", name, module: "Counter", args: [], generation, migrations: 0, lastDowntimeMs: null };
}

/** A record larger than a page, so it cannot fit in the slack a full disk leaves in the file's last page. */
function big(name: string): JournalRecord {
  return { op: "own", name, module: "Counter", args: ["x".repeat(6000)], generation: 0, migrations: 0, lastDowntimeMs: null };
}

async function rejection(promise: Promise<unknown>): Promise<FerryError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
  return error as FerryError;
}

function fileBytes(journal: Journal): string {
  return readFileSync(journal.file, "utf8");
}

test("append() on a full disk rejects with storage_failed, leaves no partial record in the file and state unchanged", async () => {
  const journal = await openJournal();
  await journal.append(own("before"));
  const onDisk = fileBytes(journal);
  disk.fill();
  const first = journal.append(big("refused-1"));
  const second = journal.append(own("refused-2"));
  const error = await rejection(first);
  assert.is(error.code, "storage_failed");
  assert.is(error.message, `Cannot write the journal in "${disk.dir}": ENOSPC: no space left on device`);
  assert.is(error.hint, `free space in "${disk.dir}"; the node keeps running what it has`);
  assert.is((await rejection(second)).code, "storage_failed", "an append of the same flush resolved");
  assert.is(fileBytes(journal), onDisk, "the file kept part of a refused record");
  assert.equal([...journal.state.owned.keys()], ["before"]);
  assert.is(journal.healthy, false);
  assert.is(journal.lastError, error);
});

test("after space returns, appends work again and a reopen replays exactly the durable records", async () => {
  let journal = await openJournal();
  await journal.append(own("before"));
  disk.fill();
  await rejection(journal.append(big("refused")));
  disk.free();
  await journal.append(own("after"), big("large-after"));
  assert.is(journal.healthy, true);
  assert.is(journal.lastError, undefined);
  assert.equal([...journal.state.owned.keys()].sort(), ["after", "before", "large-after"]);
  journal = await reopen(journal);
  assert.equal([...journal.state.owned.keys()].sort(), ["after", "before", "large-after"]);
  assert.equal(journal.warnings, []);
});

test("durable() resolves after a flush that failed, with state holding only what is on disk", async () => {
  const journal = await openJournal();
  await journal.append(own("before"));
  disk.fill();
  const refused = journal.append(big("refused"));
  await journal.durable();
  assert.not.ok(journal.state.owned.has("refused"));
  assert.is((await rejection(refused)).code, "storage_failed");
});

test("an append nobody awaits that fails on a full disk raises no unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const journal = await openJournal();
    await journal.append(own("before"));
    disk.fill();
    void journal.append(big("ignored"));
    await journal.durable();
    assert.is(journal.healthy, false, "the append did not fail");
    // Unhandled rejections are reported after the microtask queue drains; give that a few turns.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("probe() says unhealthy while the disk is full and healthy once space returns", async () => {
  const journal = await openJournal();
  assert.is(journal.probe(), true);
  await journal.append(own("before"));
  disk.fill();
  await rejection(journal.append(big("refused")));
  assert.is(journal.probe(), false);
  assert.is(journal.healthy, false);
  disk.free();
  assert.is(journal.probe(), true);
  assert.is(journal.healthy, true);
  assert.not.ok(existsSync(join(disk.dir, "journal.probe")), "the probe left its file behind");
});

test("Journal.open() on a full disk opens without compacting, warns, and appends once space returns", async () => {
  let journal = await openJournal();
  for (let g = 0; g < 20; g++) await journal.append(own("counter", g));
  journal.close();
  const before = readFileSync(journal.file, "utf8");
  disk.fill();
  journal = await openJournal();
  assert.is(journal.state.owned.get("counter")?.generation, 19);
  assert.equal(journal.warnings, [`Cannot compact the journal in "${disk.dir}" (ENOSPC: no space left on device); appending to it as it is`]);
  assert.is(readFileSync(journal.file, "utf8"), before, "the uncompacted journal changed");
  assert.not.ok(existsSync(`${journal.file}.tmp`), "the failed compaction left its temp file taking space");
  disk.free();
  await journal.append(own("after"));
  journal = await reopen(journal);
  assert.equal([...journal.state.owned.keys()].sort(), ["after", "counter"]);
  assert.is(journal.state.owned.get("counter")?.generation, 19);
});

test("Journal.open() on a full disk cuts a torn last line off, so the next record starts on a line of its own", async () => {
  let journal = await openJournal();
  await journal.append(own("counter", 1), own("other", 1));
  journal.close();
  appendFileSync(journal.file, '{"op":"own","name":"torn","mod');
  disk.fill();
  journal = await openJournal();
  assert.not.ok(journal.state.owned.has("torn"));
  disk.free();
  await journal.append(own("after"));
  journal = await reopen(journal);
  assert.equal([...journal.state.owned.keys()].sort(), ["after", "counter", "other"]);
  assert.equal(journal.warnings, []);
});

// A truncate that fails cannot be produced on demand by a real disk: this one injects it.
test("when the file cannot be cut back after a failed write, the journal refuses every append until reopened", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-journal-broken-"));
  try {
    let failing = false;
    const eio = () => Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
    const storage: StorageFs = {
      ...nodeStorageFs,
      async write(fd, buffer, offset, length) {
        if (!failing) return nodeStorageFs.write(fd, buffer, offset, length);
        if (length > 10) return nodeStorageFs.write(fd, buffer, offset, 10); // part of the record lands
        throw eio();
      },
      ftruncateSync(fd, length) {
        if (failing) throw eio();
        nodeStorageFs.ftruncateSync(fd, length);
      },
    };
    let journal = await Journal.open(dir, { fs: storage });
    await journal.append(own("before"));
    failing = true;
    const error = await rejection(journal.append(own("refused")));
    assert.is(error.code, "storage_failed");
    assert.match(error.message, `Cannot write the journal in "${dir}": EIO: i/o error, and cannot cut it back to its last durable record (EIO: i/o error)`);
    assert.match(error.hint ?? "", "restart the node");
    failing = false;
    const again = await rejection(journal.append(own("later")));
    assert.is(again.code, "storage_failed", "a broken journal took an append");
    assert.is(journal.healthy, false);
    assert.is(journal.probe(), false, "probe() called a broken journal healthy");
    assert.equal([...journal.state.owned.keys()], ["before"]);
    await journal.close();
    journal = await Journal.open(dir, { fs: storage });
    try {
      assert.equal([...journal.state.owned.keys()], ["before"], "the torn part of the refused record was replayed");
      await journal.append(own("after-reopen"));
      assert.is(journal.healthy, true);
    } finally {
      journal.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
