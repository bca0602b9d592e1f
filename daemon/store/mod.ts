/** Durable per-node data: the ownership journal and checkpoint files. @module */
export { applyRecord, Journal, syncDir } from "./journal.ts";
export type { JournalRecord, JournalState, OwnedProcess, Release } from "./journal.ts";
export { CheckpointStore } from "./checkpoints.ts";
