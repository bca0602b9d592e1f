/**
 * Portable snapshots of a process's fields: CBOR (which keeps Map, Set, Date, BigInt) over a flat
 * node table (graph.ts, which keeps shared references and cycles), in a versioned envelope with
 * CRC-32s so a truncated or corrupted transfer is refused rather than resumed. Not
 * `v8.serialize`, whose format is tied to one V8 version, so Node and Deno daemons can exchange
 * snapshots.
 *
 * Snapshots are written in format 2 (stream.ts: a CBOR skeleton, then the raw bytes of every
 * ArrayBuffer, then a CRC-32), which can be streamed without holding a whole copy. Format 1, read
 * for checkpoints written before it: "FRRY" | version 1 u8 | 3 reserved | crc32 u32 | reserved
 * u32 | payload length u64 | CBOR payload (typed arrays as CBOR tags).
 * @module
 */
import { addExtension, Encoder, isNativeAccelerationEnabled } from "cbor-x";
import { crc32 } from "node:zlib";
import { FerryError } from "../errors.ts";
import { allowPortableClass, assertPortable } from "./portable.ts";
import { fromGraph, toGraph } from "./graph.ts";
import type { Graph } from "./graph.ts";
import { isStreamFormat, SnapshotDecoder, SnapshotEncoder, STREAM_VERSION, crc32 as crc32From } from "./stream.ts";

/** The format snapshots are written in. */
export const SNAPSHOT_VERSION = STREAM_VERSION;
/** The format-1 version byte, still read. */
export const LEGACY_VERSION = 1;
export const HEADER_BYTES = 24;
const MAGIC = [0x46, 0x52, 0x52, 0x59]; // "FRRY"

// Plain CBOR, no records: self-describing output any CBOR reader could inspect. Identity and
// cycles are graph.ts's job (cbor-x's own structured clone mishandles a Map inside its own cycle).
const codec = new Encoder({ useRecords: false, pack: false, structuredClone: false });

/**
 * What a snapshot holds: the class it was taken from, the instance's own fields and the module
 * version (content hash) whose code they belong to, so whoever restores them with other code
 * knows to call `upgrade(fromVersion)`. Snapshots written before versions were kept have none.
 */
export interface ProcessState {
  className: string;
  fields: Record<string, unknown>;
  moduleVersion?: string;
}

/**
 * Registers a Ferry-provided class (e.g. a transactional file stream) as portable, with how to
 * pack it to plain data and back.
 *
 * @example
 * ```ts
 * registerPortable(Point, 40001, (p) => [p.x, p.y], ([x, y]) => new Point(x, y));
 * ```
 */
export function registerPortable<T extends object, D>(
  cls: new (...args: never[]) => T,
  tag: number,
  write: (value: T) => D,
  read: (data: D) => T,
): void {
  allowPortableClass(cls);
  addExtension<T, D>({
    Class: cls as unknown as new (...args: unknown[]) => T,
    tag,
    encode: (instance, encode) => encode(write(instance)),
    decode: read,
  });
}

/**
 * Encodes `state` after checking that every field can migrate.
 *
 * @example
 * ```ts
 * const bytes = encodeState({ className: "Counter", fields: { count: 3n } });
 * decodeState(bytes).fields.count; // 3n
 * ```
 */
export function encodeState(state: ProcessState): Uint8Array {
  return new SnapshotEncoder(state).toBytes();
}

/**
 * Encodes `state` in format 1: the whole state as one CBOR payload behind the envelope (magic,
 * version, CRC-32 of the payload, its length). Still read everywhere; what a pre-copy base is
 * rebuilt as (snapshot/delta.ts), because its blobs can be spliced into one payload and its
 * CRC-32 updated from what changed.
 *
 * @example
 * ```ts
 * decodeState(encodeLegacyState({ className: "Counter", fields: { count: 3n } })).fields.count; // 3n
 * ```
 */
export function encodeLegacyState(state: ProcessState): Uint8Array {
  assertPortable(state.fields, state.className);
  let payload: Uint8Array;
  try {
    const graph = toGraph(state.fields);
    payload = codec.encode(state.moduleVersion ? [state.className, graph, state.moduleVersion] : [state.className, graph]);
  } catch (cause) {
    throw new FerryError("not_serializable", `Cannot encode the fields of ${state.className}: ${(cause as Error).message}`, { cause });
  }
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint8(4, LEGACY_VERSION);
  view.setUint32(8, crc32(payload), true);
  view.setBigUint64(16, BigInt(payload.byteLength), true);
  out.set(payload, HEADER_BYTES);
  return out;
}

