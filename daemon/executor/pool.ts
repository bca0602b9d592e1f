/**
 * The daemon side of its executors: a fixed pool of worker threads that host the node's processes
 * (many per worker, so thousands of small processes cost little), plus a dedicated worker for each
 * process that declares a memory limit. Watches every worker's heartbeat: one that stalls past
 * `stallMs` or dies is replaced, and the processes it hosted are reported lost, with the one whose
 * code was running when it stalled named as the culprit. Every request has a timeout, so none
 * waits forever on a process that never answers.
 *
 * It also carries the node's liveness lease to its workers ({@link ExecutorPool.setLease}): once
 * the lease may have lapsed, no process takes another step until it is renewed, and processes
 * adopted elsewhere meanwhile can be evicted without ever running again.
 *
 * @example
 * ```ts
 * const pool = new ExecutorPool({ size: 2, memoryMb: 1024, stallMs: 5000 }, events);
 * await pool.start({ name: "counter", modulePath, moduleVersion: "3f2a9c0d1e4b", args: [], generation: 0, hold: false });
 * const { snapshot } = await pool.request({ type: "suspend", name: "counter", deadlineMs: 5000 });
 * ```
 * @module
 */
import { Worker } from "node:worker_threads";
import type { EventLoopUtilization } from "node:perf_hooks";
import { describeError, FerryError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { LeaseCell } from "./lease.ts";
import { defaultLogLimits } from "./log-limit.ts";
import type { LogLimits } from "./log-limit.ts";
import {
  ACTIVITY,
  Activity,
  BEAT,
  CLAIM_TIMED_OUT,
  CURRENT,
  EVICTED,
  LEASE_WAIT,
  OUT_OF_MEMORY,
  packBytes,
  SHARED_BYTES,
  stallDetail,
  unpackBytes,
  WAITED_UNDER,
} from "./protocol.ts";
import type { ExecutorData, FromWorker, ReplyValue, Request, ToWorker, WireError } from "./protocol.ts";

/** How long each kind of request may wait for the executor's answer, in ms. */
export interface RequestTimeouts {
  /** Load the module, construct or decode, resume(). @default 60000 */
  start: number;
  /** resume() before run() starts again. @default 30000 */
  activate: number;
  /** On top of the request's own `deadlineMs`: suspend() and the capture. @default 30000 */
  suspend: number;
  /** Encode the state. @default 30000 */
  capture: number;
  /** Hash the state and encode a pre-copy delta. @default 30000 */
  delta: number;
  /** @default 10000 */
  discard: number;
  /** The method's own run time included. @default 60000 */
  call: number;
  /** Load a module, per worker. @default 60000 */
  inspect: number;
  /** Load the new code, restore the fields into it, upgrade() and resume(). @default 60000 */
  upgrade: number;
  /** Copy out one chunk of a streamed snapshot. @default 30000 */
  read: number;
  /** Decode one chunk of a snapshot streaming in. @default 30000 */
  feed: number;
}

export const defaultTimeouts: Readonly<RequestTimeouts> = {
  start: 60_000,
  activate: 30_000,
  suspend: 30_000,
  capture: 30_000,
  delta: 30_000,
  discard: 10_000,
  call: 60_000,
  inspect: 60_000,
  upgrade: 60_000,
  read: 30_000,
  feed: 30_000,
};

export interface PoolOptions {
  /** Pooled workers at most; started as processes arrive. @default 2 */
  size: number;
  /** Heap limit of a pooled worker, in MiB. */
  memoryMb: number;
  /** A worker whose heartbeat stops for this long is restarted, its running process blamed. */
  stallMs: number;
  /** Per request type; a call's `timeoutMs` overrides. @default {@link defaultTimeouts} */
  timeouts?: Partial<RequestTimeouts>;
  /** Console lines per second per process, on average. @default 200 */
  logLinesPerSecond?: number;
  /** Console lines a process may print at once. @default 1000 */
  logLineBurst?: number;
  /** Console bytes per second per process, on average. @default 262144 (256 KiB) */
  logBytesPerSecond?: number;
  /** Console bytes a process may print at once. @default 1048576 (1 MiB) */
  logByteBurst?: number;
  /** A longer console line is truncated, with a marker. @default 16384 (16 KiB) */
  logMaxLineBytes?: number;
}

/** Per-request options. */
export interface RequestOptions {
  /** Overrides the pool's timeout for this request type. */
  timeoutMs?: number;
}

export interface PoolEvents {
  exit(name: string, outcome: "completed" | "failed", error?: WireError): void;
  log(name: string, stream: "out" | "err", text: string): void;
  /**
   * Every process a dead, stalled or evicted worker hosted; `culprit` is the one blamed, if known.
   * A culprit whose start() was still under way (a constructor or resume() that never returned) is
   * not listed: its start() rejects with `process_failed` instead, so it is not started again in a
   * loop. The start() of any other process still starting rejects with `executor_failed`.
   */
  lost(names: string[], reason: string, culprit?: string): void;
}

/**
 * A snapshot streaming in (a large hand-off): its length, then its pieces as they arrive, a batch
 * at a time, each piece best in an ArrayBuffer of its own (it is then transferred to the
 * executor, not copied).
 */
export interface SnapshotFeed {
  length: number;
  chunks: AsyncIterable<Uint8Array[]>;
}

type StartRequest = Omit<Extract<Request, { type: "start" }>, "type" | "slot" | "claim" | "snapshot" | "streamed"> & {
  /** The state to restore: its bytes, or a feed the executor decodes as it arrives. */
  snapshot?: Uint8Array | SnapshotFeed;
};

interface Settings {
  size: number;
  memoryMb: number;
  stallMs: number;
  /** A new worker may take this long to boot before it is deemed stuck. */
  bootMs: number;
  timeouts: RequestTimeouts;
  log: LogLimits;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  req: Request;
  /** performance.now() past which it times out. */
  deadline: number;
  timeoutMs: number;
  /** A start's claim cell (see the start request). */
  claim?: Int32Array;
}

const entry = new URL("./worker-entry.mjs", import.meta.url);

/** Turns a worker's error back into a typed error on this side. */
export function fromWire(error: WireError): FerryError {
  return new FerryError(error.code as ErrorCode, error.message, error.hint ? { hint: error.hint } : {});
}

function positive(value: unknown, what: string): number {
  if (typeof value !== "number" || !(value > 0)) {
    throw new FerryError("config_invalid", `Executor option "${what}" must be a positive number, got "${String(value)}"`);
  }
  return value;
}

/** Applies the defaults and checks every value, once. */
function settle(options: PoolOptions): Settings {
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  for (const [type, ms] of Object.entries(timeouts)) positive(ms, `timeouts.${type}`);
  const log: LogLimits = {
    linesPerSecond: positive(options.logLinesPerSecond ?? defaultLogLimits.linesPerSecond, "logLinesPerSecond"),
    lineBurst: positive(options.logLineBurst ?? defaultLogLimits.lineBurst, "logLineBurst"),
    bytesPerSecond: positive(options.logBytesPerSecond ?? defaultLogLimits.bytesPerSecond, "logBytesPerSecond"),
    byteBurst: positive(options.logByteBurst ?? defaultLogLimits.byteBurst, "logByteBurst"),
    maxLineBytes: positive(options.logMaxLineBytes ?? defaultLogLimits.maxLineBytes, "logMaxLineBytes"),
  };
  if (log.maxLineBytes < 64 || log.maxLineBytes > log.byteBurst) {
    throw new FerryError("config_invalid", `Executor option "logMaxLineBytes" must be between 64 and logByteBurst (${log.byteBurst}), got "${log.maxLineBytes}"`);
  }
  if (!Number.isInteger(options.size) || options.size < 1) {
    throw new FerryError("config_invalid", `Executor option "size" must be a positive integer, got "${String(options.size)}"`);
  }
  const stallMs = positive(options.stallMs, "stallMs");
  return { size: options.size, memoryMb: positive(options.memoryMb, "memoryMb"), stallMs, bootMs: Math.max(60_000, stallMs), timeouts, log };
}

class Executor {
  readonly worker: Worker;
  readonly shared = new SharedArrayBuffer(SHARED_BYTES);
  readonly view = new Int32Array(this.shared);
  readonly floats = new Float64Array(this.shared);
  readonly members = new Map<string, number>();
  readonly pending = new Map<number, Pending>();
  lastBeat = 0;
  lastElu?: EventLoopUtilization;
  lastBeatAt = performance.now();
  dead = false;
  /** Messages held until the worker says it listens (see the "ready" message). */
  outbox: Array<{ message: ToWorker; transfer: ArrayBuffer[] }> | undefined = [];

  constructor(readonly dedicated: boolean, readonly memoryMb: number, lease: SharedArrayBuffer, log: LogLimits) {
    this.floats[WAITED_UNDER] = -Infinity;
    const data: ExecutorData = { shared: this.shared, lease, log };
    this.worker = new Worker(entry, {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
  }

  nameOfSlot(slot: number): string | undefined {
    for (const [name, s] of this.members) if (s === slot) return name;
    return undefined;
  }
}

export class ExecutorPool {
  readonly #settings: Settings;
  readonly #events: PoolEvents;
  readonly #pooled: Executor[] = [];
  readonly #home = new Map<string, Executor>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #tickMs: number;
  readonly #lease = new LeaseCell();
  #leaseDeadline = Infinity;
  /** The latest deadline that passed before the lease was renewed, if any. */
  #lastLapse = -Infinity;
  #lastTick = performance.now();
  #nextId = 1;
  #nextSlot = 0;
  #closed?: Promise<void>;

  constructor(options: PoolOptions, events: PoolEvents) {
    this.#settings = settle(options);
    this.#events = events;
    // One worker at first, more as processes arrive (up to `size`): an idle node with one
    // process does not pay for threads it does not use.
    this.#pooled.push(this.#spawn(false, this.#settings.memoryMb));
    this.#tickMs = Math.min(250, Math.max(25, this.#settings.stallMs / 4));
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
  }

  /** How many workers run now, pooled and dedicated. */
  get workers(): number {
    return new Set(this.#home.values()).size + this.#pooled.filter((e) => !e.members.size).length;
  }

  /** Mean event-loop utilization of the pooled workers since the last call, 0..1 (0 where unsupported). */
  utilization(): number {
    let sum = 0;
    for (const e of this.#pooled) {
      try {
        const now = e.worker.performance.eventLoopUtilization();
        const delta = e.lastElu ? e.worker.performance.eventLoopUtilization(now, e.lastElu) : now;
        e.lastElu = now;
        sum += delta.utilization;
      } catch {
        return 0;
      }
    }
    return this.#pooled.length ? Math.round((sum / this.#pooled.length) * 1000) / 1000 : 0;
  }

  has(name: string): boolean {
    return this.#home.has(name);
  }

  /** Instantiates a process on the least-loaded worker, or on a worker of its own with a memory limit. */
  async start(req: StartRequest, memoryMb?: number, options: RequestOptions = {}): Promise<ReplyValue["start"]> {
    if (this.#home.has(req.name)) throw new FerryError("conflict", `Process "${req.name}" is already hosted`);
    const executor = memoryMb ? this.#spawn(true, memoryMb) : this.#leastLoaded();
    const slot = this.#nextSlot++ & 0x3fffffff;
    executor.members.set(req.name, slot);
    this.#home.set(req.name, executor);
    try {
      const claim = new SharedArrayBuffer(4);
      const { snapshot, ...rest } = req;
      if (snapshot === undefined || snapshot instanceof Uint8Array) {
        return (await this.#send(executor, { type: "start", ...rest, ...(snapshot ? { snapshot } : {}), slot, claim }, options.timeoutMs)) as ReplyValue["start"];
      }
      const started = this.#send(executor, { type: "start", ...rest, streamed: { length: snapshot.length }, slot, claim }, options.timeoutMs);
      // Not awaited: it never rejects, and it ends once the start no longer takes batches or the
      // feed itself ends (awaiting it here would hold a failed start until its transfer ended).
      void this.#feed(executor, req.name, snapshot);
      return (await started) as ReplyValue["start"];
    } catch (error) {
      this.#forget(req.name, executor);
      // The worker may still finish the start: make it drop the process instead of running it.
      if ((error as FerryError).code === "timeout" && !executor.dead) {
        this.#send(executor, { type: "discard", name: req.name }).catch(() => {});
      }
      throw error;
    }
  }

  /**
   * Hands a snapshot streaming in to the start waiting for it, one batch at a time (the executor's
   * answer to each is the backpressure). A broken feed fails the start with its reason; a start
   * that failed meanwhile refuses the next batch, which ends the feed's iteration. The start's
   * timeout counts from the last batch taken: a long transfer that progresses is not a stuck start.
   */
  async #feed(executor: Executor, name: string, feed: SnapshotFeed): Promise<void> {
    const progressed = () => {
      for (const p of executor.pending.values()) {
        if (p.req.type === "start" && p.req.name === name) p.deadline = performance.now() + p.timeoutMs;
      }
    };
    try {
      for await (const chunks of feed.chunks) {
        await this.#send(executor, { type: "feed", name, chunks });
        progressed();
      }
      await this.#send(executor, { type: "feed", name });
    } catch (error) {
      this.#send(executor, { type: "feed", name, error: describeError(error) }).catch(() => {});
    }
  }

  /**
   * Sends a request about a hosted process to the worker that hosts it. It rejects with a
   * `timeout` FerryError after `options.timeoutMs`, or the pool's timeout for its type.
   */
  async request<R extends Exclude<Request, { type: "start" | "inspect" }>>(req: R, options: RequestOptions = {}): Promise<ReplyValue[R["type"]]> {
    const executor = this.#home.get(req.name);
    if (!executor) throw new FerryError("process_not_found", `Process "${req.name}" is not running on this node`);
    try {
      return (await this.#send(executor, req, options.timeoutMs)) as ReplyValue[R["type"]];
    } finally {
      if (req.type === "discard") this.#forget(req.name, executor);
    }
  }

  /**
   * Loads a module in every pooled worker — to learn whether it loads and which methods it offers,
   * and so that a process arriving in a hand-off does not wait for its module to load.
   */
  async inspect(modulePath: string, moduleVersion: string, options: RequestOptions = {}): Promise<ReplyValue["inspect"]> {
    for (let attempt = 1; ; attempt++) {
      const results = await Promise.allSettled(this.#pooled.map((e) => this.#send(e, { type: "inspect", modulePath, moduleVersion }, options.timeoutMs)));
      // A worker lost meanwhile (another process stalled it) says nothing about the module: ask
      // the others, or once more the replacements.
      const failure = results.find((r) => r.status === "rejected" && (r.reason as FerryError).code !== "executor_failed");
      if (failure) throw (failure as PromiseRejectedResult).reason;
      const answer = results.find((r) => r.status === "fulfilled");
      if (answer) return answer.value as ReplyValue["inspect"];
      if (attempt === 2 || this.#closed) throw (results[0] as PromiseRejectedResult).reason;
    }
  }

  /**
   * Publishes the node's lease deadline (ms since the epoch; `Infinity`: no lease) to every
   * executor, present and future. From that deadline on, no process code runs until a later
   * deadline is published.
   *
   * @example
   * ```ts
   * pool.setLease(Date.now() + 10_000); // renewed
   * ```
   */
  setLease(deadlineEpochMs: number): void {
    if (typeof deadlineEpochMs !== "number" || Number.isNaN(deadlineEpochMs)) {
      throw new FerryError("internal", `Lease deadline must be a number of ms since the epoch, got "${String(deadlineEpochMs)}"`);
    }
    if (this.#leaseDeadline <= Date.now()) this.#lastLapse = this.#leaseDeadline;
    this.#leaseDeadline = deadlineEpochMs;
    this.#lease.publish(deadlineEpochMs);
  }

  /**
   * Whether the executor hosting `name` is blocked on the lapsed lease now, or has been since the
   * lease last lapsed (so none of its processes has taken a step since).
   *
   * @example
   * ```ts
   * pool.setLease(Date.now() - 1);
   * // ... once pool.leaseWaiting("counter") is true, "counter" takes no further step
   * ```
   */
  leaseWaiting(name: string): boolean {
    const executor = this.#home.get(name);
    if (!executor || executor.dead) return false;
    if (Atomics.load(executor.view, LEASE_WAIT)) return true;
    const lapse = this.#leaseDeadline <= Date.now() ? this.#leaseDeadline : this.#lastLapse;
    return lapse > -Infinity && executor.floats[WAITED_UNDER]! >= lapse;
  }

  /**
   * Ends the executors hosting `names` without letting them run another step (for processes
   * adopted elsewhere while this node could not renew its lease). The named processes are
   * forgotten without any report; the other processes those executors hosted are reported
   * through the `lost` event with `reason`, to be restarted from their checkpoints; its `culprit`
   * is an evicted process (never one of the names), so no lost process is taken for the cause.
   *
   * @example
   * ```ts
   * pool.evict(["counter"], "adopted by node beta while this node's lease had lapsed");
   * ```
   */
  evict(names: string[], reason: string): void {
    const executors = new Map<Executor, string>();
    for (const name of names) {
      const executor = this.#home.get(name);
      if (!executor) continue;
      if (!executors.has(executor)) executors.set(executor, name);
      this.#forget(name, executor);
    }
    for (const [executor, evicted] of executors) this.#lose(executor, reason, evicted);
  }

  #evictFrom(executor: Executor, name: string, reason: string): void {
    this.#forget(name, executor);
    this.#lose(executor, reason, name);
  }

  /**
   * Drops a hosted process for good (after a hand-off committed, a rollback, a removal). A worker
   * that does not confirm it in time is ended instead, with the process in it: a copy left
   * running unseen could run on beside the one that took over.
   *
   * @example
   * ```ts
   * await pool.discard("counter", "handed over to node beta");
   * ```
   */
  async discard(name: string, reason: string): Promise<void> {
    const executor = this.#home.get(name);
    if (!executor) return;
    try {
      await this.#send(executor, { type: "discard", name });
      this.#forget(name, executor);
    } catch {
      this.#evictFrom(executor, name, `${reason} (its executor did not confirm the discard)`);
    }
  }

  /**
   * Stops a process another node adopted, so that it never takes another step here. While the
   * lease holds, a discard does it (the adopter does not start before this node's lease has
   * ended). Once the lease has lapsed the executor may block on it at any moment, and a blocked
   * executor runs the turn it blocked in before it reads any message: a discard would let that
   * stale turn run as soon as the lease is renewed. So then the executor is evicted.
   *
   * @example
   * ```ts
   * await pool.stopAdopted("counter", "adopted by node beta while this node was unresponsive");
   * ```
   */
  async stopAdopted(name: string, reason: string): Promise<void> {
    if (this.#leaseDeadline <= Date.now() || this.leaseWaiting(name)) this.evict([name], reason);
    else await this.discard(name, reason);
  }

  /** Ends every worker and fails every request still waiting; bounded, even with a spinning worker. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      const all = new Set([...this.#pooled, ...this.#home.values()]);
      for (const e of all) {
        this.#end(e);
        for (const { reject, req } of e.pending.values()) {
          reject(new FerryError("executor_failed", `The executor pool closed before the "${req.type}" request was answered`));
        }
        e.pending.clear();
      }
      // Bounded: a runtime that never settles terminate() for a spinning worker must not hang the
      // daemon's shutdown (the threads end with the process anyway).
      await Promise.all([...all].map((e) => Promise.race([e.worker.terminate(), new Promise((r) => setTimeout(r, 2000).unref?.())])));
    })();
    return this.#closed;
  }

  #leastLoaded(): Executor {
    let best = this.#pooled[0]!;
    for (const e of this.#pooled) if (e.members.size < best.members.size) best = e;
    if (best.members.size > 0 && this.#pooled.length < this.#settings.size) {
      best = this.#spawn(false, this.#settings.memoryMb);
      this.#pooled.push(best);
    }
    return best;
  }

  #forget(name: string, executor: Executor): void {
    executor.members.delete(name);
    if (this.#home.get(name) === executor) this.#home.delete(name);
    if (executor.dedicated && !executor.members.size && !executor.dead) this.#end(executor);
  }

  /**
   * Stops a worker for good. The EVICTED flag comes first: Deno's terminate() neither interrupts a
   * worker blocked on the lease nor stops it once woken, so the worker checks the flag and ends
   * itself before it would run any process code.
   */
  #end(executor: Executor): void {
    if (executor.dead) return;
    executor.dead = true;
    Atomics.store(executor.view, EVICTED, 1);
    this.#lease.wake();
    void executor.worker.terminate();
  }

  #send(executor: Executor, req: Request, timeoutMs?: number): Promise<unknown> {
    if (executor.dead) return Promise.reject(new FerryError("executor_failed", "The executor hosting this process has stopped"));
    const id = this.#nextId++;
    const t = this.#settings.timeouts;
    const ms = timeoutMs ?? (req.type === "suspend" ? req.deadlineMs + t.suspend : t[req.type]);
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, req, deadline: performance.now() + ms, timeoutMs: ms };
      if (req.type === "start") pending.claim = new Int32Array(req.claim);
      executor.pending.set(id, pending);
      const { packed, transfer } = packBytes({ ...req, id } as ToWorker);
      if (executor.outbox) executor.outbox.push({ message: packed, transfer });
      else executor.worker.postMessage(packed, transfer);
    });
  }

  #spawn(dedicated: boolean, memoryMb: number): Executor {
    const executor = new Executor(dedicated, memoryMb, this.#lease.buffer, this.#settings.log);
    executor.worker.on("message", (message: FromWorker) => this.#receive(executor, message));
    executor.worker.on("error", (error: Error) => {
      const oom = (error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY";
      this.#lose(executor, oom ? `its executor ran out of memory (limit ${memoryMb} MiB)` : `its executor crashed: ${error.message}`);
    });
    // Deno emits "exit" synchronously inside terminate(), Node later: handled after the current
    // job either way, so the #lose() (or close()) that called terminate() has finished its bookkeeping.
    executor.worker.on("exit", (code) => queueMicrotask(() => this.#lose(executor, `its executor exited with code ${code}`)));
    return executor;
  }

  #receive(executor: Executor, message: FromWorker): void {
    switch (message.type) {
      case "ready": {
        const held = executor.outbox ?? [];
        executor.outbox = undefined;
        for (const { message, transfer } of held) executor.worker.postMessage(message, transfer);
        return;
      }
      case "reply": {
        const waiter = executor.pending.get(message.id);
        if (!waiter) return;
        executor.pending.delete(message.id);
        if (message.ok) waiter.resolve(unpackBytes(message.value));
        else waiter.reject(fromWire(message.error));
        return;
      }
      case "exit":
        if (executor.members.has(message.name)) this.#events.exit(message.name, message.outcome, message.error);
        return;
      case "log":
        if (executor.members.has(message.name)) this.#events.log(message.name, message.stream, message.text);
        return;
    }
  }

  #tick(): void {
    const now = performance.now();
    // This thread was frozen (SIGSTOP, a suspended VM) and so were the workers: nobody stalled and
    // no request was ignored meanwhile, so the clocks restart from here.
    const frozen = now - this.#lastTick - this.#tickMs;
    this.#lastTick = now;
    const wasFrozen = frozen > Math.max(1000, this.#settings.stallMs / 2);
    for (const executor of new Set([...this.#pooled, ...this.#home.values()])) {
      if (executor.dead) continue;
      if (wasFrozen) {
        executor.lastBeatAt = now;
        for (const p of executor.pending.values()) p.deadline += frozen;
        continue;
      }
      this.#expire(executor, now);
      if (Atomics.load(executor.view, OUT_OF_MEMORY)) {
        const culprit = executor.nameOfSlot(Atomics.load(executor.view, CURRENT));
        this.#lose(executor, `its executor ran out of memory (limit ${executor.memoryMb} MiB)`, culprit);
        continue;
      }
      const beat = Atomics.load(executor.view, BEAT);
      if (beat !== executor.lastBeat) {
        executor.lastBeat = beat;
        executor.lastBeatAt = now;
      } else if (Atomics.load(executor.view, LEASE_WAIT)) {
        executor.lastBeatAt = now; // blocked on the lease on purpose, not stalled
      } else if (Atomics.load(executor.view, ACTIVITY) === Activity.serialize) {
        executor.lastBeatAt = now; // encoding or decoding a large snapshot: Ferry's work, it ends
      } else if (beat === 0) {
        // Not booted yet: no process code has run there, so only a generous limit applies.
        if (now - executor.lastBeatAt > this.#settings.bootMs) this.#lose(executor, `its executor did not start within ${this.#settings.bootMs} ms`);
      } else if (now - executor.lastBeatAt > this.#settings.stallMs) {
        const culprit = executor.nameOfSlot(Atomics.load(executor.view, CURRENT));
        const detail = culprit === undefined ? "" : `: ${stallDetail(culprit, Atomics.load(executor.view, ACTIVITY))}`;
        this.#lose(executor, `its executor did not yield for ${this.#settings.stallMs} ms${detail}`, culprit);
      }
    }
  }

  /** Fails the requests of `executor` that waited past their timeout. */
  #expire(executor: Executor, now: number): void {
    for (const [id, p] of executor.pending) {
      if (now < p.deadline) continue;
      // A start the worker already committed to answers in a moment: not a timeout.
      if (p.claim && Atomics.compareExchange(p.claim, 0, 0, CLAIM_TIMED_OUT) !== 0) continue;
      executor.pending.delete(id);
      p.reject(timeoutError(p.req, p.timeoutMs));
    }
  }

  /** Replaces a dead, stalled or evicted worker; its processes are reported lost exactly once. */
  #lose(executor: Executor, reason: string, culprit?: string): void {
    if (executor.dead && !this.#pooled.includes(executor) && !executor.members.size) return;
    this.#end(executor);
    let failedStart: string | undefined;
    for (const { reject, req } of executor.pending.values()) {
      if (req.type === "start" && req.name === culprit) {
        failedStart = culprit;
        reject(new FerryError("process_failed", `Process "${culprit}" was stopped: ${reason}`, {
          hint: "a process must not block its thread: await (ctx.sleep) inside long loops",
        }));
      } else {
        reject(new FerryError("executor_failed", `The process was lost: ${reason}`));
      }
    }
    executor.pending.clear();
    const names = [...executor.members.keys()];
    for (const name of names) this.#forget(name, executor);
    const index = this.#pooled.indexOf(executor);
    if (index >= 0 && !this.#closed) this.#pooled[index] = this.#spawn(false, this.#settings.memoryMb);
    const lost = names.filter((name) => name !== failedStart);
    if (lost.length && !this.#closed) this.#events.lost(lost, reason, culprit);
  }
}

function timeoutError(req: Request, ms: number): FerryError {
  const hint = "its executor is alive, so the process is probably awaiting something that never settles";
  switch (req.type) {
    case "inspect":
      return new FerryError("timeout", `Loading module "${req.modulePath}" got no answer within ${ms} ms`, { hint: "its top-level code may await something that never settles" });
    case "call":
      return new FerryError("timeout", `Call of ${req.name}.${req.method}() got no answer within ${ms} ms`, { hint });
    default:
      return new FerryError("timeout", `Request "${req.type}" to process "${req.name}" got no answer within ${ms} ms`, { hint });
  }
}
