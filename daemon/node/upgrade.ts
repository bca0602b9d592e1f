/**
 * The node state's part in hot upgrades: moving a running process onto a new version of its
 * module in place, with its state, transactionally. The process is suspended at a safe point (the
 * suspend a hand-off uses, so the file streams are captured the same way), its fields are restored
 * into the new class in its executor, which calls `upgrade(fromVersion)` and `resume()` there and
 * only then drops the old instance. Any failure (the module does not load, restoring, `upgrade()`
 * or `resume()` throws) resumes the old instance from the captured state, and the reason shows in
 * `ps` and as an `upgrade-failed` event; a version that failed is not tried again until the file
 * changes once more or `ferry upgrade` asks. Calls made meanwhile wait at the process's gate and
 * are delivered once, as during a hand-off. Upgrades on one node run one at a time, so at most one
 * process is between versions.
 *
 * @example
 * ```ts
 * const upgrades = new Upgrades(parts, { resolve: (m) => registry.resolve(m), latest: (m) => hashes[m] });
 * if (upgrades.due("counter")) await upgrades.apply("counter");
 * ```
 * @module
 */
import { describeError, FerryError } from "../errors.ts";
import { shortHash } from "../modules/hash.ts";
import type { UpgradeResult } from "../../schemas/api.schema.ts";
import type { ManagedProcess } from "./process.ts";
import type { NodeParts } from "./parts.ts";

export interface UpgradeSources {
  /** The file and version (content hash) a process of `module` should run now. */
  resolve(module: string): Promise<{ path: string; version: string }>;
  /** That version, if known without I/O (for `ps`); undefined when unknown. */
  latest(module: string): string | undefined;
}

export interface UpgradeOptions {
  /** Only try the new code on a copy of the state; the process keeps running untouched. */
  dryRun?: boolean;
}