/**
 * What is wrong with a snapshot's envelope (magic, version, length, CRC-32 of the payload), or
 * undefined when it is sound. Cheap next to decoding: a store can check what it reads back.
 *
 * @example
 * ```ts
 * envelopeProblem(new Uint8Array(3)); // "not a Ferry snapshot (bad header)"
 * ```
 */
export function envelopeProblem(bytes: Uint8Array, options: { verified?: boolean } = {}): string | undefined {
  if (bytes.byteLength < HEADER_BYTES || MAGIC.some((b, i) => bytes[i] !== b)) return "not a Ferry snapshot (bad header)";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  if (version !== SNAPSHOT_VERSION && version !== LEGACY_VERSION) return `version ${version} is not supported (expected ${SNAPSHOT_VERSION})`;
  const length = Number(view.getBigUint64(16, true));
  const actual = bytes.byteLength - HEADER_BYTES;
  if (length > actual) return `truncated: ${actual} of ${length} payload bytes`;
  if (length < actual) return `length does not match: ${actual} payload bytes, the header says ${length}`;
  if (version === LEGACY_VERSION) {
    if (!options.verified && crc32(bytes.subarray(HEADER_BYTES)) !== view.getUint32(8, true)) return "checksum does not match";
    return undefined;
  }
  const skeleton = view.getUint32(8, true);
  if (HEADER_BYTES + skeleton + 4 > bytes.byteLength) return "the header's lengths do not add up";
  if (crc32From(bytes.subarray(HEADER_BYTES, HEADER_BYTES + skeleton)) !== view.getUint32(12, true)) return "checksum does not match (skeleton)";
  if (crc32From(bytes.subarray(0, bytes.byteLength - 4)) !== view.getUint32(bytes.byteLength - 4, true)) return "checksum does not match";
  return undefined;
}

/**
 * The CRC-32 a snapshot records for its content (format 1: of its payload; format 2: of all
 * before its trailer), read without computing anything: what tells two saves of one state apart.
 *
 * @example
 * ```ts
 * snapshotChecksum(encodeState({ className: "C", fields: {} })); // e.g. 3735928559
 * ```
 */
export function snapshotChecksum(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isStreamFormat(bytes) ? view.getUint32(bytes.byteLength - 4, true) : view.getUint32(8, true);
}

/**
 * Decodes and verifies a snapshot of either format; throws `snapshot_corrupt` on a bad magic,
 * version, length or CRC. With `verified`, a format-1 snapshot's CRC is not computed again: its
 * content was verified where it was assembled, in this process (a pre-copy's, piece by piece).
 */
export function decodeState(bytes: Uint8Array, options: { verified?: boolean } = {}): ProcessState {
  if (isStreamFormat(bytes)) {
    const decoder = new SnapshotDecoder();
    decoder.push(bytes);
    return decoder.finish();
  }
  const problem = envelopeProblem(bytes, options);
  if (problem) throw new FerryError("snapshot_corrupt", `Snapshot is corrupt: ${problem}`);
  const payload = bytes.subarray(HEADER_BYTES);
  const [className, graph, moduleVersion] = codec.decode(payload) as [string, Graph, string?];
  const fields = fromGraph(graph) as Record<string, unknown>;
  return typeof moduleVersion === "string" ? { className, fields, moduleVersion } : { className, fields };
}

/**
 * Encodes any portable value (a call's arguments or result) with the same type fidelity.
 *
 * @example
 * ```ts
 * decodeValue(encodeValue(new Map([[1, 2n]]))); // Map { 1 => 2n }
 * ```
 */
export function encodeValue(value: unknown): Uint8Array {
  return new Uint8Array(codec.encode(toGraph(value)));
}

/** Inverse of {@link encodeValue}. */
export function decodeValue(bytes: Uint8Array): unknown {
  return fromGraph(codec.decode(bytes) as Graph);
}

/**
 * Whether cbor-x found its native string extractor (cbor-extract's prebuilt addon), which speeds
 * up decoding; without it cbor-x decodes in plain JavaScript, correctly but slower.
 *
 * @example
 * ```ts
 * console.log(`CBOR native acceleration: ${nativeCbor() ? "on" : "off"}`);
 * ```
 */
export function nativeCbor(): boolean {
  return isNativeAccelerationEnabled;
}
