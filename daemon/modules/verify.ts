/**
 * The check every module bundle from a peer passes before anything of it is written or loaded:
 * the shape of the schema, file names that stay inside the bundle, an entry file named after the
 * module, and a content hash equal to the one this node asked for (the one in the cluster's
 * current config revision). Code whose hash differs is never written, so never loaded.
 *
 * @example
 * ```ts
 * const bundle = verifyBundle(await peer.post("module.fetch", { hash }), hash, "alpha");
 * ```
 * @module
 */
import type { ValidateFunction } from "ajv";
import { posix } from "node:path";
import type { ModuleBundle } from "../../schemas/api.schema.ts";
import { validators } from "../../schemas/validators.ts";
import { FerryError } from "../errors.ts";
import { hashBundle, shortHash } from "./hash.ts";
import { isBundlePath } from "./specifiers.ts";

const moduleExtensions = new Set([".ts", ".js", ".mjs"]);
const validate = (await validators("api")).moduleBundle as ValidateFunction<ModuleBundle>;

/** The bundle's origin in a message: a peer, or this node's own processes folder (""). */
function from(source: string): string {
  return source ? ` from node "${source}"` : " of this node";
}

/**
 * Returns `candidate` as a bundle whose content hash is `hash`, or throws
 * `FerryError("module_invalid")` naming `source` (the peer it came from) and, on a mismatch,
 * both hashes.
 *
 * @example
 * ```ts
 * try { verifyBundle(answer, wanted, "beta") } catch (e) { console.error(describeError(e)) }
 * // Module version "0b1c2d3e4f5a" from node "beta" does not match its content: got "9f8e7d6c5b4a" …
 * ```
 */
export function verifyBundle(candidate: unknown, hash: string, source: string): ModuleBundle {
  const wanted = shortHash(hash);
  if (!validate(candidate)) {
    const e = validate.errors?.[0];
    const where = e?.instancePath ? ` at ${e.instancePath}` : "";
    throw new FerryError("module_invalid", `Module version "${wanted}"${from(source)} is malformed${where}: ${e?.message ?? "not a bundle"}`, {
      hint: "is that node running the same Ferry version?",
    });
  }
  const bundle = candidate as ModuleBundle;
  const bad = Object.keys(bundle.files).find((path) => !isBundlePath(path));
  if (bad !== undefined) {
    throw new FerryError("module_invalid", `Module version "${wanted}"${from(source)} has a file outside its folder: "${bad}"`, {
      hint: "nothing was written; check that node",
    });
  }
  const ext = posix.extname(bundle.entry);
  if (!(bundle.entry in bundle.files) || bundle.entry.includes("/") || !moduleExtensions.has(ext) || posix.basename(bundle.entry, ext) !== bundle.module) {
    throw new FerryError("module_invalid", `Module version "${wanted}"${from(source)} has no entry file "${bundle.module}.ts" or .js, got "${bundle.entry}"`, {
      hint: "is that node running the same Ferry version?",
    });
  }
  const actual = hashBundle(bundle.entry, bundle.files);
  if (actual !== hash) {
    throw new FerryError("module_invalid", `Module version "${wanted}" of "${bundle.module}"${from(source)} does not match its content: got "${shortHash(actual)}"`, {
      hint: "its copy differs from the one in the cluster's config revision; nothing of it was loaded",
    });
  }
  return { module: bundle.module, entry: bundle.entry, files: { ...bundle.files }, hash, external: [...bundle.external] };
}