export class Upgrades {
  readonly #parts: NodeParts;
  readonly #sources: UpgradeSources;
  /** The version whose upgrade failed, per process: not tried again by itself. */
  readonly #failed = new Map<string, string>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(parts: NodeParts, sources: UpgradeSources) {
    this.#parts = parts;
    this.#sources = sources;
  }

  /**
   * The newer version `p` has not taken yet, as `ps` shows it, or undefined.
   *
   * @example
   * ```ts
   * upgrades.pending(p); // "8b1d2e4f0a3c"
   * ```
   */
  pending(p: Pick<ManagedProcess, "module" | "moduleVersion">): string | undefined {
    const latest = this.#sources.latest(p.module);
    return latest && p.moduleVersion && latest !== p.moduleVersion ? shortHash(latest) : undefined;
  }

  /**
   * Whether the reconciler should upgrade `name` now: it runs here on an older version, its policy
   * is `auto`, it stays here (one leaving is upgraded where it lands), and that version has not
   * already failed.
   *
   * @example
   * ```ts
   * if (upgrades.due("counter")) await upgrades.apply("counter");
   * ```
   */
  due(name: string): boolean {
    const p = this.#parts.table.get(name);
    const spec = this.#parts.desired(name);
    if (!p || !spec || (spec.upgrade ?? "auto") !== "auto") return false;
    if (spec.node !== undefined && spec.node !== this.#parts.node) return false;
    const latest = this.#sources.latest(p.module);
    return latest !== undefined && this.#swappable(p) && latest !== p.moduleVersion && this.#failed.get(name) !== latest;
  }

  /** Forgets what is known about `name` (it left this node or was removed). */
  forget(name: string): void {
    this.#failed.delete(name);
  }

  #swappable(p: ManagedProcess): boolean {
    return p.hosted && p.moduleVersion !== "" && (p.state === "running" || p.state === "completed") && !p.gate && !p.outgoing && !p.incoming;
  }

  /**
   * Moves `name` onto the newest version of its module (or, with `dryRun`, tries that version's
   * code on a copy of its state). Resolves with what happened; a failed upgrade is an answer with
   * `ok: false`, not a rejection. Rejects with `process_not_found` when `name` is not held here and
   * `unavailable` while it is moving or not running.
   *
   * @example
   * ```ts
   * const { ok, error } = await upgrades.apply("counter", { dryRun: true });
   * ```
   */
  apply(name: string, options: UpgradeOptions = {}): Promise<UpgradeResult> {
    if (options.dryRun) return this.#dryRun(name);
    const turn = this.#queue.then(() => this.#upgrade(name));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  #held(name: string): ManagedProcess {
    const p = this.#parts.table.get(name);
    if (!p) throw new FerryError("process_not_found", `Process "${name}" is not on node "${this.#parts.node}"`, { hint: "see `ferry ps`" });
    if (!this.#swappable(p)) {
      throw new FerryError("unavailable", `Process "${name}" cannot be upgraded while it is ${p.gate || p.outgoing || p.incoming ? "moving" : p.state}`, {
        hint: "try again once `ferry ps` shows it running",
      });
    }
    return p;
  }

  /**
   * The newest version's file. A version that cannot even be compiled (a syntax error) is still
   * a version: answered as `failed` with the reason, like one that does not load.
   */
  async #target(p: ManagedProcess, dryRun: boolean): Promise<{ path: string; version: string } | UpgradeResult> {
    try {
      return await this.#sources.resolve(p.module);
    } catch (error) {
      const version = this.#sources.latest(p.module);
      if (version === undefined || version === p.moduleVersion) throw error;
      const reason = `Cannot load version "${shortHash(version)}" of ${p.module}: ${describeError(error)}`;
      const base = this.#result(p, version, dryRun);
      return dryRun ? { ...base, ok: false, error: reason } : this.#failure(p, version, reason, base);
    }
  }

  async #dryRun(name: string): Promise<UpgradeResult> {
    const p = this.#held(name);
    const target = await this.#target(p, true);
    if (!("path" in target)) return target;
    const base = this.#result(p, target.version, true);
    if (target.version === p.moduleVersion) return { ...base, ok: true };
    try {
      await this.#parts.pool.request({ type: "upgrade", name, modulePath: target.path, moduleVersion: target.version, fromVersion: p.moduleVersion, run: false, dryRun: true });
      return { ...base, ok: true };
    } catch (error) {
      return { ...base, ok: false, error: describeError(error) };
    }
  }

  async #upgrade(name: string): Promise<UpgradeResult> {
    let p = this.#held(name);
    const target = await this.#target(p, false);
    if (!("path" in target)) return target;
    const from = p.moduleVersion;
    const base = this.#result(p, target.version, false);
    if (target.version === from) return { ...base, ok: true };
    // A module that does not load is refused before anything is suspended.
    try {
      await this.#parts.pool.inspect(target.path, target.version);
    } catch (error) {
      return this.#failure(p, target.version, `Cannot load version "${shortHash(target.version)}" of ${p.module}: ${describeError(error)}`, base);
    }
    p = this.#held(name); // it may have moved or stopped while the module loaded
    const wasCompleted = p.state === "completed";
    const t0 = performance.now();
    p.closeGate();
    p.moveTo("suspending");
    try {
      await Promise.allSettled([...p.inflight]);
      this.#parts.trace.mark("executor", "suspend for upgrade", name);
      await this.#parts.pool.request({ type: "suspend", name, deadlineMs: this.#parts.settings().suspendDeadlineMs });
    } catch (error) {
      // No safe point, or its state cannot be captured: it keeps running the old code.
      if (p.state === "suspending") p.moveTo(wasCompleted ? "completed" : p.hosted ? "running" : "failed");
      p.openGate();
      return this.#failure(p, target.version, `Cannot suspend it: ${describeError(error)}`, base);
    }
    try {
      this.#parts.trace.mark("executor", "upgrade", name);
      const swapped = await this.#parts.pool.request({
        type: "upgrade",
        name,
        modulePath: target.path,
        moduleVersion: target.version,
        fromVersion: from,
        run: !wasCompleted,
        dryRun: false,
      });
      const ms = round(performance.now() - t0);
      p.moduleVersion = target.version;
      p.methods = swapped.methods;
      p.description = swapped.description;
      if (p.state === "suspending") p.moveTo(wasCompleted ? "completed" : "running");
      if (p.error?.startsWith("Upgrade")) p.error = null;
      this.#failed.delete(name);
      this.#parts.events.emit({ type: "upgraded", process: name, generation: p.generation, from: shortHash(from), to: shortHash(target.version), ms });
      this.#parts.log("info", `[${name}] upgraded ${p.module} ${shortHash(from)} → ${shortHash(target.version)} in ${ms} ms`);
      return { ...base, ok: true, changed: true, ms };
    } catch (error) {
      await this.#resumeOld(p, wasCompleted, error);
      return this.#failure(p, target.version, describeError(error), base);
    } finally {
      p.openGate();
    }
  }

  /** Rollback: the old instance resumes from the state captured at suspend. */
  async #resumeOld(p: ManagedProcess, wasCompleted: boolean, cause: unknown): Promise<void> {
    if (this.#parts.table.get(p.name) !== p || p.state !== "suspending") return; // lost meanwhile: already handled
    try {
      if (!p.hosted) throw new FerryError("executor_failed", "its instance was lost while it was suspended");
      await this.#parts.pool.request({ type: "activate", name: p.name, generation: p.generation, run: !wasCompleted });
      p.moveTo(wasCompleted ? "completed" : "running");
    } catch (error) {
      p.moveTo("failed");
      p.error = `Upgrade failed (${describeError(cause)}), then resuming the old code failed: ${describeError(error)}`;
      this.#parts.log("error", `[${p.name}] ${p.error}`);
    }
  }

  #failure(p: ManagedProcess, version: string, reason: string, base: UpgradeResult): UpgradeResult {
    this.#failed.set(p.name, version);
    const to = shortHash(version);
    if (p.state !== "failed") p.error = `Upgrade to ${to} failed: ${reason}`;
    this.#parts.events.emit({ type: "upgrade-failed", process: p.name, generation: p.generation, from: shortHash(p.moduleVersion), to, reason });
    this.#parts.log("warn", `[${p.name}] upgrade of ${p.module} to ${to} failed, it keeps running ${shortHash(p.moduleVersion)}: ${reason}`);
    return { ...base, ok: false, error: reason };
  }

  #result(p: ManagedProcess, to: string, dryRun: boolean): UpgradeResult {
    return { name: p.name, node: this.#parts.node, from: shortHash(p.moduleVersion), to: shortHash(to), ok: false, changed: false, dryRun };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
