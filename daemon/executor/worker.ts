/**
 * An executor worker: hosts many processes on one thread, off the daemon's control loop, so a
 * process that throws, rejects or busy-loops cannot stall the daemon's API. The main thread
 * drives it with {@link Request}s; the worker reports exits and log lines.
 *
 * A heartbeat counter, the slot of the process whose code runs now and what that code is doing
 * live in a SharedArrayBuffer, so the main thread can tell a stalled worker, which process stalled
 * it and where, even while this thread never yields. Every turn of process code first passes the
 * lease {@link Fence} (self-fencing), and console output is rate-limited per process here, before
 * it costs a message.
 *
 * Turns are seen two ways: explicitly (construction, snapshot decoding, run() start, ctx.sleep()
 * wake-ups, hooks, calls) and, for every other callback of a process's async context, through
 * `async_hooks.createHook({ before })`. Node calls `before` for timers, I/O and promise reactions;
 * Deno only for timers, so there a process's promise continuations already queued when the lease
 * lapses finish their turn, and a busy loop reached after a non-timer await may be blamed on no
 * one.
 * @module
 */
import { parentPort, resourceLimits, workerData } from "node:worker_threads";
import { AsyncLocalStorage, createHook } from "node:async_hooks";
import process from "node:process";
import { setImmediate } from "node:timers";
import { formatWithOptions, inspect } from "node:util";
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import { callableMethods, loadProcessClass } from "../modules/inspect.ts";
import type { ProcessClass } from "../modules/inspect.ts";
import { assertPortable, decodeState, encodeState, encodeValue, sealSnapshot, SnapshotDecoder, SnapshotEncoder } from "../snapshot/mod.ts";
import { crc32 } from "../snapshot/stream.ts";
import type { ProcessState, SnapshotCursor } from "../snapshot/mod.ts";
import "../io/mod.ts"; // registers the file streams with the codec before any snapshot is decoded
import type { ProcessContext, ProcessInstance } from "../sdk/context.ts";
import { Activity, ACTIVITY, BEAT, CLAIM_STARTED, CURRENT, OUT_OF_MEMORY, packBytes, unpackBytes } from "./protocol.ts";
import type { ExecutorData, FromWorker, ToWorker, WireError } from "./protocol.ts";
import { Fence } from "./fence.ts";
import { DeltaTracker } from "../snapshot/delta.ts";
import { LeaseCell } from "./lease.ts";
import { CALLS_FIELD, type CallOutcome, RecentCalls } from "./recent-calls.ts";
import { LogBucket } from "./log-limit.ts";
import { sharedClockMs } from "./clock.ts";

type Phase = "held" | "running" | "suspended" | "completed" | "failed";

interface Hosted {
  name: string;
  slot: number;
  cls: ProcessClass;
  /** The module version (content hash) whose code `cls` is; snapshots carry it. */
  version: string;
  instance: ProcessInstance & Record<string, unknown>;
  controller: AbortController;
  generation: number;
  phase: Phase;
  /** Set while a suspend waits for run() to return, so its outcome is not reported as an exit. */
  stopping: boolean;
  running?: Promise<"returned" | "threw">;
  runError?: unknown;
  /** The suspended state being streamed out: its encoder reads the live fields, so only while suspended. */
  outgoing?: { send: SnapshotCursor; save: SnapshotCursor };
  /** The pre-copy round being hashed, a slice at a time: the next round and a suspend wait for it. */
  round?: Promise<unknown>;
  /**
   * Answers of recent calls by call id, captured with the fields: a retried call is not run twice.
   * Made by the first call that has an id (or restored), so 10,000 idle processes hold none.
   */
  calls: RecentCalls | undefined;
}

/** Runs the calls that carry no id (older clients): each one runs, nothing is kept. */
const unidentifiedCalls = new RecentCalls();

/** Whose code a callback runs, and doing what: the async context every process callback carries. */
interface Turn {
  name: string;
  slot: number;
  activity: Activity;
}

/** Resolves in a later turn of the event loop, once what is pending (messages, timers) has run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const port = parentPort!;
const data = workerData as ExecutorData;
const shared = new Int32Array(data.shared);
const hosted = new Map<string, Hosted>();
/** Starts in progress, so a discard that overtakes one cancels it instead of leaving an orphan. */
const starting = new Map<string, { cancelled: boolean }>();
/** Snapshots streaming in for starts in progress, fed chunk by chunk. */
const streamingIn = new Map<string, Inflow>();

