/**
 * The YAML library, loaded the way each runtime loads it fastest. The package's `node` export,
 * which both runtimes pick, is CommonJS: Deno runs it through its Node module loader, one file at
 * a time, some 10 ms of every command that reads cluster.yaml. Deno takes the package's ES module
 * build instead (its `default` export: the same code, as ES modules), and the package's own entry
 * when that build is not where this version of the package has it. Node keeps the package's entry.
 * The built code (dist/) takes the bundle the build made of that ES build, on both runtimes, when
 * there is one.
 *
 * Every module of Ferry imports YAML from here, so one process uses one copy of the library.
 *
 * @example
 * ```ts
 * import { parseDocument } from "./yaml.ts";
 * const doc = parseDocument("a: 1");
 * ```
 * @module
 */
import type * as Yaml from "yaml";

export type { Document, Node, Pair, YAMLError, YAMLMap } from "yaml";
export type LineCounter = Yaml.LineCounter;
export type Scalar<T = unknown> = Yaml.Scalar<T>;

const yaml: typeof Yaml = (await bundled()) ?? ("Deno" in globalThis ? await esModuleBuild() : await import("yaml"));

export const { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parse, parseDocument, Scalar, stringify, visit } = yaml;

/**
 * The library as one file (`dist/vendor/yaml.js`, made by scripts/build.mjs when it has esbuild),
 * for the built code: one file loads in a fraction of the time of the package's many.
 */
async function bundled(): Promise<typeof Yaml | undefined> {
  if (!import.meta.url.endsWith(".js")) return undefined;
  try {
    return (await import(new URL("../../vendor/yaml.js", import.meta.url).href)) as typeof Yaml;
  } catch {
    return undefined;
  }
}

async function esModuleBuild(): Promise<typeof Yaml> {
  try {
    // The entry Deno resolves is `<package>/dist/index.js`; the ES build is `<package>/browser/index.js`.
    return (await import(new URL("../browser/index.js", import.meta.resolve("yaml")).href)) as typeof Yaml;
  } catch {
    return await import("yaml");
  }
}
