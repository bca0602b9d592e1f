/**
 * The daemon side of its executors: a fixed pool of worker threads that host the node's processes
 * (many per worker, so thousands of small processes cost little), plus a dedicated worker for each
 * process that declares a memory limit. Watches every worker's heartbeat: one that stalls past
 * `stallMs` or dies is replaced, and the processes it hosted are reported lost, with the one whose
 * code was running when it stalled named as the culprit.
 *
 * @example
 * ```ts
 * const pool = new ExecutorPool({ size: 2, memoryMb: 1024, stallMs: 5000 }, events);
 * await pool.start({ name: "counter", modulePath, moduleVersion: 1, args: [], generation: 0, hold: false });
 * const { snapshot } = await pool.request("counter", { type: "suspend", name: "counter", deadlineMs: 5000 });
 * ```
 * @module
 */
import { Worker } from "node:worker_threads";
import type { EventLoopUtilization } from "node:perf_hooks";
import { FerryError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { BEAT, CURRENT, OUT_OF_MEMORY, packBytes, SHARED_SLOTS, unpackBytes } from "./protocol.ts";
import type { FromWorker, ReplyValue, Request, ToWorker, WireError } from "./protocol.ts";

export interface PoolOptions {
  /** Pooled workers. @default 2 */
  size: number;
  /** Heap limit of a pooled worker, in MiB. */
  memoryMb: number;
  /** A worker whose heartbeat stops for this long is restarted. */
  stallMs: number;
}

export interface PoolEvents {
  exit(name: string, outcome: "completed" | "failed", error?: WireError): void;
  log(name: string, stream: "out" | "err", text: string): void;
  /** Every process a dead or stalled worker hosted; `culprit` is the one blamed, if known. */
  lost(names: string[], reason: string, culprit?: string): void;
}

type StartRequest = Omit<Extract<Request, { type: "start" }>, "type" | "slot">;

const entry = new URL("./worker-entry.mjs", import.meta.url);

/** Turns a worker's error back into a typed error on this side. */
export function fromWire(error: WireError): FerryError {
  return new FerryError(error.code as ErrorCode, error.message, error.hint ? { hint: error.hint } : {});
}

class Executor {
  readonly worker: Worker;
  readonly shared = new SharedArrayBuffer(SHARED_SLOTS * 4);
  readonly view = new Int32Array(this.shared);
  readonly members = new Map<string, number>();
  readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  lastBeat = 0;
  lastElu?: EventLoopUtilization;
  lastBeatAt = Date.now();
  dead = false;

  constructor(readonly dedicated: boolean, readonly memoryMb: number) {
    this.worker = new Worker(entry, {
      workerData: { shared: this.shared },
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
  readonly #options: PoolOptions;
  readonly #events: PoolEvents;
  readonly #pooled: Executor[] = [];
  readonly #home = new Map<string, Executor>();
  readonly #timer: ReturnType<typeof setInterval>;
  #nextId = 1;
  #nextSlot = 0;
  #closed?: Promise<void>;

  constructor(options: PoolOptions, events: PoolEvents) {
    this.#options = options;
    this.#events = events;
    for (let i = 0; i < options.size; i++) this.#pooled.push(this.#spawn(false, options.memoryMb));
    this.#timer = setInterval(() => this.#checkHeartbeats(), Math.min(250, Math.max(25, options.stallMs / 4)));
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
  async start(req: StartRequest, memoryMb?: number): Promise<ReplyValue["start"]> {
    if (this.#home.has(req.name)) throw new FerryError("conflict", `Process "${req.name}" is already hosted`);
    const executor = memoryMb ? this.#spawn(true, memoryMb) : this.#leastLoaded();
    const slot = this.#nextSlot++ & 0x3fffffff;
    executor.members.set(req.name, slot);
    this.#home.set(req.name, executor);
    try {
      return (await this.#send(executor, { type: "start", ...req, slot })) as ReplyValue["start"];
    } catch (error) {
      this.#forget(req.name, executor);
      throw error;
    }
  }

  /** Sends a request about a hosted process to the worker that hosts it. */
  async request<R extends Exclude<Request, { type: "start" | "inspect" }>>(req: R): Promise<ReplyValue[R["type"]]> {
    const executor = this.#home.get(req.name);
    if (!executor) throw new FerryError("process_not_found", `Process "${req.name}" is not running on this node`);
    const value = await this.#send(executor, req);
    if (req.type === "discard") this.#forget(req.name, executor);
    return value as ReplyValue[R["type"]];
  }

  /**
   * Loads a module in every pooled worker — to learn whether it loads and which methods it offers,
   * and so that a process arriving in a hand-off does not wait for its module to load.
   */
  async inspect(modulePath: string, moduleVersion: number): Promise<ReplyValue["inspect"]> {
    const results = await Promise.all(this.#pooled.map((e) => this.#send(e, { type: "inspect", modulePath, moduleVersion })));
    return results[0] as ReplyValue["inspect"];
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      const all = new Set([...this.#pooled, ...this.#home.values()]);
      for (const e of all) e.dead = true;
      // Bounded: a runtime that never settles terminate() for a spinning worker must not hang the
      // daemon's shutdown (the threads end with the process anyway).
      await Promise.all([...all].map((e) => Promise.race([e.worker.terminate(), new Promise((r) => setTimeout(r, 2000).unref?.())])));
    })();
    return this.#closed;
  }

  #leastLoaded(): Executor {
    let best = this.#pooled[0]!;
    for (const e of this.#pooled) if (e.members.size < best.members.size) best = e;
    return best;
  }

  #forget(name: string, executor: Executor): void {
    executor.members.delete(name);
    if (this.#home.get(name) === executor) this.#home.delete(name);
    if (executor.dedicated && !executor.members.size && !executor.dead) {
      executor.dead = true;
      void executor.worker.terminate();
    }
  }

  #send(executor: Executor, req: Request): Promise<unknown> {
    if (executor.dead) return Promise.reject(new FerryError("executor_failed", "The executor hosting this process has stopped"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      executor.pending.set(id, { resolve, reject });
      const { packed, transfer } = packBytes({ ...req, id } as ToWorker);
      executor.worker.postMessage(packed, transfer);
    });
  }

  #spawn(dedicated: boolean, memoryMb: number): Executor {
    const executor = new Executor(dedicated, memoryMb);
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
        this.#events.log(message.name, message.stream, message.text);
        return;
    }
  }

  #checkHeartbeats(): void {
    const now = Date.now();
    for (const executor of new Set([...this.#pooled, ...this.#home.values()])) {
      if (executor.dead) continue;
      if (Atomics.load(executor.view, OUT_OF_MEMORY)) {
        const culprit = executor.nameOfSlot(Atomics.load(executor.view, CURRENT));
        this.#lose(executor, `its executor ran out of memory (limit ${executor.memoryMb} MiB)`, culprit);
        continue;
      }
      const beat = Atomics.load(executor.view, BEAT);
      if (beat !== executor.lastBeat) {
        executor.lastBeat = beat;
        executor.lastBeatAt = now;
      } else if (beat > 0 && now - executor.lastBeatAt > this.#options.stallMs) {
        const culprit = executor.nameOfSlot(Atomics.load(executor.view, CURRENT));
        this.#lose(executor, `its executor did not yield for ${this.#options.stallMs} ms`, culprit);
      }
    }
  }

  /** Replaces a dead or stalled worker; its processes are reported lost exactly once. */
  #lose(executor: Executor, reason: string, culprit?: string): void {
    if (executor.dead && !this.#pooled.includes(executor) && !executor.members.size) return;
    const wasDead = executor.dead;
    executor.dead = true;
    if (!wasDead) void executor.worker.terminate();
    for (const { reject } of executor.pending.values()) reject(new FerryError("executor_failed", `The process was lost: ${reason}`));
    executor.pending.clear();
    const names = [...executor.members.keys()];
    for (const name of names) this.#forget(name, executor);
    const index = this.#pooled.indexOf(executor);
    if (index >= 0 && !this.#closed) this.#pooled[index] = this.#spawn(false, this.#options.memoryMb);
    if (names.length && !this.#closed) this.#events.lost(names, reason, culprit);
  }
}
