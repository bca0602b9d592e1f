/**
 * Snapshot format 2, made to be streamed: a small CBOR skeleton (the fields' object graph, see
 * graph.ts) followed by the raw bytes of every ArrayBuffer the fields hold (typed arrays and
 * DataViews are views into those, so shared buffers stay shared), then a CRC-32 of everything
 * before it. Bytes are never walked element by element: the encoder copies slices of the live
 * buffers into the chunks it hands out, the decoder copies each chunk once into buffers it
 * allocated from the skeleton's sizes. Neither side ever holds a second whole copy.
 *
 * Layout (little-endian):
 * `"FRRY"` | version 2 u8 | 3 reserved | skeleton length u32 | skeleton CRC-32 u32 |
 * length of the rest u64 | skeleton | buffer bytes, one after another | CRC-32 of all before u32.
 *
 * The skeleton has its own CRC so that nothing is allocated from a damaged one; the total length
 * is known before the first byte is sent (a receiver can refuse an oversized or short stream).
 *
 * @example
 * ```ts
 * const encoder = new SnapshotEncoder({ className: "Big", fields: { data: new Float64Array(1e6) } });
 * const cursor = encoder.cursor();
 * const decoder = new SnapshotDecoder(encoder.byteLength);
 * for (let chunk = cursor.read(1 << 20); chunk; chunk = cursor.read(1 << 20)) decoder.push(chunk);
 * decoder.finish().fields.data; // Float64Array(1000000)
 * ```
 * @module
 */
import { Encoder } from "cbor-x";
import { crc32 as zlibCrc32 } from "node:zlib";
import { FerryError, isFerryError } from "../errors.ts";
import { assertPortable } from "./portable.ts";
import { fromGraph, toGraph } from "./graph.ts";
import type { Graph } from "./graph.ts";

/** The streamable format's version byte. */
export const STREAM_VERSION = 2;
/** Header bytes before the skeleton (the same size as format 1's header). */
export const STREAM_HEADER_BYTES = 24;
const TRAILER_BYTES = 4;
const MAGIC = [0x46, 0x52, 0x52, 0x59]; // "FRRY"

const codec = new Encoder({ useRecords: false, pack: false, structuredClone: false });

/** What a snapshot holds (see codec.ts). */
export interface StreamState {
  className: string;
  fields: Record<string, unknown>;
  moduleVersion?: string;
}

/**
 * CRC-32 continued from `previous`. zlib's own (native, several GB/s) when the runtime's
 * `node:zlib` accepts a starting value, else a table-driven one (correct, slower).
 *
 * @example
 * ```ts
 * crc32(bytes.subarray(4), crc32(bytes.subarray(0, 4))) === crc32(bytes); // true
 * ```
 */
export const crc32: (data: Uint8Array, previous?: number) => number = (() => {
  const probe = new Uint8Array([1, 2, 3, 4, 5, 6]);
  try {
    if (zlibCrc32(probe.subarray(3), zlibCrc32(probe.subarray(0, 3))) === zlibCrc32(probe)) {
      return (data: Uint8Array, previous = 0) => zlibCrc32(data, previous);
    }
  } catch {
    // fall through to the table
  }
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data: Uint8Array, previous = 0) => {
    let c = (previous ^ 0xffffffff) >>> 0;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
})();

function corrupt(problem: string): FerryError {
  return new FerryError("snapshot_corrupt", `Snapshot is corrupt: ${problem}`);
}

/**
 * A decoding failure as `snapshot_corrupt`, unless it is already a FerryError: a registered
 * class's reader (a file stream whose file is missing here) says precisely what is wrong.
 */
function asCorrupt(cause: unknown): FerryError {
  if (isFerryError(cause)) return cause;
  return new FerryError("snapshot_corrupt", `Snapshot is corrupt: ${(cause as Error).message}`, { cause });
}

/** Reads chunks of an encoder's output in order; each cursor keeps its own position. */
export interface SnapshotCursor {
  /** The next at most `maxBytes` bytes, in a buffer of their own; undefined once all were read. */
  read(maxBytes: number): Uint8Array | undefined;
  /** Bytes handed out so far. */
  readonly position: number;
}

/**
 * Encodes a state in format 2 without copying it: the skeleton is encoded at once, the buffers are
 * read from the live fields as cursors ask for them, so the fields must not change while a cursor
 * is being read (the process is suspended). Several cursors may read the same encoder (one to
 * send, one to write a checkpoint); the CRC is computed once, by whichever is ahead.
 */
