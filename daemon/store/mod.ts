/** Durable per-node data: the ownership journal and checkpoint files. @module */
export { applyFence, applyRecord, fencesFile, Journal, JOURNAL_FILE, readFences, syncDir, writeFence } from "./journal.ts";
export type { Fence, JournalOptions } from "./journal.ts";
export type { CheckpointEntry, JournalRecord, JournalState, OwnedProcess, Release } from "./records.ts";
export { emptyState, snapshotRecords } from "./records.ts";
export { replayJournal } from "./replay.ts";
export type { Replayed } from "./replay.ts";
export { CheckpointStore, checkpointFileName, INLINE_MAX_BYTES } from "./checkpoints.ts";
export { StagedSnapshot } from "./staged.ts";
export type { Checkpoint, CheckpointStoreOptions, CheckpointStream, SaveOptions } from "./checkpoints.ts";
export { nodeStorageFs } from "./fs.ts";
export type { StorageFileHandle, StorageFs } from "./fs.ts";
