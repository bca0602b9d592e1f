/**
 * Where a node gets the code of a module version. A version is a content hash (see `hash.ts`);
 * the cluster's config revision names the one each process runs. The node's own `processes/`
 * copy serves when it has that hash; otherwise the version comes from the node's cache, or from
 * a peer — verified against the hash before anything of it is written, so code from peers is
 * loaded only when its hash is the one asked for. The registry also answers peers asking for a
 * version this node has.
 *
 * @example
 * ```ts
 * const modules = new ModuleRegistry({
 *   processesDir: "/srv/ferry/processes",
 *   cacheDir: "/var/lib/ferry/alpha/modules",
 *   installRoot: ferryInstallRoot(),
 *   fetchBundle: async (hash) => askPeers(hash), // { peer, bundle } from `module.fetch`, or undefined
 * });
 * const { path, version } = await modules.resolve("Counter", revision.modules.Counter);
 * await pool.start({ name: "counter", modulePath: path, moduleVersion: version, ... });
 * ```
 * @module
 */
import { stat } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import type { ModuleBundle } from "../../schemas/api.schema.ts";
import { FerryError } from "../errors.ts";
import { readBundle, stampOf } from "./bundle.ts";
import { type CacheFs, ModuleCache } from "./cache.ts";
import { isModuleHash, shortHash } from "./hash.ts";
import { listModules } from "./inspect.ts";

/** A bundle as a peer answered `module.fetch`, with the peer's name (for messages). */
export interface PeerBundle {
  peer: string;
  /** Unchecked: the registry verifies it against the hash it asked for. */
  bundle: ModuleBundle;
}

export interface ModuleRegistryOptions {
  /** This node's processes folder. */
  processesDir: string;
  /** Where fetched versions are kept: `<dataDir>/modules`. */
  cacheDir: string;
  /** The Ferry install that imports leaving a bundle resolve into; normally `ferryInstallRoot()`. */
  installRoot: string;
  /** Asks peers for the version with this hash; undefined when none has it. */
  fetchBundle: (hash: string) => Promise<PeerBundle | undefined>;
  /** @default durableCacheFs */
  cacheFs?: CacheFs;
}

/** The file to import for a module version, and the version's id (its content hash). */
export interface ResolvedModule {
  path: string;
  version: string;
}

interface LocalEntry {
  entry: string;
  bundle: ModuleBundle;
  stamps: Map<string, string>;
}

/** Module versions this node has, can fetch and can serve. */
export class ModuleRegistry {
  readonly #processesDir: string;
  readonly #fetchBundle: (hash: string) => Promise<PeerBundle | undefined>;
  readonly #cache: ModuleCache;
  readonly #local = new Map<string, LocalEntry>();
  readonly #fetching = new Map<string, Promise<ModuleBundle>>();
  readonly #looking = new Map<string, Promise<ModuleBundle | undefined>>();

  constructor(options: ModuleRegistryOptions) {
    this.#processesDir = resolvePath(options.processesDir);
    this.#fetchBundle = options.fetchBundle;
    this.#cache = new ModuleCache(options.cacheDir, options.installRoot, options.cacheFs ? { fs: options.cacheFs } : {});
  }

  /**
   * The bundle of this node's `processes/` copy of `module`, or undefined when it has none. Read
   * again only when one of its files changed, so calling it often is cheap. Throws
   * `module_invalid` when a file it imports is missing.
   *
   * @example
   * ```ts
   * const local = await modules.local("Counter");
   * console.log(local ? shortHash(local.hash) : "not here");
   * ```
   */
  local(module: string): Promise<ModuleBundle | undefined> {
    // Callers arriving while a look is under way share it: a thousand processes of one module
    // arriving at once cost one listing of the folder, not a thousand.
    let looking = this.#looking.get(module);
    if (!looking) {
      looking = this.#lookLocal(module).finally(() => this.#looking.delete(module));
      this.#looking.set(module, looking);
    }
    return looking;
  }

