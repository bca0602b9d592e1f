/**
 * A CommonJS package a daemon needs for bursts of work only (sucrase strips a module's types when
 * a new version arrives), loaded on first use and let go once it has not been used for a while.
 * An ES module, once imported, stays in the module map for as long as the process runs, and so
 * does everything it holds (its source text, compiled code and tables: some 2 MiB for sucrase);
 * a package loaded through `require` is forgotten by dropping its files from `require.cache`, so
 * the next full garbage collection gives its memory back. Using it again loads it again.
 *
 * @example
 * ```ts
 * const sucrase = new TransientPackage<typeof import("sucrase")>("sucrase", 10_000);
 * sucrase.get().transform(source, { transforms: ["typescript"] });
 * ```
 * @module
 */
import { createRequire } from "node:module";

/** The loader's cache (the same object for every `require`); dropping a file's entry forgets it. */
const cache = createRequire(import.meta.url).cache;

export class TransientPackage<T> {
  readonly #specifier: string;
  readonly #lingerMs: number;
  #module: T | undefined;
  /** The files the last load added to the cache: the package's own and what it required. */
  #files: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `lingerMs`: how long after its last use the package is let go. */
  constructor(specifier: string, lingerMs: number) {
    this.#specifier = specifier;
    this.#lingerMs = lingerMs;
  }

  /** Whether the package is loaded now. */
  get loaded(): boolean {
    return this.#module !== undefined;
  }

  /** The package's exports, loaded now if they are not; keeps them for `lingerMs` more. */
  get(): T {
    if (this.#module === undefined) {
      const before = new Set(Object.keys(cache));
      // A require function of its own each time: the module behind it lists what it loaded as its
      // children, and it must not outlive the load.
      this.#module = createRequire(import.meta.url)(this.#specifier) as T;
      this.#files = Object.keys(cache).filter((file) => !before.has(file));
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.release(), this.#lingerMs);
    // Unref'd: a package waiting to be let go does not keep the process alive.
    (this.#timer as { unref?: () => void }).unref?.();
    return this.#module;
  }

  /** Lets the package go now (what it returned stays usable as long as its caller holds it). */
  release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const file of this.#files) delete cache[file];
    this.#files = [];
    this.#module = undefined;
  }
}