/** A snapshot arriving in `feed` requests; `state` settles once it is complete and verified (or broken). */
class Inflow {
  readonly decoder: SnapshotDecoder;
  readonly state: Promise<ProcessState>;
  settle!: { resolve(state: ProcessState): void; reject(error: unknown): void };

  constructor(length: number) {
    this.decoder = new SnapshotDecoder(length, { legacy: decodeState });
    this.state = new Promise<ProcessState>((resolve, reject) => (this.settle = { resolve, reject }));
    this.state.catch(() => {}); // a start that failed for another reason no longer awaits it
  }
}
const owner = new AsyncLocalStorage<Turn>();
// process.exit() in a worker ends only this thread, on Node and on Deno.
const fence = new Fence(new LeaseCell(data.lease), data.shared, () => process.exit(0));

const heapLimit = getHeapStatistics().heap_size_limit;
const oldGenerationLimit = (resourceLimits.maxOldGenerationSizeMb ?? 0) * 1024 * 1024;

setInterval(() => {
  Atomics.add(shared, BEAT, 1);
  if (outOfMemory()) Atomics.store(shared, OUT_OF_MEMORY, 1);
}, 50);

function outOfMemory(): boolean {
  if (getHeapStatistics().heap_size_limit > heapLimit) return true;
  if (!oldGenerationLimit) return false;
  // What maxOldGenerationSizeMb limits: every heap space but the young ones.
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name !== "new_space" && space.space_name !== "new_large_object_space") bytes += space.space_used_size;
  }
  return bytes > oldGenerationLimit;
}

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function toWire(error: unknown): WireError {
  if (isFerryError(error)) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: "process_failed", message: describeError(error) };
}

function turnOf(h: { name: string; slot: number }, activity: Activity): Turn {
  return { name: h.name, slot: h.slot, activity };
}

function enter(turn: Turn): void {
  Atomics.store(shared, CURRENT, turn.slot);
  Atomics.store(shared, ACTIVITY, turn.activity);
}
function leave(): void {
  Atomics.store(shared, CURRENT, -1);
  Atomics.store(shared, ACTIVITY, Activity.none);
}

/** Before a turn of process code: wait out a lapsed lease, then mark whose code runs. */
function step(turn: Turn): void {
  fence.pass();
  enter(turn);
}

/** Runs `fn` synchronously as a turn of `turn`'s process. */
function runTurn<T>(turn: Turn, fn: () => T): T {
  return owner.run(turn, () => {
    step(turn);
    try {
      return fn();
    } finally {
      leave();
    }
  });
}

// Before every callback (timer, promise reaction, I/O) in a process's async context: fence it, and
// record whose code runs, so a busy loop is blamed on the process that spins even if it got there
// after a plain `await`.
try {
  createHook({
    before() {
      const turn = owner.getStore();
      if (turn) step(turn);
      else leave();
    },
  }).enable();
} catch {
  // not supported here: the explicit turns still apply
}

// Console output of process code goes to the main thread (which prefixes the process name),
// within the process's log rate limits.
const buckets = new Map<string, LogBucket>();
const formatOptions = { depth: 4, breakLength: Infinity };
const consoleMethods = {
  log: "out",
  info: "out",
  debug: "out",
  warn: "err",
  error: "err",
  trace: "err",
  dir: "out",
} as const;
for (const [method, stream] of Object.entries(consoleMethods) as [keyof typeof consoleMethods, "out" | "err"][]) {
  const original = console[method].bind(console) as (...parts: unknown[]) => void;
  console[method] = (...parts: unknown[]) => {
    const turn = owner.getStore();
    if (!turn) return original(...parts);
    let bucket = buckets.get(turn.name);
    if (!bucket) buckets.set(turn.name, (bucket = new LogBucket(data.log)));
    const text = bucket.admit(() => formatConsole(method, parts));
    if (text !== undefined) post({ type: "log", name: turn.name, stream, text });
  };
}
function formatConsole(method: keyof typeof consoleMethods, parts: unknown[]): string {
  if (method === "dir") return inspect(parts[0], { ...formatOptions, ...(parts[1] as object | undefined) });
  const text = formatWithOptions(formatOptions, ...parts);
  if (method !== "trace") return text;
  const stack = (new Error().stack ?? "").split("\n").slice(3).join("\n");
  return `Trace: ${text}\n${stack}`;
}
// What was dropped is reported once per interval, outside the limits it reports on.
setInterval(() => {
  for (const [name, bucket] of buckets) {
    const text = bucket.report();
    if (text) post({ type: "log", name, stream: "err", text });
  }
}, 1000);