export class SnapshotEncoder {
  /** Length of the whole snapshot, trailer included. */
  readonly byteLength: number;
  readonly #head: Uint8Array;
  readonly #segments: Uint8Array[];
  /** Where the trailer starts. */
  readonly #bodyEnd: number;
  #crc = 0;
  #crcUpTo = 0;

  /** Throws `not_serializable` (with the field's path) when a field cannot migrate. */
  constructor(state: StreamState) {
    assertPortable(state.fields, state.className);
    const segments: Uint8Array[] = [];
    let skeleton: Uint8Array;
    try {
      const graph = toGraph(state.fields, segments);
      const lengths = segments.map((s) => s.byteLength);
      skeleton = codec.encode(state.moduleVersion ? [state.className, graph, lengths, state.moduleVersion] : [state.className, graph, lengths]);
    } catch (cause) {
      throw new FerryError("not_serializable", `Cannot encode the fields of ${state.className}: ${(cause as Error).message}`, { cause });
    }
    this.#segments = segments;
    const head = new Uint8Array(STREAM_HEADER_BYTES + skeleton.byteLength);
    head.set(MAGIC, 0);
    head.set(skeleton, STREAM_HEADER_BYTES);
    let bodyEnd = head.byteLength;
    for (const s of segments) bodyEnd += s.byteLength;
    this.#bodyEnd = bodyEnd;
    this.byteLength = bodyEnd + TRAILER_BYTES;
    const view = new DataView(head.buffer);
    view.setUint8(4, STREAM_VERSION);
    view.setUint32(8, skeleton.byteLength, true);
    view.setUint32(12, crc32(skeleton), true);
    view.setBigUint64(16, BigInt(this.byteLength - STREAM_HEADER_BYTES), true);
    this.#head = head;
  }

  /** A new cursor at the start. */
  cursor(): SnapshotCursor {
    let position = 0;
    return {
      read: (maxBytes) => {
        if (position >= this.byteLength) return undefined;
        const out = this.#read(position, Math.min(maxBytes, this.byteLength - position));
        position += out.byteLength;
        return out;
      },
      get position() {
        return position;
      },
    };
  }

  /** The whole snapshot in one buffer (a checkpoint, a small hand-off). */
  toBytes(): Uint8Array {
    return this.#read(0, this.byteLength);
  }

  /** How many bytes come before the trailing CRC-32, which covers them all. */
  get bodyLength(): number {
    return this.#bodyEnd;
  }

