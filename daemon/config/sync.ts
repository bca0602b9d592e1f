/**
 * Multi-machine mode: the desired config is a sequence of revisions in the cluster store, and
 * every machine's cluster.yaml follows it.
 *
 * - An edit of this machine's file (by hand, or by `ferry migrate/create/rm` here) is published
 *   with a compare-and-swap on the revision the file was based on. Two machines editing at once:
 *   one wins; the other's edit is refused with a message naming the newer revision, kept beside
 *   the file (`cluster.yaml.rejected-<time>`) so nothing is silently lost, and the file is
 *   rewritten to the newer revision.
 * - Every revision published anywhere is applied here, and this machine's file is rewritten to
 *   match, keeping its own comments and layout where the values did not change.
 * - What the file was last synced to (revision and text) is kept in the node's data directory,
 *   so a restart can tell an edit made while the daemon was down from a file that is merely old.
 *
 * @example
 * ```ts
 * const sync = new ConfigSync({ file, node: "alpha", store: store.config, stateDir, apply, reject });
 * const loaded = await sync.start(await loadClusterConfig(file));
 * sync.watch(signal);
 * ```
 * @module
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeError, FerryError, isFerryError } from "../errors.ts";
import type { ConfigRevision, ConfigRevisions } from "../store/cluster-store.ts";
import { bundleModule } from "../modules/bundle.ts";
import { type LoadedConfig, loadClusterText } from "./load.ts";
import { mergeConfigText, sameConfigData } from "./merge.ts";

export interface ConfigSyncOptions {
  /** This machine's cluster.yaml. */
  file: string;
  node: string;
  store: ConfigRevisions;
  /** Where the sync state is kept (the node's data directory). */
  stateDir: string;
  /** A revision to run, with the module versions it names. */
  apply(loaded: LoadedConfig, revision: string, modules: Record<string, string>): void;
  /** A local edit that was refused or a revision that could not be applied. */
  reject(error: unknown): void;
  log?: (line: string) => void;
}

interface Base {
  revision: string;
  /** The file's text when it was last in sync with `revision`. */
  text: string;
  /** The module versions `revision` names. */
  modules: Record<string, string>;
}

export class ConfigSync {
  readonly #options: ConfigSyncOptions;
  #base: Base | undefined;
  #pending: Promise<void> = Promise.resolve();
  #lastError: unknown;
  /** An edit refused at start-up, reported once the node runs (see {@link startError}). */
  #startError: FerryError | undefined;
  /** A local edit the store could not take yet (it was down): published when it answers again. */
  #unpublished: LoadedConfig | undefined;

  constructor(options: ConfigSyncOptions) {
    this.#options = options;
    this.#base = this.#readBase();
  }

  /** An edit of the file refused at start-up, to show once the node runs; undefined if none. */
  get startError(): FerryError | undefined {
    return this.#startError;
  }

  /** The revision this node runs. */
  get revision(): string | undefined {
    return this.#base?.revision;
  }

  /** The module versions the revision this node runs names. */
  get modules(): Record<string, string> {
    return this.#base?.modules ?? {};
  }

