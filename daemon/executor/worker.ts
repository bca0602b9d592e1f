/**
 * An executor worker: hosts many processes on one thread, off the daemon's control loop, so a
 * process that throws, rejects or busy-loops cannot stall the daemon's API. The main thread
 * drives it with {@link Request}s; the worker reports exits and log lines.
 *
 * A heartbeat counter and the slot of the process whose code runs now live in a
 * SharedArrayBuffer, so the main thread can tell a stalled worker, and which process stalled it,
 * even while this thread never yields.
 * @module
 */
import { parentPort, resourceLimits, workerData } from "node:worker_threads";
import { AsyncLocalStorage, createHook } from "node:async_hooks";
import process from "node:process";
import { inspect } from "node:util";
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import { callableMethods, loadProcessClass } from "../modules/inspect.ts";
import type { ProcessClass } from "../modules/inspect.ts";
import { assertPortable, decodeState, encodeState, encodeValue } from "../snapshot/mod.ts";
import "../io/mod.ts"; // registers the file streams with the codec before any snapshot is decoded
import type { ProcessContext, ProcessInstance } from "../sdk/context.ts";
import { BEAT, CURRENT, OUT_OF_MEMORY, packBytes, unpackBytes } from "./protocol.ts";
import type { FromWorker, ToWorker, WireError } from "./protocol.ts";

type Phase = "held" | "running" | "suspended" | "completed" | "failed";

interface Hosted {
  name: string;
  slot: number;
  cls: ProcessClass;
  instance: ProcessInstance & Record<string, unknown>;
  controller: AbortController;
  generation: number;
  phase: Phase;
  /** Set while a suspend waits for run() to return, so its outcome is not reported as an exit. */
  stopping: boolean;
  running?: Promise<"returned" | "threw">;
  runError?: unknown;
}

const port = parentPort!;
const shared = new Int32Array((workerData as { shared: SharedArrayBuffer }).shared);
const hosted = new Map<string, Hosted>();
const owner = new AsyncLocalStorage<string>();

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

function enter(h: Hosted): void {
  Atomics.store(shared, CURRENT, h.slot);
}
function leave(): void {
  Atomics.store(shared, CURRENT, -1);
}

// Before every callback (timer, promise reaction, I/O) record whose async context it runs in, so a
// busy loop is blamed on the process that spins even if it got there after a plain `await`.
// Runtimes without async hooks (Deno) fall back to the marks set by run(), sleep() and calls.
const slots = new Map<string, number>();
try {
  createHook({
    before() {
      const name = owner.getStore();
      Atomics.store(shared, CURRENT, name === undefined ? -1 : (slots.get(name) ?? -1));
    },
  }).enable();
} catch {
  // not supported here
}

// Console output of process code is prefixed with the process name by the main thread.
for (const [method, stream] of [["log", "out"], ["info", "out"], ["debug", "out"], ["warn", "err"], ["error", "err"]] as const) {
  const original = console[method].bind(console);
  console[method] = (...parts: unknown[]) => {
    const name = owner.getStore();
    if (!name) return original(...parts);
    const text = parts.map((p) => (typeof p === "string" ? p : inspect(p, { depth: 4, breakLength: Infinity }))).join(" ");
    post({ type: "log", name, stream, text });
  };
}

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
  const name = owner.getStore();
  const h = name ? hosted.get(name) : undefined;
  if (h) fail(h, error);
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
        leave();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          enter(h);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };
}

function beginRun(h: Hosted): void {
  h.controller = new AbortController();
  h.phase = "running";
  h.runError = undefined;
  const ctx = contextFor(h);
  h.running = owner.run(h.name, async () => {
    enter(h);
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

async function callHook(h: Hosted, hook: "suspend" | "resume"): Promise<void> {
  const fn = h.instance[hook];
  if (typeof fn !== "function") return;
  await owner.run(h.name, async () => {
    enter(h);
    try {
      await fn.call(h.instance);
    } finally {
      leave();
    }
  });
}

function capture(h: Hosted): Uint8Array {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(h.instance)) fields[key] = h.instance[key];
  return encodeState({ className: h.cls.name, fields });
}

const classes = new Map<string, Promise<ProcessClass>>();
function classOf(path: string, version: number): Promise<ProcessClass> {
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
    const cls = await classOf(req.modulePath, req.moduleVersion);
    let instance: ProcessInstance & Record<string, unknown>;
    if (req.snapshot) {
      const state = decodeState(req.snapshot);
      instance = Object.assign(Object.create(cls.prototype) as object, state.fields) as typeof instance;
    } else {
      try {
        instance = owner.run(req.name, () => new cls(req.args)) as typeof instance;
      } catch (error) {
        throw new FerryError("process_failed", `Constructor of ${cls.name} threw: ${describeError(error)}`);
      }
    }
    if (typeof instance.run !== "function") {
      throw new FerryError("module_invalid", `${cls.name} has no run(ctx) method`, { hint: "a process class needs async run(ctx)" });
    }
    const h: Hosted = {
      name: req.name,
      slot: req.slot,
      cls,
      instance,
      controller: new AbortController(),
      generation: req.generation,
      phase: "held",
      stopping: false,
    };
    hosted.set(req.name, h);
    slots.set(req.name, req.slot);
    if (!req.hold) {
      if (req.snapshot) await callHook(h, "resume");
      beginRun(h);
    }
    return { methods: callableMethods(cls), description: describeInstance(h) };
  },

  async activate(req) {
    const h = get(req.name);
    if (h.phase === "running") return null;
    h.generation = req.generation;
    if (!req.run) {
      h.phase = "completed";
      return null;
    }
    await callHook(h, "resume");
    beginRun(h);
    return null;
  },

  async suspend(req) {
    const h = get(req.name);
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
        const snapshot = capture(h);
        h.phase = "suspended";
        return { snapshot };
      } catch (error) {
        // Keep it running where it is: a failed capture must not stop the process.
        await callHook(h, "resume");
        beginRun(h);
        throw error;
      }
    }
    if (h.phase === "held") h.phase = "suspended";
    return { snapshot: capture(h) };
  },

  async capture(req) {
    return { snapshot: capture(get(req.name)) };
  },

  async discard(req) {
    const h = hosted.get(req.name);
    if (!h) return null;
    hosted.delete(req.name);
    slots.delete(req.name);
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
    let value: unknown;
    try {
      value = await owner.run(h.name, async () => {
        enter(h);
        try {
          return await method.call(h.instance, req.args);
        } finally {
          leave();
        }
      });
    } catch (error) {
      throw new FerryError("method_failed", `${h.cls.name}.${req.method}() threw: ${describeError(error)}`);
    }
    assertPortable({ result: value }, `${h.cls.name}.${req.method}()`);
    return { value: encodeValue(value) };
  },

  async inspect(req) {
    return { methods: callableMethods(await classOf(req.modulePath, req.moduleVersion)) };
  },
};

function describeInstance(h: Hosted): string {
  const own = h.instance.toString;
  if (typeof own === "function" && own !== Object.prototype.toString) {
    try {
      return String(own.call(h.instance));
    } catch {
      // fall through to the class name
    }
  }
  return h.cls.name;
}

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
