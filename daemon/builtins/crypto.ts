/**
 * The parts of `node:crypto` Ferry uses, taken with `process.getBuiltinModule` rather than an ES
 * import. Importing a built-in as an ES module evaluates every one of its lazy exports, and
 * `node:crypto`'s `webcrypto` loads all of Web Crypto, which nothing here uses (nor the global
 * `crypto`, which is that same Web Crypto).
 *
 * @example
 * ```ts
 * import { createHash, randomUUID } from "../builtins/crypto.ts";
 * createHash("sha256").update("x").digest("hex");
 * randomUUID();
 * ```
 * @module
 */
import process from "node:process";

export const { createHash, createPrivateKey, randomBytes, randomUUID, X509Certificate } = process.getBuiltinModule("node:crypto");