  /**
   * The module versions an edit of this machine's file names: this machine's copy of each module
   * its processes use, or (for one it does not have) the version the cluster runs now.
   */
  async #versionsOf(loaded: LoadedConfig): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const module of new Set(Object.values(loaded.config.processes).map((p) => p.module))) {
      if (loaded.modules.has(module)) {
        try {
          out[module] = (await bundleModule(loaded.processesDir, module)).hash;
          continue;
        } catch {
          // A module that cannot be bundled here keeps the version the cluster runs.
        }
      }
      const known = this.#base?.modules[module];
      if (known) out[module] = known;
    }
    return out;
  }

  #baseFile(): string {
    return join(this.#options.stateDir, "config-base.json");
  }

  #readBase(): Base | undefined {
    try {
      const value = JSON.parse(readFileSync(this.#baseFile(), "utf8")) as Partial<Base>;
      return typeof value.revision === "string" && typeof value.text === "string" ? { revision: value.revision, text: value.text, modules: value.modules ?? {} } : undefined;
    } catch {
      return undefined;
    }
  }

  #writeBase(base: Base): void {
    this.#base = base;
    const tmp = `${this.#baseFile()}.tmp`;
    writeFileSync(tmp, JSON.stringify(base));
    renameSync(tmp, this.#baseFile());
  }

  /** Rewrites the file atomically (editors and the watcher never see half a file). */
  #writeFile(text: string): void {
    const tmp = `${this.#options.file}.ferry-tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.#options.file);
  }

  /**
   * Settles this machine's file with the store at start-up and returns the config to run:
   * publishes an edit made while the daemon was down, or takes the newer revision.
   */
  async start(local: LoadedConfig): Promise<LoadedConfig> {
    let current = await this.#options.store.current();
    if (!current) {
      const modules = await this.#versionsOf(local);
      try {
        const { revision } = await this.#options.store.publish(local.text, modules, undefined, this.#options.node);
        this.#writeBase({ revision, text: local.text, modules });
        return local;
      } catch (error) {
        // Another machine started at the same moment and published first: its revision rules.
        if (!isFerryError(error) || error.code !== "conflict") throw error;
        current = await this.#options.store.current();
        if (!current) throw error;
      }
    }
    const base = this.#base;
    if (base && local.text !== base.text) {
      // Edited while this daemon was down: an edit based on `base`.
      try {
        const modules = await this.#versionsOf(local);
        const { revision } = await this.#options.store.publish(local.text, modules, base.revision, this.#options.node);
        this.#writeBase({ revision, text: local.text, modules });
        return local;
      } catch (error) {
        if (!isFerryError(error) || error.code !== "conflict") throw error;
        const refused = this.#refuse(local.text, error);
        this.#options.log?.(`ferry: ${refused.userMessage}`);
        this.#startError = refused;
      }
    } else if (!base && !sameConfigData(local.text, current.text)) {
      // A machine joining with a file of its own: the cluster's revisions win; its file is kept.
      this.#keepAside(local.text, "local");
      this.#options.log?.(`ferry: ${this.#options.file} differed from the cluster's revision ${current.revision}; it was replaced (the old one is kept beside it)`);
    }
    return this.#take(current);
  }

  /** Takes a revision: the file follows it, keeping its own comments. */
  async #take({ text, revision, modules }: ConfigRevision): Promise<LoadedConfig> {
    let fileText = "";
    try {
      fileText = readFileSync(this.#options.file, "utf8");
    } catch {
      // gone: written afresh
    }
    const merged = mergeConfigText(fileText, text);
    const loaded = await loadClusterText(merged, this.#options.file);
    if (merged !== fileText) this.#writeFile(merged);
    this.#writeBase({ revision, text: merged, modules });
    return loaded;
  }

  /** Keeps a refused or replaced version of the file beside it. */
  #keepAside(text: string, why: "rejected" | "local"): string {
    const file = `${this.#options.file}.${why}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    writeFileSync(file, text);
    return file;
  }

  /** Keeps a refused edit beside the file; returns the error to report once the newer revision runs. */
  #refuse(text: string, error: FerryError): FerryError {
    const kept = this.#keepAside(text, "rejected");
    const refused = new FerryError("conflict", `${error.message}; your version is kept as ${kept}`, { hint: error.hint ?? "make the edit again", retryable: false, cause: error });
    this.#lastError = refused;
    return refused;
  }

  /**
   * This machine's file changed (the watcher read a valid edit): publish it. Resolves once it is
   * published or refused; the outcome of the last one is what {@link settled} reports.
   */
  localEdit(loaded: LoadedConfig): Promise<void> {
    const run = this.#pending.then(async () => {
      this.#lastError = undefined;
      this.#unpublished = undefined;
      if (loaded.text === this.#base?.text) return; // this sync's own rewrite
      // Level, not edge: the file may have moved on since this edit was read. A newer revision
      // that arrived meanwhile refused it and rewrote the file (publishing it now, on top of that
      // revision, would undo the winner's edit); a later edit is reported on its own.
      if (!this.#fileHolds(loaded.text)) return;
      try {
        const modules = await this.#versionsOf(loaded);
        const { revision } = await this.#options.store.publish(loaded.text, modules, this.#base?.revision, this.#options.node);
        this.#writeBase({ revision, text: loaded.text, modules });
        this.#options.apply(loaded, revision, modules);
      } catch (error) {
        if (isFerryError(error) && error.code === "conflict") {
          const refused = this.#refuse(loaded.text, error);
          const current = await this.#options.store.current().catch(() => undefined);
          if (current) this.#options.apply(await this.#take(current), current.revision, current.modules);
          // After the newer revision is applied, so the refusal stays shown until the next edit.
          this.#options.reject(refused);
          return;
        }
        this.#unpublished = loaded;
        this.#lastError = new FerryError("unavailable", `Cannot publish the edit of ${this.#options.file}: ${describeError(error)}; it is not applied yet`, { hint: "it is published when the cluster store answers again (the file keeps the edit)", cause: error });
        this.#options.reject(this.#lastError);
      }
    });
    this.#pending = run.catch(() => {});
    return run;
  }

  #fileHolds(text: string): boolean {
    try {
      return readFileSync(this.#options.file, "utf8") === text;
    } catch {
      return false;
    }
  }

  /** Publishes a local edit the store could not take when it was made (called periodically). */
  retryUnpublished(): Promise<void> {
    return this.#unpublished ? this.localEdit(this.#unpublished) : Promise.resolve();
  }

  /** Resolves after the last local edit was published; throws why it was not. */
  async settled(): Promise<void> {
    await this.#pending;
    if (this.#lastError) throw this.#lastError;
  }

  /** Applies every revision published from now on (by any machine) until `signal` aborts. */
  watch(signal: AbortSignal): void {
    this.#options.store.watch((next) => {
      const { text, revision } = next;
      this.#pending = this.#pending.then(async () => {
        if (revision === this.#base?.revision || (this.#base && Number(revision) < Number(this.#base.revision))) return;
        try {
          // An edit of this file not yet published (the store was down, or it is being saved
          // right now) would be overwritten: keep it beside the file and say so.
          let fileText: string | undefined;
          try {
            fileText = readFileSync(this.#options.file, "utf8");
          } catch {
            fileText = undefined;
          }
          let refused: FerryError | undefined;
          if (fileText !== undefined && this.#base && fileText !== this.#base.text && !sameConfigData(fileText, text)) {
            this.#unpublished = undefined;
            refused = this.#refuse(fileText, new FerryError("conflict", `Revision ${revision} of cluster.yaml arrived from another machine before this machine's edit was published; the edit was not applied`, { retryable: false }));
          }
          this.#options.apply(await this.#take(next), revision, next.modules);
          if (refused) this.#options.reject(refused);
        } catch (error) {
          this.#options.reject(error);
        }
      }).catch(() => {});
    }, signal);
  }
}
