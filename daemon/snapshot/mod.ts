/** Portable snapshots of process state. @module */
export { decodeState, decodeValue, encodeState, envelopeProblem, encodeValue, registerPortable, SNAPSHOT_VERSION } from "./codec.ts";
export type { ProcessState } from "./codec.ts";
export { assertPortable } from "./portable.ts";
