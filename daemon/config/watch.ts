/**
 * Keeps the last good cluster.yaml in memory and reports edits. File events are only hints to
 * re-read: every reload reads the file and the processes folder afresh, so missed, repeated or
 * reordered events cannot leave a stale config behind. A bad edit is reported and the last good
 * config stays current (guarantee 6).
 *
 * The config's directory is watched rather than the file itself, filtered to the file, because
 * editors that save by writing a temporary file and renaming it replace the inode a file watch
 * would hold on to. The processes folder is watched too: adding or removing a module can make
 * the config valid or invalid without the file changing.
 *
 * @example
 * ```ts
 * const watcher = new ConfigWatcher("cluster.yaml", {
 *   onChange: (loaded) => reconciler.setDesired(loaded.config),
 *   onError: (err) => log.warn(err.message),
 * });
 * await watcher.start();
 * ```
 * @module
 */
import { type FSWatcher, watch } from "chokidar";
import process from "node:process";
import { dirname, resolve } from "node:path";
import { type ConfigError, FerryError, isFerryError } from "../errors.ts";
import { type LoadedConfig, loadClusterConfig } from "./load.ts";

/** Longer than chokidar's 50 ms window in which repeated changes of one path are dropped. */
const trailingMs = 75;

/** Options of {@link ConfigWatcher}. */
export interface ConfigWatcherOptions {
  /** Called with each new good config whose text differs from the previous good one. */
  onChange(loaded: LoadedConfig): void;
  /** Called when a re-read fails; the last good config stays current. */
  onError(err: ConfigError | FerryError): void;
  /**
   * Quiet time after a file event before re-reading; editors save in several writes.
   * @default 20
   */
  debounceMs?: number;
  /**
   * Environment read for `FERRY_SECRET`.
   * @default process.env
   */
  env?: Record<string, string | undefined>;
  /** Aborting it closes the watcher. */
  signal?: AbortSignal;
}

/**
 * Watches cluster.yaml and the processes folder, re-validating on every change.
 *
 * @example
 * ```ts
 * const watcher = new ConfigWatcher("cluster.yaml", { onChange() {}, onError() {} });
 * const first = await watcher.start();   // throws when the file is invalid
 * await watcher.reload();                // e.g. when a peer reports an edit
 * await watcher.close();
 * ```
 */
export class ConfigWatcher {
  #rejected = false;
  /** As given: issues are labelled with it. */
  readonly #file: string;
  /** Resolved once, so a later chdir cannot change what is watched. */
  readonly #path: string;
  readonly #onChange: (loaded: LoadedConfig) => void;
  readonly #onError: (err: ConfigError | FerryError) => void;
  readonly #debounceMs: number;
  readonly #env: Record<string, string | undefined>;
  readonly #signal: AbortSignal | undefined;
  #current: LoadedConfig | undefined;
  #watcher: FSWatcher | undefined;
  #watchedProcessesDir: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #trailing: ReturnType<typeof setTimeout> | undefined;
  /** Reloads run one at a time, in call order, so results are applied in the order read. */
  #queue: Promise<unknown> = Promise.resolve();
  #queued: Promise<LoadedConfig | undefined> | undefined;
  #closing: Promise<void> | undefined;
  #cancelStart: (() => void) | undefined;
  #starting: Promise<LoadedConfig> | undefined;

  constructor(file: string, options: ConfigWatcherOptions) {
    this.#file = file;
    this.#path = resolve(file);
    this.#onChange = options.onChange;
    this.#onError = options.onError;
    this.#debounceMs = options.debounceMs ?? 20;
    this.#env = options.env ?? process.env;
    this.#signal = options.signal;
  }

