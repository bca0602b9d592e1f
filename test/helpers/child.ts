/**
 * A child process a test owns (an etcd member, a machine's daemon): its output captured, stopped
 * by real signals with the exit awaited, frozen with SIGSTOP until the kernel reports it stopped.
 * A test that forgets to stop one, or fails before it can, does not leave it behind: every live
 * child is SIGKILLed when the test process exits, and none keeps the test process alive.
 *
 * @example
 * ```ts
 * const etcd = OwnedChild.spawn("etcd", ["--data-dir", dir]);
 * await etcd.pause();            // SIGSTOP, resolves once /proc says "T"
 * await etcd.resume();
 * await etcd.stop("SIGKILL");    // resolves once it exited
 * ```
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { waitFor } from "./wait.ts";

const live = new Set<ChildProcess>();
let hooked = false;

/** SIGKILLs every child still running when the test process exits (synchronous, as `exit` requires). */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * The scheduler state of `pid` from `/proc/<pid>/stat` ("R", "S", "T" stopped, "Z"…), or
 * undefined when there is no such process.
 *
 * @example
 * ```ts
 * procState(process.pid); // "R"
 * ```
 */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name sits in parentheses and may itself contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

export class OwnedChild {
  /** Everything the child wrote to stdout and stderr, interleaved as it arrived. */
  log = "";
  /** What it wrote to stdout. */
  stdout = "";
  /** What it wrote to stderr. */
  stderr = "";
  readonly process: ChildProcess;
  readonly #exited: Promise<number | string>;
  readonly #closed: Promise<void>;
  #exit: number | string | undefined;

  private constructor(child: ChildProcess) {
    this.process = child;
    live.add(child);
    hookExit();
    child.stdout?.on("data", (d) => {
      this.log += d;
      this.stdout += d;
    });
    child.stderr?.on("data", (d) => {
      this.log += d;
      this.stderr += d;
    });
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        live.delete(child);
        this.#exit = code ?? signal ?? "unknown";
        resolve(this.#exit);
      });
      // A failed spawn (no such program) emits error and no exit.
      child.once("error", (error) => {
        live.delete(child);
        this.log += `\nspawn failed: ${error.message}\n`;
        this.#exit ??= "spawn-error";
        resolve(this.#exit);
      });
    });
    this.#closed = new Promise((resolve) => {
      child.once("close", () => resolve());
      child.once("error", () => resolve());
    });
    // The test process may exit with children running; the exit hook then kills them.
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
  }

  /**
   * Spawns `command` with stdout and stderr captured in {@link OwnedChild.log}.
   *
   * @example
   * ```ts
   * const child = OwnedChild.spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
   * ```
   */
  static spawn(command: string, args: string[], options: SpawnOptions = {}): OwnedChild {
    return new OwnedChild(spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] }));
  }

  /**
   * Resolves with the exit code (or the signal's name) once the child has exited. Awaiting it
   * keeps the test process alive until then.
   */
  get exited(): Promise<number | string> {
    this.#ref();
    return this.#exited;
  }

  /**
   * Resolves once the child has exited and its output streams have ended, so {@link log},
   * {@link stdout} and {@link stderr} are complete (what a CLI run's result needs).
   */
  get closed(): Promise<void> {
    this.#ref();
    return this.#exited.then(() => this.#closed);
  }

  /** Someone awaits this child: keep the test process alive for it. */
  #ref(): void {
    this.process.ref();
    (this.process.stdout as { ref?: () => void } | null)?.ref?.();
    (this.process.stderr as { ref?: () => void } | null)?.ref?.();
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** True until the child has exited. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** How it ended: exit code or signal name; undefined while it runs. */
  get exit(): number | string | undefined {
    return this.#exit;
  }

  /**
   * Sends `signal` and resolves once the child has exited (a stopped child is continued first,
   * so SIGTERM can be handled).
   *
   * @example
   * ```ts
   * await child.stop("SIGKILL");
   * ```
   */
  async stop(signal: "SIGTERM" | "SIGINT" | "SIGKILL" = "SIGTERM"): Promise<number | string> {
    if (this.running) {
      this.process.kill(signal);
      if (signal !== "SIGKILL") this.process.kill("SIGCONT");
    }
    return await this.exited;
  }

  /**
   * SIGSTOP: the child stays alive, holds its ports and files, and answers nothing. Resolves once
   * the kernel reports it stopped.
   *
   * @example
   * ```ts
   * await child.pause();
   * ```
   */
  async pause(): Promise<void> {
    const pid = this.#livePid("pause");
    this.process.kill("SIGSTOP");
    await waitFor(() => procState(pid) === "T" || !this.running, `process ${pid} to stop`, 10_000, 10);
  }

  /**
   * SIGCONT, resolving once the kernel reports the child no longer stopped.
   *
   * @example
   * ```ts
   * await child.resume();
   * ```
   */
  async resume(): Promise<void> {
    const pid = this.#livePid("resume");
    this.process.kill("SIGCONT");
    await waitFor(() => procState(pid) !== "T" || !this.running, `process ${pid} to continue`, 10_000, 10);
  }

  /** True while the child is stopped by SIGSTOP. */
  get paused(): boolean {
    return this.running && this.pid !== undefined && procState(this.pid) === "T";
  }

  #livePid(action: string): number {
    if (!this.running || this.pid === undefined) throw new Error(`Cannot ${action} process "${this.pid}": it is not running`);
    return this.pid;
  }
}
