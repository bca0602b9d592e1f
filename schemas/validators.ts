/**
 * Every runtime validator, compiled from the same JSON schemas that give config and messages
 * their types. The built daemon and CLI load them precompiled (scripts/build.mjs writes
 * `dist/schemas/validators-<family>.js` with Ajv's standalone code): compiling them at start-up
 * took most of a command's time and kept the compiler in every daemon's memory. The sources
 * (Deno, tests, an unbuilt checkout) compile them on first use with the same options.
 *
 * @example
 * ```ts
 * const { cluster } = await validators("cluster");
 * if (!cluster(value)) console.log(cluster.errors);
 * ```
 * @module
 */
import type { ValidateFunction } from "ajv";
import { requests } from "./api.schema.ts";
import { handoffBatchFrameSchema, handoffMetaSchema, moduleBundleSchema, precopyRoundSchema } from "./api.schema.ts";
import { clusterSchema } from "./cluster.schema.ts";

/** A family of validators sharing one set of Ajv options. */
export interface ValidatorFamily {
  options: Record<string, unknown>;
  /** Export name → schema. Names are JavaScript identifiers. */
  schemas(): Record<string, object>;
}

/** Request bodies by message type, as identifiers: `logs.read` → `request_logs_read`. */
export function requestKey(type: string): string {
  return `request_${type.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

export const validatorFamilies = {
  // `verbose` gives each error its schema and data, which cluster.yaml's messages need.
  cluster: { options: { allErrors: true, useDefaults: true, verbose: true }, schemas: () => ({ cluster: clusterSchema }) },
  api: {
    options: { allErrors: false, useDefaults: true, strict: false },
    schemas: () => ({
      ...Object.fromEntries(Object.entries(requests).map(([type, schema]) => [requestKey(type), schema])),
      handoffMeta: handoffMetaSchema,
      handoffBatchFrame: handoffBatchFrameSchema,
      precopyRound: precopyRoundSchema,
      moduleBundle: moduleBundleSchema,
    }),
  },
} satisfies Record<string, ValidatorFamily>;

export type FamilyName = keyof typeof validatorFamilies;

const loaded = new Map<FamilyName, Promise<Record<string, ValidateFunction>>>();

/**
 * The validators of a family: precompiled when this code runs built, else compiled now (once).
 *
 * @example
 * ```ts
 * const { handoffMeta } = await validators("api");
 * ```
 */
export function validators(family: FamilyName): Promise<Record<string, ValidateFunction>> {
  let found = loaded.get(family);
  if (!found) {
    found = load(family);
    loaded.set(family, found);
  }
  return found;
}

async function load(family: FamilyName): Promise<Record<string, ValidateFunction>> {
  if (import.meta.url.endsWith(".js")) {
    try {
      return (await import(new URL(`./validators-${family}.js`, import.meta.url).href)) as Record<string, ValidateFunction>;
    } catch {
      // Not generated (a build without it): compiled below instead.
    }
  }
  const { Ajv } = await import("ajv");
  const spec: ValidatorFamily = validatorFamilies[family];
  const ajv = new Ajv(spec.options);
  return Object.fromEntries(Object.entries(spec.schemas()).map(([name, schema]) => [name, ajv.compile(schema)]));
}