  /** The last good config. Throws before {@link start} has succeeded. */
  get current(): LoadedConfig {
    if (!this.#current) throw new FerryError("internal", "ConfigWatcher.current read before start() succeeded");
    return this.#current;
  }

  /**
   * Loads the config and starts watching; resolves once edits are being noticed. Throws the
   * config's error when the first load fails (nothing is watched then).
   */
  start(): Promise<LoadedConfig> {
    if (this.#signal?.aborted || this.#closing) {
      return Promise.reject(new FerryError("internal", "ConfigWatcher started after close()"));
    }
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<LoadedConfig> {
    const loaded = await loadClusterConfig(this.#file, this.#env);
    this.#current = loaded;
    if (this.#closing) return loaded;
    const dir = dirname(this.#path);
    const watcher = watch([dir, loaded.processesDir], {
      ignoreInitial: true,
      depth: 0,
      // Atomic saves (unlink + add within 100 ms) then arrive as one change, not a deletion.
      atomic: true,
      ignored: (path) => !this.#isRelevant(path),
    });
    this.#watcher = watcher;
    this.#watchedProcessesDir = loaded.processesDir;
    watcher.on("all", (_event, path) => {
      if (resolve(path) !== dir) this.#schedule();
    });
    watcher.on("error", (error) => {
      this.#report(new FerryError("internal", `Cannot watch config "${this.#file}": ${describe(error)}`, { cause: error }));
    });
    // close() during start-up must not leave start() waiting for a "ready" that never comes.
    await new Promise<void>((ready) => {
      watcher.once("ready", ready);
      this.#cancelStart = ready;
    });
    this.#cancelStart = undefined;
    if (this.#closing) return loaded;
    if (this.#signal?.aborted) void this.close();
    else this.#signal?.addEventListener("abort", () => void this.close(), { once: true });
    // An edit made while the watcher was starting would otherwise go unnoticed.
    this.#schedule();
    return loaded;
  }

  /**
   * Re-reads the config now. Returns the new config, or `undefined` when it is invalid (then
   * `onError` was called and {@link current} is unchanged). Unchanged text fires no `onChange`.
   */
  reload(): Promise<LoadedConfig | undefined> {
    // Callers arriving while a re-read is queued but not started share it: it will read the file
    // after their call, which is all they need. A re-read already running may have read too early.
    if (this.#queued) return this.#queued;
    const run = this.#queue.then(() => {
      this.#queued = undefined;
      return this.#reloadNow();
    });
    this.#queued = run;
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Stops watching; later events and reloads report nothing. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#timer);
      clearTimeout(this.#trailing);
      this.#cancelStart?.();
      await this.#watcher?.close();
      await this.#queue;
    })();
    return this.#closing;
  }

  async #reloadNow(): Promise<LoadedConfig | undefined> {
    if (this.#closing) return undefined;
    let loaded: LoadedConfig;
    try {
      loaded = await loadClusterConfig(this.#file, this.#env, this.#rejected ? undefined : this.#current);
    } catch (error) {
      if (!this.#closing) {
        this.#rejected = true;
        this.#report(asFerryError(error));
      }
      return undefined;
    }
    if (this.#closing) return undefined;
    const previous = this.#current;
    this.#current = loaded;
    this.#followProcessesDir(loaded.processesDir);
    // After a rejected edit, even the old text coming back is news: the error is over.
    const recovered = this.#rejected;
    this.#rejected = false;
    if (recovered || previous?.text !== loaded.text || !sameModules(previous.modules, loaded.modules)) this.#onChange(loaded);
    return loaded;
  }

  #schedule(): void {
    if (this.#closing) return;
    clearTimeout(this.#timer);
    clearTimeout(this.#trailing);
    const reload = () => void this.reload().catch((error: unknown) => this.#report(asFerryError(error)));
    this.#timer = setTimeout(reload, this.#debounceMs);
    // chokidar drops (rather than delays) a second "change" of a path within 50 ms of the first,
    // so a quick follow-up save would go unseen; one more read after that window catches it.
    this.#trailing = setTimeout(reload, this.#debounceMs + trailingMs);
  }

  #report(error: ConfigError | FerryError): void {
    try {
      this.#onError(error);
    } catch {
      // A failing error handler has nowhere left to report to; the watcher must keep running.
    }
  }

  /** The config file, and the processes folder and its direct entries; not the data folder. */
  #isRelevant(path: string): boolean {
    const p = resolve(path);
    const processesDir = this.#watchedProcessesDir ?? this.#current?.processesDir;
    return (
      p === this.#path ||
      p === dirname(this.#path) ||
      p === processesDir ||
      (processesDir !== undefined && dirname(p) === processesDir)
    );
  }

  #followProcessesDir(dir: string): void {
    const previous = this.#watchedProcessesDir;
    if (!this.#watcher || previous === dir) return;
    this.#watchedProcessesDir = dir;
    if (previous !== undefined && previous !== dirname(this.#path)) this.#watcher.unwatch(previous);
    this.#watcher.add(dir);
  }
}

function asFerryError(error: unknown): ConfigError | FerryError {
  if (isFerryError(error)) return error;
  return new FerryError("internal", `Cannot reload config: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A module added, removed or renamed counts as a change even when cluster.yaml's text did not. */
function sameModules(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, path] of a) if (b.get(name) !== path) return false;
  return true;
}
