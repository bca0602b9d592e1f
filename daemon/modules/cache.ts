/**
 * The node's cache of module versions fetched from peers, in its data directory: one folder per
 * content hash, written only after the bundle was verified against the hash asked for, and
 * complete or absent — it is written under a temporary name and renamed into place, so a crash
 * mid-write leaves at most a temporary folder, removed before the next write.
 *
 * ```text
 * <dir>/<hash>/bundle.json    the bundle as received (what this node serves to other peers)
 * <dir>/<hash>/package.json   { "type": "module" }
 * <dir>/<hash>/files/…        Deno: the files, imports that leave the bundle pointing into this install
 * <dir>/<hash>/node/…         Node: the same compiled to JavaScript (see materialize.ts)
 * <dir>/.tmp-…/               a write in progress (or cut short by a crash)
 * ```
 *
 * @example
 * ```ts
 * const cache = new ModuleCache("/var/lib/ferry/alpha/modules", ferryInstallRoot());
 * const bundle = await cache.put(await fetchFromPeer(hash), hash, "beta");
 * await import(pathToFileURL(cache.entryFile(bundle)).href);
 * ```
 * @module
 */
import { randomUUID } from "../builtins/crypto.ts";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ModuleBundle } from "../../schemas/api.schema.ts";
import { isFerryError } from "../errors.ts";
import { syncDir } from "../store/journal.ts";
import { errorCodeOf, storageFailed } from "../store/fs.ts";
import { isModuleHash, shortHash } from "./hash.ts";
import { compiledName, materialize, type MaterializeTarget } from "./materialize.ts";
import { verifyBundle } from "./verify.ts";
import { installRoot } from "../install.ts";

/** How the cache writes a file; a test passes one that fails or dies part-way. */
export interface CacheFs {
  /** Writes `text` to a new file at `path` and makes it durable (fsync) before resolving. */
  writeFile(path: string, text: string): Promise<void>;
}