  async #lookLocal(module: string): Promise<ModuleBundle | undefined> {
    const entry = (await listModules(this.#processesDir)).get(module);
    if (!entry) {
      this.#local.delete(module);
      return undefined;
    }
    const known = this.#local.get(module);
    if (known && known.entry === entry && (await unchanged(known.stamps))) return known.bundle;
    const { bundle, stamps } = await readBundle(this.#processesDir, module, entry);
    this.#local.set(module, { entry, bundle, stamps });
    return bundle;
  }

  /**
   * The file to import for `module` at version `wantedHash` and that version's id: this node's
   * own copy when it has that hash (or when no hash is asked for), else the cached copy, else
   * one fetched from a peer, verified and cached. Throws `module_not_found` when no node has
   * it, `module_invalid` when a peer's copy does not match the hash.
   *
   * @example
   * ```ts
   * const { path, version } = await modules.resolve("Counter", "3f2a9c0d1e4b…");
   * ```
   */
  async resolve(module: string, wantedHash?: string): Promise<ResolvedModule> {
    let local: ModuleBundle | undefined;
    let localProblem = "";
    try {
      local = await this.local(module);
    } catch (error) {
      if (wantedHash === undefined) throw error;
      localProblem = " (this node's copy cannot be bundled)";
    }
    if (local && (wantedHash === undefined || local.hash === wantedHash)) {
      // Deno imports the folder's own TypeScript; Node's executors the compiled copy in the cache.
      if ("Deno" in globalThis) return { path: join(this.#processesDir, local.entry), version: local.hash };
      return { path: this.#cache.entryFile(await this.#cache.put(local, local.hash, "")), version: local.hash };
    }
    if (wantedHash === undefined) {
      throw new FerryError("module_not_found", `Module "${module}" is not in "${this.#processesDir}"`, { hint: `add ${module}.ts there` });
    }
    if (!isModuleHash(wantedHash)) {
      throw new FerryError("module_invalid", `Version "${wantedHash}" of module "${module}" is not a content hash`, { hint: "a version is 64 hex digits of sha256" });
    }
    if (local) localProblem = ` (this node's copy is version "${shortHash(local.hash)}")`;
    const bundle = (await this.#cache.get(wantedHash)) ?? (await this.#fetch(module, wantedHash, localProblem));
    if (bundle.module !== module) {
      throw new FerryError("module_invalid", `Version "${shortHash(wantedHash)}" is module "${bundle.module}", not "${module}"`, {
        hint: "the config revision names the wrong version for this module",
      });
    }
    return { path: this.#cache.entryFile(bundle), version: wantedHash };
  }

  /**
   * The version with this hash if this node can serve it — from its processes folder or its
   * cache — for a peer asking with `module.fetch`.
   *
   * @example
   * ```ts
   * const bundle = await modules.bundleByHash(hash); // undefined: answer 404
   * ```
   */
  async bundleByHash(hash: string): Promise<ModuleBundle | undefined> {
    if (!isModuleHash(hash)) return undefined;
    const cached = await this.#cache.get(hash);
    if (cached) return cached;
    for (const module of (await listModules(this.#processesDir)).keys()) {
      try {
        const bundle = await this.local(module);
        if (bundle?.hash === hash) return bundle;
      } catch {
        // A module that cannot be bundled has no version to serve.
      }
    }
    return undefined;
  }

  #fetch(module: string, hash: string, localProblem: string): Promise<ModuleBundle> {
    let fetching = this.#fetching.get(hash);
    if (!fetching) {
      fetching = (async () => {
        const answer = await this.#fetchBundle(hash);
        if (!answer) {
          throw new FerryError("module_not_found", `Module "${module}" version "${shortHash(hash)}" is not on this node${localProblem} and no peer has it`, {
            hint: "is a node holding it in its processes/ folder running?",
          });
        }
        return this.#cache.put(answer.bundle, hash, answer.peer);
      })().finally(() => this.#fetching.delete(hash));
      this.#fetching.set(hash, fetching);
    }
    return fetching;
  }
}

async function unchanged(stamps: Map<string, string>): Promise<boolean> {
  const checks = [...stamps].map(async ([file, stamp]) => {
    try {
      return stampOf(await stat(file)) === stamp;
    } catch {
      return false;
    }
  });
  return (await Promise.all(checks)).every(Boolean);
}