function fail(h: Hosted, error: unknown): void {
  if (h.phase === "failed") return;
  h.phase = "failed";
  post({ type: "exit", name: h.name, outcome: "failed", error: toWire(error) });
}

// A stray rejection or exception belongs to whichever process's async context raised it; without
// one it is the executor's own bug and is only logged.
process.on("unhandledRejection", (reason: unknown) => blame(reason));
process.on("uncaughtException", (error: unknown) => blame(error));
function blame(error: unknown): void {
  const turn = owner.getStore();
  const h = turn ? hosted.get(turn.name) : undefined;
  if (h && h.slot === turn!.slot) fail(h, error);
  else console.error("executor: unhandled error outside any process:", describeError(error));
}

function contextFor(h: Hosted): ProcessContext {
  return {
    // A getter, because a suspend that times out gives the process a fresh, un-aborted signal.
    get signal() {
      return h.controller.signal;
    },
    name: h.name,
    generation: h.generation,
    sleep(ms: number) {
      return new Promise<void>((resolve) => {
        const signal = h.controller.signal;
        if (signal.aborted) return resolve();
        const turn = owner.getStore() ?? turnOf(h, Activity.run);
        leave();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          step(turn);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };
}

function beginRun(h: Hosted): void {
  h.outgoing = undefined; // its fields may change from now on
  h.controller = new AbortController();
  h.phase = "running";
  h.runError = undefined;
  const ctx = contextFor(h);
  const turn = turnOf(h, Activity.run);
  const signal = h.controller.signal;
  h.running = owner.run(turn, async () => {
    // Not before the reply to the request that started it has gone: a run() that spins from its
    // first line must not take that reply hostage (the stall watch blames it either way).
    await nextTurn();
    if (signal.aborted) return "returned" as const;
    step(turn);
    try {
      await h.instance.run(ctx);
      return "returned" as const;
    } catch (error) {
      h.runError = error;
      return "threw" as const;
    } finally {
      leave();
    }
  });
  const run = h.running;
  void run.then((outcome) => {
    if (h.stopping || h.running !== run || h.phase !== "running") return;
    if (outcome === "threw") return fail(h, h.runError);
    h.phase = "completed";
    post({ type: "exit", name: h.name, outcome: "completed" });
  });
}

type Instance = ProcessInstance & Record<string, unknown>;

async function callHook(h: Hosted, hook: "suspend" | "resume", instance: Instance = h.instance): Promise<void> {
  const fn = instance[hook];
  if (typeof fn !== "function") return;
  const turn = turnOf(h, hook === "suspend" ? Activity.suspend : Activity.resume);
  await owner.run(turn, async () => {
    step(turn);
    try {
      await fn.call(instance);
    } finally {
      leave();
    }
  });
}

/** Calls `upgrade(fromVersion)` on an instance restored with an older version's fields, if it has one. */
async function callUpgrade(who: { name: string; slot: number }, instance: Instance, fromVersion: string): Promise<void> {
  const fn = instance.upgrade;
  if (typeof fn !== "function") return;
  const turn = turnOf(who, Activity.upgrade);
  await owner.run(turn, async () => {
    step(turn);
    try {
      await fn.call(instance, fromVersion);
    } finally {
      leave();
    }
  });
}

function stateOf(h: Hosted): ProcessState {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(h.instance)) fields[key] = h.instance[key];
  const calls = h.calls?.toField(Date.now());
  if (calls) fields[CALLS_FIELD] = calls;
  return { className: h.cls.name, fields, moduleVersion: h.version };
}

function capture(h: Hosted): Uint8Array {
  return serializing(() => encodeState(stateOf(h)));
}

/** From this size on, a checkpoint is copied at once into memory made ready beforehand, and checksummed afterwards. */
const SLICED_CAPTURE_BYTES = 4 * 1024 * 1024;
/** Bytes made ready or checksummed between two chances for the processes here to run. */
const CAPTURE_SLICE_BYTES = 8 * 1024 * 1024;
/** Room for the next checkpoint to have grown since the last one. */
const CAPTURE_HEADROOM_BYTES = 1024 * 1024;
/** The size of each process's last checkpoint: what to make ready for the next one. */
const lastCaptureBytes = new Map<string, number>();

type ResizableBuffer = ArrayBuffer & { resize(byteLength: number): void };
const Resizable = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer;

/**
 * A checkpoint of a process that may be running. The state is copied between two of its turns
 * — a consistent capture needs that — but for a large state only the copy happens there: the
 * buffer it goes into was allocated and its pages touched beforehand, a slice at a time, and its
 * CRC-32 is computed afterwards, a slice at a time, while the process runs on (it no longer
 * reads the live fields). Taking it all at once stopped a 256 MiB process for some 230 ms here,
 * most of it faulting in the new buffer's pages. The buffer made ready is resizable, a little
 * larger than the last snapshot (a state's size moves by a few bytes as its numbers and strings
 * change), and shrinks to the snapshot's size. When no size is known yet, or the state outgrew
 * the buffer, the capture measures it, makes a buffer of that size ready and takes the state
 * again; only a state that grows again meanwhile is copied into a fresh buffer.
 */
async function captureRunning(h: Hosted, expectBytes = 0): Promise<{ snapshot: Uint8Array; takenAt: number }> {
  let expected = lastCaptureBytes.get(h.name) ?? expectBytes;
  for (let attempt = 0; ; attempt++) {
    const ready = expected >= SLICED_CAPTURE_BYTES ? await touchedBuffer(expected + CAPTURE_HEADROOM_BYTES, h) : undefined;
    const takenAt = Date.now();
    const encoder = serializing(() => new SnapshotEncoder(stateOf(h)));
    if (encoder.byteLength < SLICED_CAPTURE_BYTES) {
      lastCaptureBytes.set(h.name, encoder.byteLength);
      return { snapshot: serializing(() => encoder.toBytes()), takenAt };
    }
    let out: Uint8Array;
    if (ready && encoder.byteLength <= ready.byteLength) {
      ready.resize(encoder.byteLength);
      out = new Uint8Array(ready);
    } else if (attempt === 0) {
      expected = encoder.byteLength;
      continue;
    } else out = new Uint8Array(encoder.byteLength);
    serializing(() => encoder.copyBodyInto(out));
    lastCaptureBytes.set(h.name, encoder.byteLength);
    let crc = 0;
    for (let at = 0; at < encoder.bodyLength; at += CAPTURE_SLICE_BYTES) {
      await nextTurn();
      if (hosted.get(h.name) !== h) throw new FerryError("process_not_found", `Process "${h.name}" was discarded during its checkpoint`);
      crc = serializing(() => crc32(out.subarray(at, Math.min(at + CAPTURE_SLICE_BYTES, encoder.bodyLength)), crc));
    }
    sealSnapshot(out, crc);
    return { snapshot: out, takenAt };
  }
}

/** A zeroed, resizable buffer of `bytes` whose pages are all in memory, touched a slice at a time. */
async function touchedBuffer(bytes: number, h: Hosted): Promise<ResizableBuffer> {
  const buffer = new Resizable(bytes, { maxByteLength: bytes });
  const out = new Uint8Array(buffer);
  for (let at = 0; at < bytes; at += CAPTURE_SLICE_BYTES) {
    const end = Math.min(at + CAPTURE_SLICE_BYTES, bytes);
    for (let page = at; page < end; page += 4096) out[page] = 0;
    await nextTurn();
    if (hosted.get(h.name) !== h) throw new FerryError("process_not_found", `Process "${h.name}" was discarded during its checkpoint`);
  }
  return buffer;
}

/**
 * The suspend's capture: the bytes when they are at most `streamAbove` long, else their length,
 * the encoder kept for `read` requests (no copy of the state is made up front).
 */
function captureSuspended(h: Hosted, streamAbove: number | undefined): { snapshot: Uint8Array; streamed?: number } {
  const encoder = serializing(() => new SnapshotEncoder(stateOf(h)));
  if (streamAbove === undefined || encoder.byteLength <= streamAbove) return { snapshot: serializing(() => encoder.toBytes()) };
  h.outgoing = { send: encoder.cursor(), save: encoder.cursor() };
  return { snapshot: new Uint8Array(0), streamed: encoder.byteLength };
}

/** Pre-copy trackers (hashes of the pieces last sent), one per process, of its latest session. */
const trackers = new Map<string, DeltaTracker>();

/**
 * Blob bytes a pre-copy round hashes between two chances for the processes here to run: about a
 * millisecond of CRC-32. Hashing a large state in one go would stop every process of this executor
 * for the whole of it (some 60–90 ms per 256 MiB here), in every round.
 */
const ROUND_SLICE_BYTES = 4 * 1024 * 1024;

function trackerOf(h: Hosted, session: string): DeltaTracker {
  let tracker = trackers.get(h.name);
  if (tracker?.session !== session) trackers.set(h.name, (tracker = new DeltaTracker(session)));
  return tracker;
}

/** A pre-copy delta of `h` since round `after` of `session`, in one go (the process is suspended); a new session starts afresh. */
function captureDelta(h: Hosted, session: string, after: number, budgetBytes: number) {
  const started = performance.now();
  const { delta, header } = serializing(() => trackerOf(h, session).next(stateOf(h), { after, budgetBytes }));
  const { round, dirtyBytes, sentBytes, totalBytes, complete } = header;
  return { delta, round, dirtyBytes, sentBytes, totalBytes, complete, captureMs: performance.now() - started };
}

/**
 * A pre-copy round of a running process: hashed a slice at a time, the processes here running in
 * between. `captureMs` counts the slices only — what capturing costs, and what a switchover's
 * capture of the last delta will cost the suspended process — not the turns run meanwhile.
 */
async function captureDeltaRound(h: Hosted, session: string, after: number, budgetBytes: number) {
  const steps = trackerOf(h, session).cut(stateOf(h), { after, budgetBytes, sliceBytes: ROUND_SLICE_BYTES });
  let captureMs = 0;
  for (;;) {
    const started = performance.now();
    const step = serializing(() => steps.next());
    captureMs += performance.now() - started;
    if (step.done) {
      // In parts, each transferred as it is: joining 32 MiB of chunks would stop the processes again.
      const { parts, header: { round, dirtyBytes, sentBytes, totalBytes, complete } } = step.value;
      return { parts, round, dirtyBytes, sentBytes, totalBytes, complete, captureMs };
    }
    await nextTurn();
    if (hosted.get(h.name) !== h) throw new FerryError("process_not_found", `Process "${h.name}" was discarded during a pre-copy round`);
  }
}

/**
 * A new instance of `cls` holding the fields of `snapshot` (bytes, or already decoded), its
 * constructor not run, and the answers of recent calls the snapshot kept beside them.
 */
function restoreInto(who: { name: string; slot: number }, cls: ProcessClass, snapshot: Uint8Array | ProcessState, verified = false): { instance: Instance; calls?: RecentCalls; fromVersion?: string } {
  return runTurn(turnOf(who, Activity.decode), () => {
    const state = snapshot instanceof Uint8Array ? serializing(() => decodeState(snapshot, { verified })) : snapshot;
    let fields = state.fields;
    let calls: RecentCalls | undefined;
    if (Object.hasOwn(fields, CALLS_FIELD)) {
      const { [CALLS_FIELD]: kept, ...own } = fields;
      calls = RecentCalls.from(kept);
      fields = own;
    }
    const instance = Object.assign(Object.create(cls.prototype) as object, fields) as Instance;
    const restored = { instance, ...(calls ? { calls } : {}) };
    return state.moduleVersion === undefined ? restored : { ...restored, fromVersion: state.moduleVersion };
  });
}

function upgradeFailed(message: string): FerryError {
  return new FerryError("upgrade_failed", message, { hint: "the process keeps running its previous code; fix the module and save it again" });
}

function short(version: string): string {
  return version.slice(0, 12);
}

/**
 * Runs Ferry's codec with the stall watch told so: a large state may keep this thread busy for
 * longer than `stallMs`, and that is not the process's fault. What was marked before is restored.
 */
function serializing<T>(fn: () => T): T {
  const activity = Atomics.load(shared, ACTIVITY);
  Atomics.store(shared, ACTIVITY, Activity.serialize);
  try {
    return fn();
  } finally {
    Atomics.store(shared, ACTIVITY, activity);
  }
}

const classes = new Map<string, Promise<ProcessClass>>();
function classOf(path: string, version: string): Promise<ProcessClass> {
  const key = `${path}?${version}`;
  let cls = classes.get(key);
  if (!cls) {
    cls = loadProcessClass(path, version);
    classes.set(key, cls);
    cls.catch(() => classes.delete(key));
  }
  return cls;
}

function get(name: string): Hosted {
  const h = hosted.get(name);
  if (!h) throw new FerryError("process_not_found", `Process "${name}" is not hosted by this executor`);
  return h;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: ReturnType<typeof setTimeout>;
  const deadline = new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
const timedOut = Symbol("timedOut");

const handlers: { [K in ToWorker["type"]]: (req: Extract<ToWorker, { type: K }>) => Promise<unknown> } = {
  async start(req) {
    if (hosted.has(req.name)) throw new FerryError("conflict", `Process "${req.name}" is already hosted here`);
    const ticket = { cancelled: false };
    starting.set(req.name, ticket);
    // Registered before the first await: the feeds that follow this request find it.
    const inflow = req.streamed ? new Inflow(req.streamed.length) : undefined;
    if (inflow) streamingIn.set(req.name, inflow);
    const stillWanted = () => {
      if (ticket.cancelled) throw new FerryError("process_not_found", `Process "${req.name}" was discarded while it was starting`);
    };
    try {
      const cls = await classOf(req.modulePath, req.moduleVersion);
      stillWanted();
      let instance: Instance;
      let calls: RecentCalls | undefined;
      let upgradedFrom: string | undefined;
      const snapshot = inflow ? await inflow.state : req.snapshot;
      stillWanted();
      if (snapshot) {
        const restored = restoreInto(req, cls, snapshot, req.verified === true);
        instance = restored.instance;
        calls = restored.calls;
        // State written by another version (a peer's, or this node's before its file changed):
        // the new code adapts it now, so a hand-off or restore that cannot fails instead.
        if (restored.fromVersion !== undefined && restored.fromVersion !== req.moduleVersion) upgradedFrom = restored.fromVersion;
      } else {
        try {
          instance = runTurn(turnOf(req, Activity.construct), () => new cls(req.args) as typeof instance);
        } catch (error) {
          throw new FerryError("process_failed", `Constructor of ${cls.name} threw: ${describeError(error)}`);
        }
      }
      if (typeof instance.run !== "function") {
        throw new FerryError("module_invalid", `${cls.name} has no run(ctx) method`, { hint: "a process class needs async run(ctx)" });
      }
      if (upgradedFrom !== undefined) {
        try {
          await callUpgrade(req, instance, upgradedFrom);
        } catch (error) {
          throw upgradeFailed(`${cls.name}.upgrade("${short(upgradedFrom)}") threw while restoring "${req.name}": ${describeError(error)}`);
        }
        stillWanted();
      }
      const h: Hosted = {
        name: req.name,
        slot: req.slot,
        cls,
        version: req.moduleVersion,
        instance,
        controller: new AbortController(),
        generation: req.generation,
        phase: "held",
        stopping: false,
        calls,
      };
      hosted.set(req.name, h);
      if (!req.hold && snapshot) await callHook(h, "resume");
      stillWanted();
      const reply = { methods: callableMethods(cls), description: describeInstance(h), ...(upgradedFrom !== undefined ? { upgradedFrom } : {}) };
      if (Atomics.compareExchange(new Int32Array(req.claim), 0, 0, CLAIM_STARTED) !== 0) {
        // The main thread gave up on this start and forgot the process: so does this worker.
        if (hosted.get(req.name) === h) hosted.delete(req.name);
        throw new FerryError("timeout", `Process "${req.name}" started after its start request had timed out`);
      }
      if (!req.hold) beginRun(h);
      return reply;
    } finally {
      if (starting.get(req.name) === ticket) starting.delete(req.name);
      if (inflow && streamingIn.get(req.name) === inflow) streamingIn.delete(req.name);
    }
  },

  async feed(req) {
    const inflow = streamingIn.get(req.name);
    if (!inflow) throw new FerryError("process_not_found", `No snapshot of "${req.name}" is streaming in here`);
    try {
      if (req.error !== undefined) throw new FerryError("unreachable", req.error);
      if (req.chunks) for (const chunk of req.chunks) inflow.decoder.push(chunk);
      else inflow.settle.resolve(serializing(() => inflow.decoder.finish()));
    } catch (error) {
      streamingIn.delete(req.name);
      inflow.settle.reject(error);
      throw error;
    }
    return null;
  },

  async read(req) {
    const h = get(req.name);
    const cursor = h.outgoing?.[req.reader];
    if (!cursor) throw new FerryError("conflict", `The snapshot of "${req.name}" is no longer streaming (it resumed or was discarded)`);
    const chunk = cursor.read(req.maxBytes);
    return chunk ? { chunk } : {};
  },

  async activate(req) {
    const h = get(req.name);
    if (h.phase === "running") return {};
    h.generation = req.generation;
    h.outgoing = undefined;
    if (!req.run) {
      h.phase = "completed";
      return {};
    }
    await callHook(h, "resume");
    if (hosted.get(req.name) !== h) throw new FerryError("process_not_found", `Process "${req.name}" was discarded while it resumed`);
    beginRun(h);
    // run() starts as soon as this reply has gone (see beginRun).
    return { runAt: sharedClockMs() };
  },

  async suspend(req) {
    const h = get(req.name);
    // A round still hashing reads the live fields and the tracker a suspended capture uses.
    if (h.round) await h.round.catch(() => {});
    const stoppedAt = sharedClockMs();
    if (h.phase === "running" && h.running) {
      h.stopping = true;
      h.controller.abort();
      const outcome = await withDeadline(h.running, req.deadlineMs).finally(() => (h.stopping = false));
      if (outcome === timedOut) {
        h.controller = new AbortController();
        throw new FerryError(
          "suspend_timeout",
          `Process "${h.name}" reached no safe point within ${req.deadlineMs} ms: run() kept going after its signal was aborted`,
          { hint: "return from run() when ctx.signal aborts; the process keeps running here" },
        );
      }
      if (outcome === "threw") {
        fail(h, h.runError);
        throw new FerryError("process_failed", `Process "${h.name}" threw while stopping: ${describeError(h.runError)}`);
      }
      await callHook(h, "suspend");
      try {
        // A pre-copy's last delta is small by design: it is never streamed.
        const captured = req.delta ? { snapshot: captureDelta(h, req.delta.session, req.delta.after, Infinity).delta } : captureSuspended(h, req.streamAbove);
        h.phase = "suspended";
        return { ...captured, stoppedAt };
      } catch (error) {
        // Keep it running where it is: a failed capture must not stop the process.
        await callHook(h, "resume");
        beginRun(h);
        throw error;
      }
    }
    if (h.phase === "held") h.phase = "suspended";
    return { ...(req.delta ? { snapshot: captureDelta(h, req.delta.session, req.delta.after, Infinity).delta } : captureSuspended(h, req.streamAbove)), stoppedAt };
  },

  async capture(req) {
    return await captureRunning(get(req.name), req.expectBytes);
  },

  // Each slice runs between two turns of every process here, so no turn is half done.
  async delta(req) {
    const h = get(req.name);
    const round = (h.round ?? Promise.resolve()).catch(() => {}).then(() => {
      if (h.phase !== "running" && h.phase !== "completed") throw new FerryError("conflict", `Process "${h.name}" is ${h.phase}: nothing to pre-copy`);
      return captureDeltaRound(h, req.session, req.after, req.budgetBytes);
    });
    h.round = round;
    try {
      return await round;
    } finally {
      if (h.round === round) h.round = undefined;
    }
  },

  async discard(req) {
    const ticket = starting.get(req.name);
    if (ticket) ticket.cancelled = true;
    const inflow = streamingIn.get(req.name);
    if (inflow) {
      streamingIn.delete(req.name);
      inflow.settle.reject(new FerryError("process_not_found", `Process "${req.name}" was discarded while its snapshot streamed in`));
    }
    buckets.delete(req.name);
    trackers.delete(req.name);
    lastCaptureBytes.delete(req.name);
    const h = hosted.get(req.name);
    if (!h) return null;
    hosted.delete(req.name);
    h.outgoing = undefined;
    h.stopping = true;
    h.controller.abort();
    return null;
  },

  async call(req) {
    const h = get(req.name);
    const methods = callableMethods(h.cls);
    if (!methods.includes(req.method)) {
      throw new FerryError("method_not_found", `Process "${h.name}" has no method "${req.method}"`, {
        hint: methods.length ? `callable: ${methods.join(", ")}` : `${h.cls.name} has no callable methods`,
      });
    }
    const method = h.instance[req.method] as (args: string[]) => unknown;
    const calls = req.callId === undefined ? unidentifiedCalls : (h.calls ??= new RecentCalls());
    const value = await calls.once(req.callId, req.keepMs ?? 0, async (): Promise<CallOutcome> => {
      let value: unknown;
      const turn = turnOf(h, Activity.call);
      try {
        value = await owner.run(turn, async () => {
          step(turn);
          try {
            return await method.call(h.instance, req.args);
          } finally {
            leave();
          }
        });
      } catch (error) {
        return { failed: new FerryError("method_failed", `${h.cls.name}.${req.method}() threw: ${describeError(error)}`) };
      }
      try {
        assertPortable({ result: value }, `${h.cls.name}.${req.method}()`);
        return { answer: encodeValue(value) };
      } catch (error) {
        // It ran: a retry gets this failure again rather than a second run.
        const failed = isFerryError(error) ? error : new FerryError("not_serializable", `${h.cls.name}.${req.method}() returned a value that cannot be encoded: ${describeError(error)}`);
        return { failed };
      }
    });
    return { value };
  },

  async inspect(req) {
    return { methods: callableMethods(await classOf(req.modulePath, req.moduleVersion)) };
  },

  async upgrade(req) {
    const h = get(req.name);
    if (!req.dryRun && h.phase !== "suspended" && h.phase !== "completed") {
      throw new FerryError("conflict", `Process "${h.name}" must be suspended before its code is swapped (it is ${h.phase})`);
    }
    const to = short(req.moduleVersion);
    let cls: ProcessClass;
    try {
      cls = await classOf(req.modulePath, req.moduleVersion);
    } catch (error) {
      throw upgradeFailed(`Cannot load version "${to}" of ${h.cls.name}: ${describeError(error)}`);
    }
    if (hosted.get(req.name) !== h) throw new FerryError("process_not_found", `Process "${req.name}" was discarded while its new code loaded`);
    // A copy through the codec: the new instance shares no object with the old one, which stays
    // intact for a rollback.
    const bytes = capture(h);
    let instance: Instance;
    try {
      instance = restoreInto(h, cls, bytes).instance;
    } catch (error) {
      throw upgradeFailed(`Cannot restore the fields of "${h.name}" into version "${to}" of ${cls.name}: ${describeError(error)}`);
    }
    if (typeof instance.run !== "function") throw upgradeFailed(`Version "${to}" of ${cls.name} has no run(ctx) method`);
    let hook = "upgrade";
    let ranNewCode = false;
    try {
      ranNewCode = typeof instance.upgrade === "function";
      await callUpgrade(h, instance, req.fromVersion);
      if (req.dryRun) return { methods: callableMethods(cls), description: cls.name };
      hook = "resume";
      ranNewCode ||= typeof instance.resume === "function";
      await callHook(h, "resume", instance);
    } catch (error) {
      // The old code goes on from the captured state. If new code ran, it may have written through
      // the file streams: a fresh copy re-owns each file from its captured offset on.
      if (ranNewCode && !req.dryRun && hosted.get(req.name) === h) h.instance = restoreInto(h, h.cls, bytes).instance;
      const call = hook === "upgrade" ? `upgrade("${short(req.fromVersion)}")` : "resume()";
      throw upgradeFailed(`${cls.name}.${call} of version "${to}" threw: ${describeError(error)}`);
    }
    if (hosted.get(req.name) !== h) throw new FerryError("process_not_found", `Process "${req.name}" was discarded while it was upgraded`);
    h.cls = cls;
    h.instance = instance;
    h.version = req.moduleVersion;
    const reply = { methods: callableMethods(cls), description: describeInstance(h) };
    if (req.run) beginRun(h);
    else h.phase = "completed";
    return reply;
  },
};

function describeInstance(h: Hosted): string {
  const own = h.instance.toString;
  if (typeof own === "function" && own !== Object.prototype.toString) {
    try {
      return runTurn(turnOf(h, Activity.describe), () => String(own.call(h.instance)));
    } catch {
      // fall through to the class name
    }
  }
  return h.cls.name;
}

// Booted: from now on the main thread expects a heartbeat at least every stallMs. Set before any
// request is handled, so a process that spins at once is still caught by the missing next beat.
Atomics.add(shared, BEAT, 1);
port.on("message", (wire: ToWorker) => {
  const message = unpackBytes(wire);
  const handler = handlers[message.type] as (req: ToWorker) => Promise<unknown>;
  handler(message).then(
    (value) => {
      const { packed, transfer } = packBytes(value);
      post({ type: "reply", id: message.id, ok: true, value: packed }, transfer);
    },
    (error: unknown) => post({ type: "reply", id: message.id, ok: false, error: toWire(error) }),
  );
});
post({ type: "ready" });
