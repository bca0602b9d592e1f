/**
 * Calls into a running process. A call made while the process is between states (suspending,
 * migrating, arriving) waits at its gate and is delivered where the process ends up — here
 * after a rollback, at the destination after a commit. A call to a process that is not running
 * says why, with a retryable code when waiting may help.
 *
 * @example
 * ```ts
 * await callProcess(node, "counter", "get", [], 10000, "5b0c…");
 * ```
 * @module
 */
import { FerryError } from "../errors.ts";
import { decodeValue } from "../snapshot/mod.ts";
import { displayValue, toJsonSafe } from "../api/json.ts";
import type { ApiClient } from "../api/client.ts";
import type { ExecutorPool } from "../executor/mod.ts";
import type { CallResponse } from "../../schemas/api.schema.ts";
import type { ManagedProcess } from "./process.ts";

export interface CallTarget {
  node: string;
  get(name: string): ManagedProcess | undefined;
  peer(node: string): ApiClient | undefined;
  request: ExecutorPool["request"];
}

/**
 * Invokes `method` with `args` on `name`, waiting through a hand-off. `callId`, the caller's id
 * for the call, goes with it wherever it is delivered: the process answers a call it already ran again
 * instead of running it twice (executor/recent-calls.ts).
 *
 * @example
 * ```ts
 * const { text } = await callProcess(target, "counter", "get", [], 5000, undefined);
 * ```
 */
export async function callProcess(target: CallTarget, name: string, method: string, args: string[], timeoutMs: number, callId: string | undefined): Promise<CallResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = target.get(name);
    if (!p) {
      throw new FerryError("process_not_found", `Process "${name}" is not on node "${target.node}"`, { hint: "see `ferry ps`" });
    }
    if (p.gate) {
      const outcome = await beforeDeadline(p.gate.promise, deadline, () =>
        new FerryError("timeout", `Call to ${name}.${method}() timed out after ${timeoutMs} ms while the process was moving`, { hint: "it is still in a hand-off; see `ferry ps`" }));
      if (outcome.movedTo) {
        const peer = target.peer(outcome.movedTo);
        if (!peer) continue;
        const left = Math.max(1, deadline - Date.now());
        // A peer of an older release knows no call ids: it refuses the id unread, and is sent the call without it.
        return peer.post("call", { name, method, args, timeoutMs: left, ...(callId !== undefined ? { callId } : {}) }, { timeoutMs: left + 1000, newFields: ["callId"] });
      }
      continue;
    }
    if (p.state === "starting" || p.state === "held") {
      throw new FerryError("unavailable", `Process "${name}" is starting on node "${target.node}"`, { hint: "try again in a moment" });
    }
    if (!p.hosted || p.state === "failed") {
      throw new FerryError("process_failed", `Process "${name}" has failed: ${p.error ?? "its instance was lost"}`, { hint: "see `ferry ps` and `ferry events`" });
    }
    const left = Math.max(1, deadline - Date.now());
    const request = target.request({ type: "call", name, method, args, ...(callId !== undefined ? { callId, keepMs: left } : {}) }, { timeoutMs: left });
    p.inflight.add(request);
    try {
      const { value } = await beforeDeadline(request, deadline, () => new FerryError("timeout", `Call to ${name}.${method}() did not return within ${timeoutMs} ms`));
      const decoded = decodeValue(value);
      return { value: toJsonSafe(decoded), text: displayValue(decoded), node: target.node };
    } finally {
      p.inflight.delete(request);
    }
  }
}

/**
 * Awaits `promise`, or throws `expired()` at `deadline`.
 *
 * @example
 * ```ts
 * await beforeDeadline(work, Date.now() + 1000, () => new FerryError("timeout", "too slow"));
 * ```
 */
export function beforeDeadline<T>(promise: Promise<T>, deadline: number, expired: () => FerryError): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
