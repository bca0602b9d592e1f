/**
 * Reading a journal file back. A crash mid-append leaves at most one torn line, the last: its
 * append never resolved, so it is dropped without a word (and cut off the file by the caller).
 * Any other line that cannot be read is damage from outside (a disk error, a hand edit): it is
 * skipped, since the records after it are still good, but reported, so nobody loses state
 * silently.
 *
 * @example
 * ```ts
 * const { state, warnings } = replayJournal(readFileSync(file), file);
 * ```
 * @module
 */
import { applyRecord, emptyState } from "./records.ts";
import type { JournalRecord, JournalState } from "./records.ts";

export interface Replayed {
  state: JournalState;
  /** Bytes up to the end of the last record read: where the next append belongs. */
  validBytes: number;
  /** Records read. */
  records: number;
  /** One line per record skipped, `<file>:<line>: unreadable record skipped (<why>)`. */
  warnings: string[];
}

const NEWLINE = 0x0a;

/**
 * Folds the records of a journal's bytes into a state; `label` names the file in warnings.
 *
 * @example
 * ```ts
 * replayJournal(new TextEncoder().encode('{"op":"removed","name":"x"}\n'), "journal.ndjson").records; // 1
 * ```
 */
export function replayJournal(bytes: Uint8Array, label: string): Replayed {
  const state = emptyState();
  const decoder = new TextDecoder();
  const warnings: string[] = [];
  let validBytes = 0;
  let records = 0;
  let pending: string | undefined; // the last unreadable line: torn if nothing readable follows
  let start = 0;
  for (let line = 1; start < bytes.byteLength; line++) {
    const newline = bytes.indexOf(NEWLINE, start);
    // An unterminated tail is a write that did not finish.
    if (newline < 0) break;
    const text = decoder.decode(bytes.subarray(start, newline));
    start = newline + 1;
    if (!text) continue;
    const problem = readInto(state, text);
    if (problem === undefined) {
      if (pending) warnings.push(pending);
      pending = undefined;
      validBytes = start;
      records++;
    } else {
      if (pending) warnings.push(pending);
      pending = `${label}:${line}: unreadable record skipped (${problem})`;
    }
  }
  return { state, validBytes, records, warnings };
}

/** Applies one line; returns why it could not, or undefined. */
function readInto(state: JournalState, text: string): string | undefined {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  if (typeof record !== "object" || record === null || typeof (record as { op?: unknown }).op !== "string") {
    return "not a journal record";
  }
  try {
    applyRecord(state, record as JournalRecord);
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}
