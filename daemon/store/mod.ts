/** Durable per-node data: the ownership journal and checkpoint files. @module */
export { applyFence, applyRecord, fencesFile, Journal, readFences, syncDir, writeFence } from "./journal.ts";
export type { CheckpointEntry, Fence, JournalRecord, JournalState, OwnedProcess, Release } from "./journal.ts";
export { CheckpointStore, INLINE_MAX_BYTES } from "./checkpoints.ts";
