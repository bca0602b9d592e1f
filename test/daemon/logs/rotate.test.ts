import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RotatingFile } from "../../../daemon/logs/rotate.ts";

const line = (i: number) => `line ${String(i).padStart(4, "0")}\n`; // 10 bytes

test("append() rotates before a write would pass maxFileBytes and keeps only `files` files", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-rotate-"));
  try {
    const base = join(dir, "counter.log");
    const file = new RotatingFile(base, { maxFileBytes: 30, files: 3 });
    for (let i = 1; i <= 10; i++) await file.append(line(i));
    // 3 lines a file: 1-3 were dropped with the oldest file, 4-6 in .2, 7-9 in .1, 10 current.
    assert.is(readFileSync(base, "utf8"), line(10));
    assert.is(readFileSync(`${base}.1`, "utf8"), line(7) + line(8) + line(9));
    assert.is(readFileSync(`${base}.2`, "utf8"), line(4) + line(5) + line(6));
    assert.not.ok(existsSync(`${base}.3`));
    assert.is(await file.readAll(), [4, 5, 6, 7, 8, 9, 10].map(line).join(""));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file larger than the limit gets a file of its own; files: 1 starts the file anew", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-rotate-"));
  try {
    const base = join(dir, "big.log");
    const file = new RotatingFile(base, { maxFileBytes: 15, files: 1 });
    await file.append(line(1));
    await file.append(line(2) + line(3)); // 20 bytes: over the limit on its own
    assert.is(readFileSync(base, "utf8"), line(2) + line(3));
    await file.append(line(4));
    assert.is(await file.readAll(), line(4));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a new RotatingFile over an existing log continues its size", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-rotate-"));
  try {
    const base = join(dir, "again.log");
    await new RotatingFile(base, { maxFileBytes: 20, files: 2 }).append(line(1) + line(2));
    await new RotatingFile(base, { maxFileBytes: 20, files: 2 }).append(line(3));
    assert.is(readFileSync(`${base}.1`, "utf8"), line(1) + line(2));
    assert.is(readFileSync(base, "utf8"), line(3));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
