/** Portable snapshots of process state. @module */
export { decodeState, decodeValue, encodeState, envelopeProblem, encodeValue, registerPortable, snapshotChecksum, SNAPSHOT_VERSION } from "./codec.ts";
export { sealSnapshot, SnapshotDecoder, SnapshotEncoder } from "./stream.ts";
export type { SnapshotCursor } from "./stream.ts";
export type { ProcessState } from "./codec.ts";
export { assertPortable } from "./portable.ts";
