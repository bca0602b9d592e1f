/**
 * The supervisor behind `ferry up`: runs one daemon per local node as a child process, prefixes
 * their output with `[node]`, restarts a daemon that crashes (with backoff, so a daemon that
 * cannot start does not spin), and stops them all gracefully on request.
 *
 * A daemon that exits with status 0 was asked to stop (`ferry down`) and is not restarted; when
 * none is left, the supervisor is done.
 *
 * @example
 * ```ts
 * const supervisor = new Supervisor([{ name: "alpha", command: "node", args: ["cli/bin.mjs", "daemon", "--node", "alpha"] }]);
 * supervisor.start();
 * process.on("SIGINT", () => supervisor.stop());
 * await supervisor.done;
 * ```
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

/** One supervised program. */
export interface ChildSpec {
  /** Shown as the `[name]` prefix. */
  name: string;
  command: string;
  args: string[];
  /** Set in its environment, over the ones it inherits. */
  env?: Record<string, string>;
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /**
   * Writes a line of a child's stdout (already prefixed).
   * @default process.stdout
   */
  out?: (line: string) => void;
  /**
   * Writes a line of a child's stderr (already prefixed) or a supervisor message.
   * @default process.stderr
   */
  err?: (line: string) => void;
  /** @default 200 */
  initialBackoffMs?: number;
  /** @default 10000 */
  maxBackoffMs?: number;
  /**
   * A child up this long counts as healthy again: its next crash restarts it quickly.
   * @default 30000
   */
  resetAfterMs?: number;
  /**
   * After SIGTERM, a child still running this long later gets SIGKILL.
   * @default 15000
   */
  killAfterMs?: number;
}

interface Slot {
  spec: ChildSpec;
  child: ChildProcess | undefined;
  startedAt: number;
  backoffMs: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Stopped for good: by the supervisor or by exiting cleanly. */
  finished: boolean;
}

/**
 * Runs and restarts child processes.
 *
 * @example
 * ```ts
 * const supervisor = new Supervisor(specs, { initialBackoffMs: 200 });
 * supervisor.start();
 * await supervisor.done;
 * ```
 */
export class Supervisor {
  /** Resolves once every child has stopped and none will be restarted. */
  readonly done: Promise<void>;
  readonly #slots: Slot[];
  readonly #options: Required<SupervisorOptions>;
  readonly #width: number;
  #resolveDone!: () => void;
  #stopping: Promise<void> | undefined;

  constructor(specs: readonly ChildSpec[], options: SupervisorOptions = {}) {
    this.#options = {
      out: options.out ?? ((line) => process.stdout.write(line + "\n")),
      err: options.err ?? ((line) => process.stderr.write(line + "\n")),
      initialBackoffMs: options.initialBackoffMs ?? 200,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      resetAfterMs: options.resetAfterMs ?? 30_000,
      killAfterMs: options.killAfterMs ?? 15_000,
    };
    this.#slots = specs.map((spec) => ({
      spec,
      child: undefined,
      startedAt: 0,
      backoffMs: this.#options.initialBackoffMs,
      restartTimer: undefined,
      finished: false,
    }));
    this.#width = Math.max(0, ...specs.map((s) => s.name.length));
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    if (specs.length === 0) this.#resolveDone();
  }

  /** Starts every child. */
  start(): void {
    for (const slot of this.#slots) this.#spawn(slot);
  }

  /**
   * Sends SIGTERM to every child, SIGKILL to those still running after `killAfterMs`, and
   * resolves when all have exited. Idempotent: later calls return the same promise, except that
   * calling it again with `force` kills at once (a second Ctrl-C).
   */
  stop(force = false): Promise<void> {
    if (this.#stopping) {
      if (force) for (const slot of this.#slots) signal(slot.child, "SIGKILL");
      return this.#stopping;
    }
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      slot.finished = true;
      signal(slot.child, force ? "SIGKILL" : "SIGTERM");
    }
    const killer = setTimeout(() => {
      for (const slot of this.#slots) {
        if (!slot.child) continue;
        this.#options.err(`ferry up: node "${slot.spec.name}" did not stop within ${this.#options.killAfterMs} ms; killing it`);
        signal(slot.child, "SIGKILL");
      }
    }, this.#options.killAfterMs);
    this.#stopping = this.done.finally(() => clearTimeout(killer));
    this.#checkDone();
    return this.#stopping;
  }

  #spawn(slot: Slot): void {
    slot.restartTimer = undefined;
    const prefix = `[${slot.spec.name}]`.padEnd(this.#width + 2) + " ";
    let child: ChildProcess;
    try {
      // The children write into our pipes; colour codes only make sense if we write to a terminal.
      const env = { ...process.env, ...(process.stdout.isTTY ? {} : { NO_COLOR: "1" }), ...slot.spec.env };
      child = spawn(slot.spec.command, slot.spec.args, { stdio: ["ignore", "pipe", "pipe"], env });
    } catch (error) {
      this.#exited(slot, undefined, null, null, error);
      return;
    }
    slot.child = child;
    slot.startedAt = Date.now();
    if (child.stdout) forEachLine(child.stdout, (line) => this.#options.out(prefix + line));
    if (child.stderr) forEachLine(child.stderr, (line) => this.#options.err(prefix + line));
    let ended = false;
    // `error` alone is emitted when the program cannot be started at all; `close` follows a run.
    child.once("error", (error) => {
      if (ended || child.pid !== undefined) return;
      ended = true;
      this.#exited(slot, child, null, null, error);
    });
    child.once("close", (code, signal) => {
      if (ended) return;
      ended = true;
      this.#exited(slot, child, code, signal, undefined);
    });
  }

  #exited(slot: Slot, child: ChildProcess | undefined, code: number | null, signal: NodeJS.Signals | null, error: unknown): void {
    if (child && slot.child !== child) return;
    slot.child = undefined;
    const name = slot.spec.name;
    if (slot.finished) return this.#checkDone();
    if (code === 0 && error === undefined) {
      this.#options.err(`ferry up: node "${name}" stopped`);
      slot.finished = true;
      return this.#checkDone();
    }
    if (Date.now() - slot.startedAt >= this.#options.resetAfterMs) slot.backoffMs = this.#options.initialBackoffMs;
    const how = error !== undefined
      ? `could not be started (${error instanceof Error ? error.message : String(error)})`
      : signal
      ? `was killed by ${signal}`
      : `exited with status ${code}`;
    this.#options.err(`ferry up: node "${name}" ${how}; restarting in ${slot.backoffMs} ms`);
    slot.restartTimer = setTimeout(() => this.#spawn(slot), slot.backoffMs);
    slot.backoffMs = Math.min(slot.backoffMs * 2, this.#options.maxBackoffMs);
  }

  #checkDone(): void {
    if (this.#slots.every((s) => s.finished && !s.child)) this.#resolveDone();
  }
}

/**
 * Sends `sig` to a running child. By pid rather than `child.kill()`: under Deno, a child once sent
 * SIGTERM counts as killed and a later `kill("SIGKILL")` is silently not sent.
 */
function signal(child: ChildProcess | undefined, sig: NodeJS.Signals): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(child.pid, sig);
  } catch {
    // already gone: its "close" event is on its way
  }
}

/** Calls `fn` with each complete line of a byte stream (a last unterminated line included). */
function forEachLine(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) fn(line.replace(/\r$/, ""));
  });
  stream.on("end", () => {
    if (buffered !== "") fn(buffered);
    buffered = "";
  });
}
