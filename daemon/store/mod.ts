/** Durable per-node data: the ownership journal and checkpoint files. @module */
export { applyRecord, Journal, syncDir } from "./journal.ts";
export type { CheckpointEntry, JournalRecord, JournalState, OwnedProcess, Release } from "./journal.ts";
export { CheckpointStore, INLINE_MAX_BYTES } from "./checkpoints.ts";