/** The real filesystem, with an fsync per file. */
export const durableCacheFs: CacheFs = {
  async writeFile(path, text) {
    const bytes = new TextEncoder().encode(text);
    const handle = await open(path, "w");
    try {
      for (let offset = 0; offset < bytes.byteLength; ) offset += (await handle.write(bytes, offset, bytes.byteLength - offset)).bytesWritten;
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** Deno loads TypeScript itself; Node's executors import the compiled JavaScript. */
const target: MaterializeTarget = "Deno" in globalThis ? "source" : "node";
const targetDir = target === "node" ? "node" : "files";

function entryName(bundle: ModuleBundle): string {
  return target === "node" ? compiledName(bundle.entry) : bundle.entry;
}

/**
 * The root of the Ferry install running this code (the package folder holding the `daemon/`
 * sources), so a rewritten import loads the same module instances as the daemon: Deno runs those
 * sources, and on Node the module hooks turn them into the built files the daemon runs.
 *
 * @example
 * ```ts
 * ferryInstallRoot(); // "/opt/ferry"
 * ```
 */
export function ferryInstallRoot(): string {
  return installRoot;
}

export interface ModuleCacheOptions {
  /** @default durableCacheFs */
  fs?: CacheFs;
}

/** Verified module bundles by content hash, materialized for this install. */
export class ModuleCache {
  readonly dir: string;
  readonly installRoot: string;
  readonly #fs: CacheFs;
  readonly #known = new Map<string, ModuleBundle>();
  readonly #writing = new Map<string, Promise<ModuleBundle>>();
  #swept: Promise<void> | undefined;

  constructor(dir: string, installRoot: string, options: ModuleCacheOptions = {}) {
    this.dir = dir;
    this.installRoot = installRoot;
    this.#fs = options.fs ?? durableCacheFs;
  }

  /**
   * The cached bundle with this hash, checked against it once per cache instance; undefined when
   * absent. A folder that fails the check (a damaged disk) is removed so it can be fetched again.
   *
   * @example
   * ```ts
   * const bundle = await cache.get(hash);
   * if (bundle) await import(pathToFileURL(cache.entryFile(bundle)).href);
   * ```
   */
  async get(hash: string): Promise<ModuleBundle | undefined> {
    if (!isModuleHash(hash)) return undefined;
    const known = this.#known.get(hash);
    if (known) return known;
    const folder = join(this.dir, hash);
    let text: string;
    try {
      text = await readFile(join(folder, "bundle.json"), "utf8");
    } catch (error) {
      if (errorCodeOf(error) === "ENOENT" || errorCodeOf(error) === "ENOTDIR") return undefined;
      throw storageFailed(`Cannot read the module cache "${folder}"`, this.dir, error);
    }
    let bundle: ModuleBundle;
    try {
      bundle = verifyBundle(JSON.parse(text), hash, "this node's cache");
      // Written for the other runtime (the node changed runtimes): written again for this one.
      await stat(join(folder, targetDir, ...entryName(bundle).split("/")));
    } catch {
      await rm(folder, { recursive: true, force: true });
      return undefined;
    }
    this.#known.set(hash, bundle);
    return bundle;
  }

  /**
   * The file to import for a bundle this cache holds.
   *
   * @example
   * ```ts
   * cache.entryFile(bundle); // "/var/lib/ferry/alpha/modules/3f2a…/files/Counter.ts"
   * ```
   */
  entryFile(bundle: ModuleBundle): string {
    return join(this.dir, bundle.hash, targetDir, ...entryName(bundle).split("/"));
  }

  /**
   * The cached version with `hash`; if there is none, `candidate` (as received from node
   * `source`) verified against `hash` and written. A version already cached is not hashed again:
   * a node resolves its own modules through here each time a process starts. Throws
   * `module_invalid` (nothing written) when the content does not match the hash or needs files
   * this install lacks, `storage_failed` when the disk refuses.
   *
   * @example
   * ```ts
   * const bundle = await cache.put(answer, hash, "beta");
   * ```
   */
  async put(candidate: unknown, hash: string, source: string): Promise<ModuleBundle> {
    const present = await this.get(hash);
    if (present) return present;
    const bundle = verifyBundle(candidate, hash, source);
    let writing = this.#writing.get(hash);
    if (!writing) {
      writing = this.#write(bundle, source).finally(() => this.#writing.delete(hash));
      this.#writing.set(hash, writing);
    }
    return writing;
  }

  async #write(bundle: ModuleBundle, source: string): Promise<ModuleBundle> {
    const sources = await materialize(bundle, this.installRoot, source, target);
    const folder = join(this.dir, bundle.hash);
    const temp = join(this.dir, `.tmp-${shortHash(bundle.hash)}-${randomUUID().slice(0, 8)}`);
    try {
      this.#swept ??= this.#sweep().catch((error: unknown) => {
        this.#swept = undefined;
        throw error;
      });
      await this.#swept;
      const dirs = new Set([temp, join(temp, targetDir)]);
      for (const path of Object.keys(sources)) dirs.add(dirname(join(temp, targetDir, ...path.split("/"))));
      for (const dir of dirs) await mkdir(dir, { recursive: true });
      for (const [path, text] of Object.entries(sources)) await this.#fs.writeFile(join(temp, targetDir, ...path.split("/")), text);
      await this.#fs.writeFile(join(temp, "package.json"), '{ "type": "module" }\n');
      // Last: a folder with bundle.json is a complete one.
      await this.#fs.writeFile(join(temp, "bundle.json"), JSON.stringify(bundle));
      for (const dir of dirs) syncDir(dir);
      try {
        await rename(temp, folder);
      } catch {
        // Another write of the same version won: keep the one in place. A folder without a
        // valid bundle.json is debris (a damaged disk): replace it.
        const existing = await this.get(bundle.hash);
        if (existing) {
          await rm(temp, { recursive: true, force: true });
          return existing;
        }
        await rm(folder, { recursive: true, force: true });
        await rename(temp, folder);
      }
      syncDir(this.dir);
    } catch (error) {
      await rm(temp, { recursive: true, force: true }).catch(() => {});
      if (isFerryError(error)) throw error;
      throw storageFailed(`Cannot write module "${bundle.module}" version "${shortHash(bundle.hash)}" to the cache "${this.dir}"`, this.dir, error);
    }
    this.#known.set(bundle.hash, bundle);
    return bundle;
  }

  /** Removes what writes cut short by a crash left behind. */
  async #sweep(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(".tmp-")) await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }
}
