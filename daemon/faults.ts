/**
 * Fault injection for the crash tests: `FERRY_FAULTS` (JSON) makes a daemon pause or break at a
 * named point of the hand-off, so a test can kill a node or drop a link at exactly that point.
 * Unset in normal use; every field defaults to "no fault".
 *
 * @example
 * ```sh
 * FERRY_FAULTS='{"delayBeforeCommitMs":3000}' ferry daemon --node beta
 * ```
 * @module
 */
import process from "node:process";

export interface Faults {
  /** Destination: wait this long after `prepared`, before sending `handoff.commit`. */
  delayBeforeCommitMs?: number;
  /** Source: break the snapshot stream (connection reset) after this many bytes. */
  breakTransferAfterBytes?: number;
  /** Source: pause this long before each 1 MiB chunk of a snapshot (a slow link). */
  delayPerChunkMs?: number;
  /** Source: hold each commit of a `handoff.batch` for a process this regular expression matches this long before handling it. */
  delayBatchCommitMs?: number;
  delayBatchCommitOf?: string;
  /** Source: flip the lowest bit of the snapshot's byte at this offset as it is sent (a link that damages data). */
  flipByteAt?: number;
  /**
   * Source: hold a whole checkpoint at suspend this long before writing it (the window in which a
   * crash falls back to the previous checkpoint). A hand-off rolled back meanwhile is not what it
   * is for: the late save would then land after the process ran on.
   */
  delayCheckpointAtSuspendMs?: number;
  /** Source: pause this long before capturing the second pre-copy round (the one after round 0). */
  delayPrecopyRoundMs?: number;
  /** Destination: pause this long after staging a pre-copied base on disk. */
  delayAfterStagingMs?: number;
  /** Any node: break the connection instead of answering the first this many calls (each has run). */
  dropCallAnswers?: number;
}

function read(): Faults {
  const text = process.env.FERRY_FAULTS;
  if (!text) return {};
  try {
    return JSON.parse(text) as Faults;
  } catch {
    console.error("ferry: ignoring FERRY_FAULTS, which is not JSON");
    return {};
  }
}

export const faults: Faults = read();