  /**
   * Copies every byte of the snapshot but its trailing CRC into `out` (`byteLength` long): the
   * part of a capture that must happen at one instant. {@link sealSnapshot} adds the CRC-32 of
   * the first `bodyLength` bytes later, which a running process's executor computes a slice at a
   * time while the process runs on.
   *
   * @example
   * ```ts
   * const out = new Uint8Array(encoder.byteLength);
   * encoder.copyBodyInto(out);
   * sealSnapshot(out, crc32(out.subarray(0, encoder.bodyLength)));
   * ```
   */
  copyBodyInto(out: Uint8Array): void {
    if (out.byteLength !== this.byteLength) throw new FerryError("internal", `A snapshot of ${this.byteLength} bytes cannot be copied into ${out.byteLength}`);
    out.set(this.#head, 0);
    let at = this.#head.byteLength;
    for (const segment of this.#segments) {
      out.set(segment, at);
      at += segment.byteLength;
    }
  }

  #read(start: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const end = start + length;
    let at = 0; // where the next piece starts, in snapshot coordinates
    const copy = (piece: Uint8Array) => {
      const from = Math.max(start, at);
      const to = Math.min(end, at + piece.byteLength);
      if (from < to) out.set(piece.subarray(from - at, to - at), from - start);
      at += piece.byteLength;
    };
    copy(this.#head);
    for (let i = 0; i < this.#segments.length && at < end; i++) copy(this.#segments[i]!);
    // Extend the CRC over what no cursor has read before (cursors start at 0 and move on without gaps).
    const crcEnd = Math.min(end, this.#bodyEnd);
    if (start <= this.#crcUpTo && crcEnd > this.#crcUpTo) {
      this.#crc = crc32(out.subarray(this.#crcUpTo - start, crcEnd - start), this.#crc);
      this.#crcUpTo = crcEnd;
    }
    if (end > this.#bodyEnd) {
      const trailer = new Uint8Array(TRAILER_BYTES);
      new DataView(trailer.buffer).setUint32(0, this.#crc, true);
      copy(trailer);
    }
    return out;
  }
}

/**
 * Writes the trailing CRC-32 of a snapshot copied by {@link SnapshotEncoder.copyBodyInto}: `crc`
 * covers every byte before the trailer.
 *
 * @example
 * ```ts
 * sealSnapshot(out, crc32(out.subarray(0, out.byteLength - 4)));
 * ```
 */
export function sealSnapshot(out: Uint8Array, crc: number): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(out.byteLength - TRAILER_BYTES, crc, true);
}

/**
 * Decodes a format-2 snapshot pushed in chunks of any size. The header is checked as soon as it
 * arrives (magic, version, the announced length), the skeleton against its own CRC before anything
 * is allocated from it; every later byte is copied straight into the buffer it belongs to. Nothing
 * is returned before the trailing CRC over the whole snapshot matched.
 */
export class SnapshotDecoder {
  readonly #expected: number | undefined;
  readonly #legacy: ((bytes: Uint8Array) => StreamState) | undefined;
  /** A format-1 snapshot (from a node of an earlier version) is gathered whole, then decoded. */
  #whole: Uint8Array | undefined;
  /** Header and skeleton, gathered until complete. */
  #head = new Uint8Array(STREAM_HEADER_BYTES);
  #headFill = 0;
  #skeletonLength = -1;
  #total = -1;
  #parsed: { className: string; graph: Graph; moduleVersion?: string } | undefined;
  #buffers: ArrayBuffer[] = [];
  #targets: Uint8Array[] = [];
  #segment = 0;
  #segmentFill = 0;
  #trailer = new Uint8Array(TRAILER_BYTES);
  #trailerFill = 0;
  #received = 0;
  #crc = 0;

  /**
   * `expectedLength`: the length announced out of band (Content-Length), checked against the
   * header's. `legacy`: how to decode a whole format-1 snapshot; without it one is refused.
   */
  constructor(expectedLength?: number, options: { legacy?: (bytes: Uint8Array) => StreamState } = {}) {
    this.#expected = expectedLength;
    this.#legacy = options.legacy;
  }

  /** Bytes pushed so far. */
  get received(): number {
    return this.#received;
  }

  /** Adds the next bytes; throws `snapshot_corrupt` as soon as something is known to be wrong. */
  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.byteLength) offset += this.#take(chunk, offset);
  }

  /** The decoded state; throws `snapshot_corrupt` when bytes are missing or the CRC does not match. */
  finish(): StreamState {
    if (this.#total < 0 || this.#received < this.#total) {
      const total = this.#total >= 0 ? this.#total : (this.#expected ?? "?");
      throw corrupt(this.#received < STREAM_HEADER_BYTES && this.#total < 0 ? "not a Ferry snapshot (bad header)" : `truncated: ${this.#received} of ${total} bytes`);
    }
    if (this.#whole) return this.#legacy!(this.#whole);
    const stored = new DataView(this.#trailer.buffer).getUint32(0, true);
    if (stored !== this.#crc) throw corrupt("checksum does not match");
    const { className, graph, moduleVersion } = this.#parsed!;
    let fields: Record<string, unknown>;
    try {
      fields = fromGraph(graph, this.#buffers) as Record<string, unknown>;
    } catch (cause) {
      throw asCorrupt(cause);
    }
    return moduleVersion === undefined ? { className, fields } : { className, fields, moduleVersion };
  }

  /** Consumes bytes of `chunk` from `offset`; returns how many. */
  #take(chunk: Uint8Array, offset: number): number {
    const available = chunk.byteLength - offset;
    if (this.#total >= 0 && this.#received + available > this.#total) throw corrupt(`length does not match: more than the ${this.#total} bytes the header says`);
    if (this.#whole) {
      this.#whole.set(chunk.subarray(offset), this.#received);
      this.#received += available;
      return available;
    }
    if (!this.#parsed) return this.#takeHead(chunk, offset);
    const bodyEnd = this.#total - TRAILER_BYTES;
    if (this.#received < bodyEnd) {
      const target = this.#targets[this.#segment]!;
      const n = Math.min(available, target.byteLength - this.#segmentFill, bodyEnd - this.#received);
      const piece = chunk.subarray(offset, offset + n);
      target.set(piece, this.#segmentFill);
      this.#crc = crc32(piece, this.#crc);
      this.#segmentFill += n;
      this.#received += n;
      // Skip past this segment and any empty ones after it.
      while (this.#segment < this.#targets.length && this.#segmentFill === this.#targets[this.#segment]!.byteLength) {
        this.#segment++;
        this.#segmentFill = 0;
      }
      return n;
    }
    const n = Math.min(available, TRAILER_BYTES - this.#trailerFill);
    this.#trailer.set(chunk.subarray(offset, offset + n), this.#trailerFill);
    this.#trailerFill += n;
    this.#received += n;
    return n;
  }

  #takeHead(chunk: Uint8Array, offset: number): number {
    const want = (this.#skeletonLength < 0 ? STREAM_HEADER_BYTES : STREAM_HEADER_BYTES + this.#skeletonLength) - this.#headFill;
    const n = Math.min(want, chunk.byteLength - offset);
    this.#head.set(chunk.subarray(offset, offset + n), this.#headFill);
    this.#headFill += n;
    this.#received += n;
    if (this.#headFill < STREAM_HEADER_BYTES + Math.max(this.#skeletonLength, 0)) return n;
    if (this.#skeletonLength < 0) this.#readHeader();
    else this.#readSkeleton();
    return n;
  }

  #readHeader(): void {
    const head = this.#head;
    if (MAGIC.some((b, i) => head[i] !== b)) throw corrupt("not a Ferry snapshot (bad header)");
    const view = new DataView(head.buffer);
    const version = view.getUint8(4);
    if (version === 1 && this.#legacy) return this.#startLegacy();
    if (version !== STREAM_VERSION) throw corrupt(`version ${version} is not supported here (expected ${STREAM_VERSION})`);
    const rest = view.getBigUint64(16, true);
    const total = Number(rest) + STREAM_HEADER_BYTES;
    const skeletonLength = view.getUint32(8, true);
    if (this.#expected !== undefined && total !== this.#expected) throw corrupt(`length does not match: ${this.#expected} bytes announced, the header says ${total}`);
    if (!Number.isSafeInteger(total) || STREAM_HEADER_BYTES + skeletonLength + TRAILER_BYTES > total) throw corrupt("the header's lengths do not add up");
    this.#total = total;
    this.#skeletonLength = skeletonLength;
    const grown = new Uint8Array(STREAM_HEADER_BYTES + skeletonLength);
    grown.set(head);
    this.#head = grown;
    if (skeletonLength === 0) this.#readSkeleton();
  }

  #startLegacy(): void {
    const total = Number(new DataView(this.#head.buffer).getBigUint64(16, true)) + STREAM_HEADER_BYTES;
    if (!Number.isSafeInteger(total) || (this.#expected !== undefined && total !== this.#expected)) {
      throw corrupt(`length does not match: ${this.#expected ?? "?"} bytes announced, the header says ${total}`);
    }
    this.#total = total;
    this.#skeletonLength = 0;
    this.#whole = new Uint8Array(total);
    this.#whole.set(this.#head);
  }

  #readSkeleton(): void {
    const view = new DataView(this.#head.buffer);
    const skeleton = this.#head.subarray(STREAM_HEADER_BYTES);
    if (crc32(skeleton) !== view.getUint32(12, true)) throw corrupt("checksum does not match (skeleton)");
    let decoded: unknown;
    try {
      decoded = codec.decode(skeleton);
    } catch (cause) {
      throw asCorrupt(cause);
    }
    const [className, graph, lengths, moduleVersion] = decoded as [unknown, unknown, unknown, unknown];
    if (typeof className !== "string" || !Array.isArray(graph) || !Array.isArray(lengths) || !lengths.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
      throw corrupt("the skeleton is malformed");
    }
    const sum = (lengths as number[]).reduce((a, b) => a + b, 0);
    if (this.#head.byteLength + sum + TRAILER_BYTES !== this.#total) throw corrupt("the buffers' lengths do not add up to the snapshot's");
    this.#parsed = { className, graph: graph as Graph, ...(typeof moduleVersion === "string" ? { moduleVersion } : {}) };
    this.#buffers = (lengths as number[]).map((n) => new ArrayBuffer(n));
    this.#targets = this.#buffers.map((b) => new Uint8Array(b));
    while (this.#segment < this.#targets.length && this.#targets[this.#segment]!.byteLength === 0) this.#segment++;
    this.#crc = crc32(this.#head);
  }
}

/**
 * Whether `bytes` start like a format-2 snapshot (magic and version).
 *
 * @example
 * ```ts
 * isStreamFormat(new SnapshotEncoder(state).toBytes()); // true
 * ```
 */
export function isStreamFormat(bytes: Uint8Array): boolean {
  return bytes.byteLength >= STREAM_HEADER_BYTES && MAGIC.every((b, i) => bytes[i] === b) && bytes[4] === STREAM_VERSION;
}
