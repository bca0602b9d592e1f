/**
 * A small disk to fill up: a real 64 KiB tmpfs, so full-disk behaviour is tested against the
 * kernel's own ENOSPC and short writes. Where mounting is not permitted (not root, no `mount`),
 * a directory on the ordinary disk stands in, with a StorageFs whose writes run out of room the
 * same way (a short write into the last free bytes, then ENOSPC), so no test is ever skipped.
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { nodeStorageFs } from "../../../daemon/store/fs.ts";
import type { StorageFs } from "../../../daemon/store/fs.ts";

export interface SmallDisk {
  /** The (empty) directory on the small disk. */
  dir: string;
  /** What to pass as `fs` to the store: undefined (the real calls) on a real mount. */
  fs: StorageFs | undefined;
  /** Whether `dir` is a real tmpfs. */
  real: boolean;
  /** Takes the free space until a write fails with ENOSPC. */
  fill(): void;
  /** Gives the space taken by `fill()` back. */
  free(): void;
  /** Unmounts and removes the disk; idempotent. */
  close(): void;
}

const SIZE = "64k";
/** What the stand-in leaves free after `fill()`: a partial page, as a real filesystem does. */
const SLACK_BYTES = 100;
let fallbackNoted = false;

/**
 * Mounts a fresh small disk; call `close()` in a finally.
 *
 * @example
 * ```ts
 * const disk = smallDisk();
 * try { disk.fill(); } finally { disk.close(); }
 * ```
 */
export function smallDisk(): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), "ferry-small-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${SIZE}`, "tmpfs", dir], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    if (!fallbackNoted) {
      fallbackNoted = true;
      process.stderr.write(`small-disk: cannot mount a ${SIZE} tmpfs (${String((error as { stderr?: unknown }).stderr ?? error).trim()}); a disk that runs out of room through an injected fs stands in\n`);
    }
    return standIn(dir);
  }
  const filler = join(dir, "filler");
  let closed = false;
  return {
    dir,
    fs: undefined,
    real: true,
    fill() {
      const fd = openSync(filler, "a");
      const chunk = new Uint8Array(4096);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as { code?: string }).code !== "ENOSPC") throw error;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        execFileSync("umount", [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function standIn(dir: string): SmallDisk {
  let room = Infinity;
  const take = (length: number): number => {
    if (room <= 0) {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
    }
    const n = Math.min(length, room);
    room -= n;
    return n;
  };
  const fs: StorageFs = {
    ...nodeStorageFs,
    writeSync: (fd, buffer, offset, length) => nodeStorageFs.writeSync(fd, buffer, offset, take(length)),
    async open(path, flags) {
      const handle = await nodeStorageFs.open(path, flags);
      return {
        write: (buffer, offset, length) => handle.write(buffer, offset, take(length)),
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
    },
  };
  return {
    dir,
    fs,
    real: false,
    fill: () => void (room = SLACK_BYTES),
    free: () => void (room = Infinity),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
