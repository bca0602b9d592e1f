// Shared by the executor tests: a real pool whose events are recorded, process modules written to
// a temp dir, and waits on states (never fixed sleeps).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecutorPool, type PoolOptions } from "../../../daemon/executor/pool.ts";
import type { WireError } from "../../../daemon/executor/protocol.ts";
import { decodeValue } from "../../../daemon/snapshot/mod.ts";
import type { Test } from "uvu";
import { rejection } from "../../helpers/assert.ts";
export { rejection };

export interface Recorded {
  exits: Array<{ name: string; outcome: string; error?: WireError }>;
  logs: Array<{ name: string; stream: string; text: string }>;
  lost: Array<{ names: string[]; reason: string; culprit?: string }>;
}

/** A temp dir holding `modules` (file name -> source) as an ES module package. */
export function moduleDir(modules: Record<string, string>): { dir: string; path(module: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ferry-executor-"));
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  for (const [file, text] of Object.entries(modules)) writeFileSync(join(dir, file), text);
  return { dir, path: (module) => join(dir, `${module}.ts`), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A pool of one worker (unless told otherwise) recording every event. */
export function recordingPool(options: Partial<PoolOptions> = {}): { pool: ExecutorPool; seen: Recorded } {
  const seen: Recorded = { exits: [], logs: [], lost: [] };
  const pool = new ExecutorPool({ size: 1, memoryMb: 256, stallMs: 10_000, ...options }, {
    exit: (name, outcome, error) => seen.exits.push(error ? { name, outcome, error } : { name, outcome }),
    log: (name, stream, text) => seen.logs.push({ name, stream, text }),
    lost: (names, reason, culprit) => seen.lost.push(culprit === undefined ? { names, reason } : { names, reason, culprit }),
  });
  return { pool, seen };
}

/**
 * Pools for the tests of `suite`, one per test: the function returned makes a recording pool
 * ({@link recordingPool}), closed after its test; `modules` are removed after the suite.
 */
export function poolPerTest(suite: Test, modules: { remove(): void }): (options?: Partial<PoolOptions>) => { pool: ExecutorPool; seen: Recorded } {
  let current: ExecutorPool | undefined;
  suite.after.each(async () => {
    await current?.close();
    current = undefined;
  });
  suite.after(() => modules.remove());
  return (options = {}) => {
    const made = recordingPool(options);
    current = made.pool;
    return made;
  };
}

export function startReq(modulePath: string, name: string, extra: { args?: string[]; snapshot?: Uint8Array; hold?: boolean } = {}) {
  return {
    name,
    modulePath,
    moduleVersion: "v1",
    args: extra.args ?? [],
    generation: 0,
    hold: extra.hold ?? false,
    ...(extra.snapshot ? { snapshot: extra.snapshot } : {}),
  };
}

export async function call<T = unknown>(pool: ExecutorPool, name: string, method: string, args: string[] = []): Promise<T> {
  const { value } = await pool.request({ type: "call", name, method, args });
  return decodeValue(value) as T;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check()` is truthy; fails with `what` after `ms`. */
export async function until<T>(check: () => T | Promise<T>, what: string, ms = 10_000): Promise<Exclude<T, false | 0 | null | undefined | "">> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | 0 | null | undefined | "">;
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Whether `promise` settles within `ms` (a bound on something that must not hang). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const settled = promise.then(() => true, () => true);
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

