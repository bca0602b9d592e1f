/**
 * Taking over from a node that is gone. The adopter writes a fence (`fences.ndjson` in the gone
 * node's directory) before it runs the process from the gone node's latest checkpoint; the gone
 * node honours fences when its journal is replayed, and a node that was only slow, not gone, sees
 * them at its next heartbeat and drops its copy at once.
 *
 * @example
 * ```ts
 * await checkFences(runtime); // every heartbeat
 * ```
 * @module
 */
import { statSync } from "node:fs";
import type { NodeRuntime } from "../runtime.ts";
import { ownedBase } from "../runtime.ts";
import { fencesFile, readFences } from "../store/mod.ts";
import type { OwnedProcess } from "../store/mod.ts";

const seenSize = new WeakMap<NodeRuntime, number>();

/**
 * Another node fenced a process this node owns (it thought this node gone) and runs it now:
 * stop this copy at once, without a hand-off, and record the release.
 */
export async function checkFences(runtime: NodeRuntime): Promise<void> {
  let size: number;
  try {
    size = statSync(fencesFile(runtime.dataDir)).size;
  } catch {
    return;
  }
  if (size === seenSize.get(runtime)) return;
  seenSize.set(runtime, size);
  for (const fence of readFences(runtime.dataDir)) {
    const owned = runtime.journal.state.owned.get(fence.name);
    if (!owned || owned.status === "prepared" || owned.generation !== fence.generation) continue;
    const local = runtime.table.get(fence.name);
    await runtime.journal.append({ op: "released", name: fence.name, generation: fence.generation, to: fence.to, handoffId: fence.handoffId });
    if (local) {
      runtime.table.delete(fence.name);
      local.gate?.open({ movedTo: fence.to });
      await runtime.pool.request({ type: "discard", name: fence.name }).catch(() => {});
    }
    runtime.checkpoints.remove(fence.name);
    runtime.events.emit({ type: "stopped", process: fence.name, to: fence.to, reason: `node "${fence.to}" adopted it while this node seemed gone` });
    console.error(`[${fence.name}] stopped: node ${fence.to} adopted it while this node seemed gone`);
  }
}

/** Runs a process of a gone node here, one generation on (the caller has fenced it). */
export async function adopt(runtime: NodeRuntime, owned: OwnedProcess, snapshot: Uint8Array | undefined, gone: string): Promise<void> {
  const adopted = { ...ownedBase(owned), generation: owned.generation + 1, migrations: owned.migrations + 1 };
  if (snapshot) await runtime.checkpoints.save(owned.name, adopted.generation, snapshot, { force: true });
  await runtime.journal.append({ op: "own", ...adopted });
  const local = await runtime.startOwned({ ...adopted, status: "owned" }, `adopted from ${gone}`, owned.status === "completed");
  if (owned.status === "completed" && local.state !== "failed") local.state = "completed";
  runtime.events.emit({ type: "adopted", process: owned.name, from: gone, generation: adopted.generation });
}
