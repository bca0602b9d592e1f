/**
 * An advisory lock on a file, so that several `ferry` commands editing cluster.yaml at once take
 * turns: each reads, edits and writes the file while holding it, and no edit is lost.
 *
 * The lock is a file next to the locked one (`.cluster.yaml.lock`), created with O_EXCL, which is
 * atomic on local filesystems and NFSv3+. It records who holds it. A holder that died (a killed
 * command) leaves it behind: a lock whose process is gone from this machine, or that is older
 * than `staleMs`, is broken. Breaking renames the lock aside first and puts it back if it turns
 * out to be a fresh one, so that two commands breaking the same stale lock cannot both take it.
 *
 * @example
 * ```ts
 * await withFileLock("cluster.yaml", async () => {
 *   const text = await readFile("cluster.yaml", "utf8");
 *   await writeFile("cluster.yaml", edit(text));
 * });
 * ```
 * @module
 */
import { randomUUID } from "../daemon/builtins/crypto.ts";
// Synchronous on purpose: each of these calls on a small local file takes microseconds on the
// calling thread, where a promise-based one is a round trip through libuv's thread pool (which a
// fresh command first has to start): some 3 ms of every `ferry migrate`.
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { FerryError } from "../daemon/errors.ts";

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /**
   * Give up waiting for another holder after this long (a `FerryError` "timeout").
   * @default 15000
   */
  waitMs?: number;
  /**
   * A lock this old is broken even when its holder cannot be checked (another machine sharing
   * the folder). Edits take well under a second.
   * @default 30000
   */
  staleMs?: number;
}

/** What a lock file says about its holder. */
interface Holder {
  pid: number;
  host: string;
  token: string;
}

/** A lock file as found: its raw content (empty while its creator is still writing it) and age. */
interface Found {
  raw: string;
  holder: Holder | undefined;
  ageMs: number;
}

/**
 * The lock file that guards `file`: a hidden sibling, so it is on the same filesystem.
 *
 * @example
 * ```ts
 * lockPathOf("/srv/ferry/cluster.yaml"); // "/srv/ferry/.cluster.yaml.lock"
 * ```
 */
export function lockPathOf(file: string): string {
  const target = resolve(file);
  return join(dirname(target), `.${basename(target)}.lock`);
}

/**
 * Runs `fn` while holding the lock of `file`, waiting for another holder to finish first;
 * releases it however `fn` ends.
 *
 * @example
 * ```ts
 * const text = await withFileLock("cluster.yaml", () => readFile("cluster.yaml", "utf8"));
 * ```
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const path = lockPathOf(file);
  const token = await acquire(file, path, options.waitMs ?? 15_000, options.staleMs ?? 30_000);
  try {
    return await fn();
  } finally {
    release(path, token);
  }
}

async function acquire(file: string, path: string, waitMs: number, staleMs: number): Promise<string> {
  const token = randomUUID();
  const body = JSON.stringify({ pid: process.pid, host: hostname(), token, since: new Date().toISOString() } satisfies Holder & { since: string });
  const deadline = Date.now() + waitMs;
  let delay = 2;
  while (true) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeFileSync(fd, body, "utf8");
      } finally {
        closeSync(fd);
      }
      return token;
    } catch (error) {
      if (codeOf(error) !== "EEXIST") {
        throw new FerryError("storage_failed", `Cannot lock "${shown(file)}" for editing: ${(error as Error).message}`, {
          hint: `ferry needs to create ${basename(path)} next to it`,
          cause: error,
        });
      }
    }
    const found = inspect(path);
    if (!found) continue; // released between our attempt and the look
    if (isStale(found, staleMs)) {
      breakLock(path, found);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = found.holder ? ` (pid ${found.holder.pid} on ${found.holder.host})` : "";
      throw new FerryError("timeout", `Cannot edit "${shown(file)}": another command has held its lock for ${Math.round(found.ageMs)} ms${who}`, {
        hint: `try again; if no ferry command is running, remove ${relative(process.cwd(), path) || path}`,
      });
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

function release(path: string, token: string): void {
  // Only our own lock: had it been broken as stale, the file now belongs to someone else.
  const found = inspect(path);
  if (found?.holder?.token === token) rmSync(path, { force: true });
}

function inspect(path: string): Found | undefined {
  try {
    const raw = readFileSync(path, "utf8");
    const info = statSync(path);
    return { raw, holder: parseHolder(raw), ageMs: Math.max(0, Date.now() - info.mtimeMs) };
  } catch (error) {
    if (codeOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

function isStale(found: Found, staleMs: number): boolean {
  if (found.ageMs > staleMs) return true;
  const holder = found.holder;
  if (!holder || holder.host !== hostname() || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    // EPERM: alive, owned by another user.
    return codeOf(error) === "ESRCH";
  }
}

/**
 * Removes a stale lock. Renamed aside first: if another command broke it meanwhile and took a
 * fresh lock, what was moved is that fresh lock, which is put back (unless a third took the
 * place, which `link` refuses to overwrite).
 */
function breakLock(path: string, stale: Found): void {
  const aside = `${path}.${randomUUID().slice(0, 8)}.stale`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (codeOf(error) === "ENOENT") return;
    throw error;
  }
  try {
    let moved = stale.raw;
    try {
      moved = readFileSync(aside, "utf8");
    } catch {
      // Gone already: nothing to put back.
    }
    if (moved !== stale.raw) {
      try {
        linkSync(aside, path);
      } catch {
        // Another command took the lock meanwhile: it is theirs.
      }
    }
  } finally {
    rmSync(aside, { force: true });
  }
}

function parseHolder(raw: string): Holder | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== "object" || value === null) return undefined;
    const { pid, host, token } = value as Record<string, unknown>;
    return typeof pid === "number" && typeof host === "string" && typeof token === "string" ? { pid, host, token } : undefined;
  } catch {
    return undefined;
  }
}

function codeOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

function shown(file: string): string {
  return relative(process.cwd(), resolve(file)) || file;
}
