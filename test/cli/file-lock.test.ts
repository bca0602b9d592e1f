import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isFerryError } from "../../daemon/errors.ts";
import { lockPathOf, withFileLock } from "../../cli/file-lock.ts";

let dir = "";
let file = "";

test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-lock-"));
  file = join(dir, "cluster.yaml");
  await writeFile(file, "0");
});

test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited: a holder that died without releasing its lock. */
function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", () => resolve(child.pid!));
  });
}

function lockBody(pid: number, token = "someone-else"): string {
  return JSON.stringify({ pid, host: hostname(), token, since: new Date().toISOString() });
}

test("lockPathOf() names a hidden sibling of the file", () => {
  assert.is(lockPathOf("/srv/ferry/cluster.yaml"), "/srv/ferry/.cluster.yaml.lock");
});

test("withFileLock() makes concurrent read-modify-writes take turns, losing none", async () => {
  const bump = () =>
    withFileLock(file, async () => {
      const n = Number(await readFile(file, "utf8"));
      await new Promise((r) => setTimeout(r, 1)); // a gap in which an unlocked writer would interleave
      await writeFile(file, String(n + 1));
    });
  await Promise.all(Array.from({ length: 20 }, bump));
  assert.is(await readFile(file, "utf8"), "20");
  assert.equal(await readdir(dir), ["cluster.yaml"]);
});

test("withFileLock() returns what fn returns, and releases the lock when fn throws", async () => {
  assert.is(await withFileLock(file, () => Promise.resolve(42)), 42);
  let caught: unknown;
  try {
    await withFileLock(file, () => Promise.reject(new Error("edit failed")));
  } catch (error) {
    caught = error;
  }
  assert.is((caught as Error).message, "edit failed");
  assert.equal(await readdir(dir), ["cluster.yaml"]);
});

test("withFileLock() waits while another holds the lock and proceeds once it is released", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const first = withFileLock(file, async () => {
    entered();
    await held;
  });
  await inside;
  let secondRan = false;
  const second = withFileLock(file, async () => {
    secondRan = true;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(secondRan, "the second waited for the first");
  release();
  await Promise.all([first, second]);
  assert.ok(secondRan);
});

test("withFileLock() takes over a lock left by a process that is gone", async () => {
  await writeFile(lockPathOf(file), lockBody(await deadPid()));
  const value = await withFileLock(file, () => Promise.resolve("got it"), { waitMs: 5_000 });
  assert.is(value, "got it");
  assert.equal(await readdir(dir), ["cluster.yaml"]);
});

test("withFileLock() takes over a lock older than staleMs, even one it cannot read", async () => {
  const path = lockPathOf(file);
  await writeFile(path, "");
  const old = new Date(Date.now() - 60_000);
  await utimes(path, old, old);
  assert.is(await withFileLock(file, () => Promise.resolve("got it"), { waitMs: 5_000, staleMs: 30_000 }), "got it");
});

test("withFileLock() gives up on a live holder after waitMs, naming it, and leaves its lock alone", async () => {
  const path = lockPathOf(file);
  const body = lockBody(process.ppid);
  await writeFile(path, body);
  let caught: unknown;
  try {
    await withFileLock(file, () => Promise.resolve(), { waitMs: 200 });
  } catch (error) {
    caught = error;
  }
  assert.ok(isFerryError(caught), `expected a FerryError, got ${String(caught)}`);
  assert.is(caught.code, "timeout");
  assert.match(caught.message, new RegExp(`^Cannot edit "[^"]*cluster\\.yaml": another command has held its lock for \\d+ ms \\(pid ${process.ppid} on `));
  assert.match(caught.hint ?? "", /\.cluster\.yaml\.lock/);
  assert.is(await readFile(path, "utf8"), body);
});

test("withFileLock() does not remove a lock that was taken from it as stale", async () => {
  const path = lockPathOf(file);
  const body = lockBody(process.ppid, "the-new-holder");
  await withFileLock(file, async () => {
    // As if this holder had stalled past staleMs and another command had broken its lock.
    await rm(path);
    await writeFile(path, body);
  });
  assert.is(await readFile(path, "utf8"), body);
});

test.run();
