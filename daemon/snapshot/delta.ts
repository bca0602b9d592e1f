/**
 * Pre-copy deltas: a running process's fields cut into pieces whose hashes (CRC-32) are kept from
 * one round to the next, so each round carries only the pieces that changed. A piece is a group
 * of top-level fields (fields that share an object travel together, so the shared object stays
 * one object) or one chunk of a large typed array or ArrayBuffer, wherever it sits in the fields
 * (a blob: it travels as raw bytes, in {@link CHUNK_BYTES} chunks, referenced from its group by a
 * CBOR tag).
 *
 * The holder keeps a {@link DeltaTracker} per process (hashes only, never a copy of the state);
 * the receiver keeps a {@link DeltaBase} (the pieces themselves), applies each delta, verifies
 * every piece it writes against the holder's hash and the whole against the holder's digest, and
 * rebuilds an ordinary snapshot (codec.ts) from the pieces at the end.
 *
 * Wire format: "FPCD" | header length u32 LE | header (CBOR) | data (the pieces' bytes).
 *
 * @example
 * ```ts
 * const tracker = new DeltaTracker("h1");
 * const base = new DeltaBase();
 * base.apply(tracker.next(state, { after: -1 }).delta);
 * base.apply(tracker.next(state, { after: 0 }).delta); // only what changed since round 0
 * decodeState(base.rebuild()).fields;
 * ```
 * @module
 */
import { Encoder, Tag } from "cbor-x";
import { crc32 } from "node:zlib";
import { randomBytes } from "../builtins/crypto.ts";
import { FerryError } from "../errors.ts";
import { Buffer } from "node:buffer";
import { encodeLegacyState, HEADER_BYTES, type ProcessState } from "./codec.ts";
import { fromGraph, type Graph, toGraph } from "./graph.ts";
import { assertPortable } from "./portable.ts";

/** CBOR tag of a reference to blob #n, next to graph.ts's node references. */
export const BLOB_TAG = 40101;
/** Size of a blob chunk: the unit of change detection inside a typed array or ArrayBuffer. */
export const CHUNK_BYTES = 64 * 1024;
/** Typed arrays and ArrayBuffers from this size on travel as chunked blobs; smaller ones inline. */
export const BLOB_MIN_BYTES = CHUNK_BYTES;

const MAGIC = [0x46, 0x50, 0x43, 0x44]; // "FPCD"
const FORMAT = 1;
const codec = new Encoder({ useRecords: false, pack: false, structuredClone: false });

const KINDS = [
  "ArrayBuffer", "Uint8Array", "Int8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
] as const;
type Kind = (typeof KINDS)[number];
type Binary = ArrayBuffer | ArrayBufferView;

/** Only exact instances: a subclass (Node's Buffer, say) stays inline, encoded as it always is. */
function kindOf(value: unknown): Kind | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const proto = Object.getPrototypeOf(value) as object | null;
  for (const kind of KINDS) {
    const ctor = (globalThis as unknown as Record<string, { prototype: object } | undefined>)[kind];
    if (ctor && proto === ctor.prototype) return kind;
  }
  return undefined;
}

function bytesOf(value: Binary): Uint8Array {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** [key, crc, offset in data or -1 when unchanged, length] */
type GroupEntry = [key: string, crc: number, offset: number, length: number];
/** [chunk index, crc, offset in data, length] */
type ChunkEntry = [index: number, crc: number, offset: number, length: number];
/** [blob id, kind, byte length, chunks carried in this delta] */
type BlobEntry = [id: number, kind: Kind, byteLength: number, chunks: ChunkEntry[]];

/** What a delta says besides its pieces. */
export interface DeltaHeader {
  v: number;
  round: number;
  /** The round this delta builds on; -1 when it carries everything (a fresh base). */
  after: number;
  className: string;
  moduleVersion: string | null;
  /** Every top-level field, in order. */
  keys: string[];
  /** Every group of fields now, carried or not. */
  groups: GroupEntry[];
  /** Every blob now, with the chunks this delta carries. */
  blobs: BlobEntry[];
  /** Bytes that changed since `after` (carried or left for a later round). */
  dirtyBytes: number;
  /** Bytes carried. */
  sentBytes: number;
  /** Size of the whole state in pieces. */
  totalBytes: number;
  /** Every changed piece is carried: the base is the state as captured. */
  complete: boolean;
  /** CRC-32 over every piece's hash, as the holder believes the receiver holds them after this delta. */
  digest: number;
}

/** One round's outcome on the holder's side. */
export interface DeltaRound {
  delta: Uint8Array;
  header: DeltaHeader;
}

/**
 * A round's delta as the parts it is made of, in order — its head, then the pieces it carries —
 * so a large one is sent without first being copied into one buffer.
 */
export interface DeltaParts {
  parts: Uint8Array[];
  header: DeltaHeader;
}

interface BlobState {
  kind: Kind;
  byteLength: number;
  /** -1: not yet carried. */
  crcs: number[];
}

interface PieceState {
  groups: Map<string, number>;
  blobs: Map<number, BlobState>;
}

function emptyState(): PieceState {
  return { groups: new Map(), blobs: new Map() };
}

function digestOf(groups: Iterable<[string, number]>, blobs: Iterable<[number, BlobState]>): number {
  let crc = 0;
  const numbers: number[] = [];
  for (const [key, value] of groups) {
    crc = crc32(key, crc);
    numbers.push(value >>> 0);
  }
  for (const [id, blob] of blobs) {
    crc = crc32(blob.kind, crc);
    numbers.push(id, blob.byteLength);
    for (const c of blob.crcs) numbers.push(c >>> 0);
  }
  return crc32(new Uint8Array(Uint32Array.from(numbers).buffer), crc);
}

function chunkCount(byteLength: number): number {
  return Math.ceil(byteLength / CHUNK_BYTES);
}

/**
 * The holder's side: cuts the fields into pieces each round and keeps only their hashes, both as
 * of the last delta it produced and as of the round the receiver confirmed (by asking for the next
 * delta `after` it), so a delta the receiver never got is simply carried again.
 *
 * @example
 * ```ts
 * const { header } = new DeltaTracker("h1").next({ className: "C", fields: { a: 1 } }, { after: -1 });
 * header.complete; // true
 * ```
 */
export class DeltaTracker {
  readonly session: string;
  #round = -1;
  #acked: { round: number; state: PieceState } | undefined;
  #pending: { round: number; state: PieceState } | undefined;
  readonly #blobIds = new WeakMap<object, number>();
  #nextBlob = 0;

  constructor(session: string) {
    this.session = session;
  }

  /**
   * The delta of `state` since round `after` (-1: everything), in one go. Chunks beyond
   * `budgetBytes` stay dirty for a later round (unless `budgetBytes` is Infinity); groups always
   * travel whole. Throws `not_serializable` (naming the field) like a snapshot would.
   */
  next(state: ProcessState, options: { after: number; budgetBytes?: number }): DeltaRound {
    const steps = this.cut(state, { ...options, sliceBytes: Infinity });
    for (;;) {
      const step = steps.next();
      if (step.done) return { delta: joinParts(step.value.parts), header: step.value.header };
    }
  }

  /**
   * The delta of `state` as {@link next} makes it, hashed a slice at a time: the generator stops
   * after every `sliceBytes` of blob bytes hashed, so that its driver can let the process run in
   * between (a round over a large state would otherwise stop it for the whole hash). The fields'
   * groups are encoded before the first stop; the chunks a slice carries are copied at the stop
   * that ends it, before the process runs again, so the delta holds every piece as it was when
   * its hash was taken, whatever the process writes later — which the next round finds by its hash. A blob the process resized or gave away
   * meanwhile is left for a later round from where the stop found it (the round is incomplete).
   *
   * @example
   * ```ts
   * const steps = tracker.cut(state, { after: -1, sliceBytes: 4 << 20 });
   * let step = steps.next();
   * while (!step.done) { await nextTurn(); step = steps.next(); }
   * step.value.header.round; // 0
   * ```
   */
  *cut(state: ProcessState, options: { after: number; budgetBytes?: number; sliceBytes: number }): Generator<void, DeltaParts, void> {
    assertPortable(state.fields, state.className);
    // Carried pieces are copied at each stop; a round without stops is joined before its turn ends.
    const copyChunks = options.sliceBytes !== Infinity;
    let sliced = 0;
    const base = this.#baseFor(options.after);
    const after = base ? options.after : -1;
    const from = base ?? emptyState();
    const budget = options.budgetBytes ?? Infinity;
    const round = ++this.#round;
    const data: Uint8Array[] = [];
    let offset = 0;
    // The pieces carried since the last stop, still views of the live fields: copied into one
    // part before the process runs again (one buffer per slice, not one per chunk).
    let unsealed: Uint8Array[] = [];
    const carry = (bytes: Uint8Array): number => {
      const at = offset;
      (copyChunks ? unsealed : data).push(bytes);
      offset += bytes.byteLength;
      return at;
    };
    const seal = () => {
      if (unsealed.length) data.push(joinParts(unsealed));
      unsealed = [];
    };
    const now = emptyState();
    const groups: GroupEntry[] = [];
    const blobs: BlobEntry[] = [];
    const found = new Map<number, Binary>();
    let dirtyBytes = 0;
    let totalBytes = 0;

    for (const fieldNames of groupFields(state.fields)) {
      const key = JSON.stringify(fieldNames);
      const value = Object.create(null) as Record<string, unknown>;
      for (const name of fieldNames) Object.defineProperty(value, name, { value: state.fields[name], enumerable: true, writable: true, configurable: true });
      const graph = toGraph(value);
      for (const node of graph[0]) {
        const leaf = node[1];
        if (node.length !== 2 || !kindOf(leaf)) continue;
        const bytes = bytesOf(leaf as Binary);
        if (bytes.byteLength < BLOB_MIN_BYTES) continue;
        let id = this.#blobIds.get(leaf as object);
        if (id === undefined) this.#blobIds.set(leaf as object, (id = this.#nextBlob++));
        found.set(id, leaf as Binary);
        node[1] = new Tag(id, BLOB_TAG);
      }
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(codec.encode(graph));
      } catch (cause) {
        throw new FerryError("not_serializable", `Cannot encode the fields of ${state.className}: ${(cause as Error).message}`, { cause });
      }
      const crc = crc32(bytes);
      now.groups.set(key, crc);
      totalBytes += bytes.byteLength;
      if (from.groups.get(key) === crc) groups.push([key, crc, -1, bytes.byteLength]);
      else {
        dirtyBytes += bytes.byteLength;
        groups.push([key, crc, carry(bytes), bytes.byteLength]);
      }
    }

    let sentChunks = 0;
    let left = 0;
    for (const [id, binary] of found) {
      const kind = kindOf(binary)!;
      const bytes = bytesOf(binary);
      const byteLength = bytes.byteLength;
      const known = from.blobs.get(id);
      const same = known && known.kind === kind && known.byteLength === byteLength;
      const crcs = new Array<number>(chunkCount(byteLength));
      const chunks: ChunkEntry[] = [];
      for (let index = 0; index < crcs.length; index++) {
        if (sliced >= options.sliceBytes) {
          seal();
          yield;
          sliced = 0;
        }
        const had = same ? known.crcs[index]! : -1;
        if (bytes.byteLength !== byteLength) {
          // Resized or transferred while the process ran: what is left waits for a later round.
          for (let rest = index; rest < crcs.length; rest++) crcs[rest] = same ? known.crcs[rest]! : -1;
          left += crcs.length - index;
          break;
        }
        const piece = bytes.subarray(index * CHUNK_BYTES, Math.min((index + 1) * CHUNK_BYTES, byteLength));
        sliced += piece.byteLength;
        const crc = crc32(piece);
        if (had === crc) {
          crcs[index] = crc;
          continue;
        }
        dirtyBytes += piece.byteLength;
        if (sentChunks >= budget) {
          left++;
          crcs[index] = had;
          continue;
        }
        chunks.push([index, crc, carry(piece), piece.byteLength]);
        sentChunks += piece.byteLength;
        crcs[index] = crc;
      }
      totalBytes += byteLength;
      now.blobs.set(id, { kind, byteLength, crcs });
      blobs.push([id, kind, byteLength, chunks]);
    }

    const sentBytes = offset;
    const header: DeltaHeader = {
      v: FORMAT,
      round,
      after,
      className: state.className,
      moduleVersion: state.moduleVersion ?? null,
      keys: Object.keys(state.fields),
      groups,
      blobs,
      dirtyBytes,
      sentBytes,
      totalBytes,
      complete: left === 0,
      digest: digestOf(now.groups, now.blobs),
    };
    this.#pending = { round, state: now };
    seal();
    return { parts: [headOf(header), ...data], header };
  }

  /** The hashes the receiver holds if it received round `after`; undefined starts afresh. */
  #baseFor(after: number): PieceState | undefined {
    if (after < 0) return undefined;
    if (this.#pending?.round === after) this.#acked = this.#pending;
    if (this.#acked?.round === after) return this.#acked.state;
    return undefined;
  }
}

/** Top-level fields grouped so that fields reaching a common object (blobs aside) share a group. */
function groupFields(fields: Record<string, unknown>): string[][] {
  const names = Object.keys(fields);
  const parent = names.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const owner = new Map<object, number>();
  names.forEach((name, i) => {
    const work: unknown[] = [fields[name]];
    while (work.length) {
      const value = work.pop();
      if (typeof value !== "object" || value === null) continue;
      const seen = owner.get(value);
      if (seen !== undefined) {
        const a = root(seen);
        const b = root(i);
        if (a !== b) parent[b] = a;
        continue;
      }
      owner.set(value, i);
      if (Array.isArray(value)) work.push(...value);
      else if (value instanceof Map) for (const [k, v] of value) work.push(k, v);
      else if (value instanceof Set) for (const v of value) work.push(v);
      else {
        const proto = Object.getPrototypeOf(value) as object | null;
        if (proto === Object.prototype || proto === null) work.push(...Object.values(value));
      }
    }
  });
  const groups = new Map<number, string[]>();
  names.forEach((name, i) => {
    const r = root(i);
    let group = groups.get(r);
    if (!group) groups.set(r, (group = []));
    group.push(name);
  });
  return [...groups.values()];
}

/** A delta's first part: the magic, the header's length and the header. */
function headOf(header: DeltaHeader): Uint8Array {
  const head = new Uint8Array(codec.encode(header));
  const out = new Uint8Array(8 + head.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, head.byteLength, true);
  out.set(head, 8);
  return out;
}

/**
 * The parts of a delta ({@link DeltaParts}) as one buffer.
 *
 * @example
 * ```ts
 * parseDelta(joinParts(parts)).header.round; // the round
 * ```
 */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * Splits a delta into its header and data; throws `snapshot_corrupt` when it is not one.
 *
 * @example
 * ```ts
 * parseDelta(round.delta).header.round; // 0
 * ```
 */
export function parseDelta(delta: Uint8Array): { header: DeltaHeader; data: Uint8Array } {
  const corrupt = (why: string) => new FerryError("snapshot_corrupt", `Pre-copy delta is corrupt: ${why}`);
  if (delta.byteLength < 8 || MAGIC.some((b, i) => delta[i] !== b)) throw corrupt("bad header");
  const length = new DataView(delta.buffer, delta.byteOffset, delta.byteLength).getUint32(4, true);
  if (8 + length > delta.byteLength) throw corrupt("truncated header");
  let header: DeltaHeader;
  try {
    header = codec.decode(delta.subarray(8, 8 + length)) as DeltaHeader;
  } catch {
    throw corrupt("unreadable header");
  }
  if (header?.v !== FORMAT || !Array.isArray(header.groups) || !Array.isArray(header.blobs)) throw corrupt(`format ${String(header?.v)} is not supported`);
  return { header, data: delta.subarray(8 + length) };
}

/** The CBOR header of a byte string of `length` bytes (major type 2). */
function byteStringHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 + length);
  if (length < 0x100) return Uint8Array.of(0x58, length);
  if (length < 0x10000) return Uint8Array.of(0x59, length >> 8, length & 0xff);
  const head = new Uint8Array(length < 2 ** 32 ? 5 : 9);
  const view = new DataView(head.buffer);
  if (head.byteLength === 5) {
    head[0] = 0x5a;
    view.setUint32(1, length);
  } else {
    head[0] = 0x5b;
    view.setBigUint64(1, BigInt(length));
  }
  return head;
}

const CTORS: Record<Exclude<Kind, "ArrayBuffer">, new (buffer: ArrayBuffer) => ArrayBufferView> = {
  Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

interface HeldBlob extends BlobState {
  /** Its bytes: an array of its own, or (once sealed) its place inside the sealed snapshot. */
  bytes: Uint8Array;
}

/** A blob as the object the fields hold: over a buffer of its own (a sealed blob's bytes are copied). */
function blobObject(blob: HeldBlob): Binary {
  const own = blob.bytes.byteOffset === 0 && blob.bytes.byteLength === blob.bytes.buffer.byteLength ? blob.bytes : blob.bytes.slice();
  return blob.kind === "ArrayBuffer" ? (own.buffer as ArrayBuffer) : new CTORS[blob.kind](own.buffer as ArrayBuffer);
}

interface Sealed {
  /** The whole snapshot; the blobs' bytes live in it. */
  bytes: Uint8Array;
  markers: Map<number, Uint8Array>;
  /** The payload encoded with markers, as sealed. */
  skeleton: Uint8Array;
  /** Where each stretch of the skeleton between markers lies in `bytes`: [from, to) of the skeleton, at. */
  stretches: Array<[from: number, to: number, at: number]>;
  /** Byte ranges of `bytes` changed since it was sealed. */
  dirty: Array<[number, number]>;
  /** A delta changed the shape (a new blob, one resized or gone): the sealed copy is no use. */
  broken: boolean;
  /** What turns the sealed payload's CRC-32 into the current one (see {@link crcShift}). */
  crcFix: number;
}

/** A snapshot rebuilt in place from a sealed base, and the byte ranges that changed since sealing. */
export interface Resealed {
  bytes: Uint8Array;
  dirty: Array<[number, number]>;
}

/**
 * The receiver's side: the pieces of the state as of the last delta applied. Each piece is
 * checked against the holder's hash where it is written, and the whole against the holder's
 * digest after each delta: a delta that does not build on this base, or a wrong merge, is refused.
 *
 * A complete base can be **sealed** into an ordinary snapshot whose blobs then live inside it, so
 * later deltas patch that snapshot in place ({@link DeltaBase.reseal}) instead of rebuilding it.
 *
 * @example
 * ```ts
 * const base = new DeltaBase();
 * base.apply(delta0);
 * base.apply(delta1);
 * const snapshot = base.rebuild(); // an ordinary snapshot (codec.ts)
 * ```
 */
export class DeltaBase {
  #round = -1;
  #header: DeltaHeader | undefined;
  #groups = new Map<string, { bytes: Uint8Array; crc: number }>();
  #blobs = new Map<number, HeldBlob>();
  #sealed: Sealed | undefined;

  /** The last round applied (-1: none). */
  get round(): number {
    return this.#round;
  }

  /** Bytes held. */
  get bytes(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.bytes.byteLength;
    for (const b of this.#blobs.values()) n += b.byteLength;
    return n;
  }

  /** Merges a delta; throws `snapshot_corrupt` (the base is then unusable) or `conflict`. */
  apply(delta: Uint8Array): DeltaHeader {
    const { header, data } = parseDelta(delta);
    const corrupt = (why: string) => {
      this.discard();
      return new FerryError("snapshot_corrupt", `Pre-copy round ${header.round} cannot be merged: ${why}`);
    };
    if (header.after !== -1 && header.after !== this.#round) {
      throw new FerryError("conflict", `Pre-copy round ${header.round} builds on round ${header.after}, but the base here is at round ${this.#round}`);
    }
    const oldGroups = header.after === -1 ? new Map<string, { bytes: Uint8Array; crc: number }>() : this.#groups;
    const oldBlobs = header.after === -1 ? new Map<number, HeldBlob>() : this.#blobs;
    const sealed = this.#sealed;
    if (sealed && header.after === -1) sealed.broken = true;
    const piece = (offset: number, length: number) => {
      if (offset < 0 || offset + length > data.byteLength) throw corrupt(`a piece lies outside the delta (${offset}+${length} of ${data.byteLength})`);
      return data.subarray(offset, offset + length);
    };
    const groups = new Map<string, { bytes: Uint8Array; crc: number }>();
    for (const [key, crc, offset, length] of header.groups) {
      if (offset >= 0) {
        const bytes = piece(offset, length).slice();
        if (crc32(bytes) !== crc) throw corrupt(`fields ${key} do not match their hash`);
        groups.set(key, { bytes, crc });
      } else {
        const had = oldGroups.get(key);
        if (!had || had.crc !== crc) throw corrupt(`fields ${key} are unchanged there but differ here`);
        groups.set(key, had);
      }
    }
    const blobs = new Map<number, HeldBlob>();
    for (const [id, kind, byteLength, chunks] of header.blobs) {
      if (!KINDS.includes(kind)) throw corrupt(`blob ${id} is of unknown kind "${String(kind)}"`);
      let blob = oldBlobs.get(id);
      if (!blob || blob.kind !== kind || blob.byteLength !== byteLength) {
        blob = { kind, byteLength, bytes: new Uint8Array(byteLength), crcs: new Array<number>(chunkCount(byteLength)).fill(-1) };
        if (sealed) sealed.broken = true;
      }
      const inSealed = sealed && !sealed.broken && blob.bytes.buffer === sealed.bytes.buffer ? blob.bytes.byteOffset - sealed.bytes.byteOffset : -1;
      for (const [index, crc, offset, length] of chunks) {
        const start = index * CHUNK_BYTES;
        if (index < 0 || index >= blob.crcs.length || length !== Math.min(CHUNK_BYTES, byteLength - start)) throw corrupt(`chunk ${index} of blob ${id} does not fit it`);
        const place = blob.bytes.subarray(start, start + length);
        const before = inSealed >= 0 ? crc32(place) : 0;
        place.set(piece(offset, length));
        // Checked where it landed, so a misplaced chunk is caught, not only a damaged one.
        if (crc32(place) !== crc) throw corrupt(`chunk ${index} of blob ${id} does not match its hash`);
        blob.crcs[index] = crc;
        if (inSealed >= 0) {
          sealed!.dirty.push([inSealed + start, inSealed + start + length]);
          sealed!.crcFix ^= crcShift(before ^ crc, sealed!.bytes.byteLength - (inSealed + start + length));
        }
      }
      blobs.set(id, blob);
    }
    if (sealed && blobs.size !== this.#blobs.size) sealed.broken = true;
    const digest = digestOf([...groups].map(([k, g]) => [k, g.crc] as [string, number]), blobs);
    if (digest !== header.digest) throw corrupt("the merged state does not match the holder's digest");
    this.#groups = groups;
    this.#blobs = blobs;
    this.#round = header.round;
    this.#header = header;
    return header;
  }

  #complete(): DeltaHeader {
    const header = this.#header;
    if (!header || !header.complete) throw new FerryError("internal", "The pre-copied base is not complete");
    return header;
  }

  /**
   * The full state as an ordinary snapshot. Only after a complete delta: every piece is then the
   * holder's as of that round. The base is empty afterwards.
   */
  rebuild(): Uint8Array {
    const header = this.#complete();
    const markers = this.#markers();
    const skeleton = encodeLegacyState(this.#state(header, this.#placeholders(markers)));
    const snapshot = this.#splice(skeleton, markers)?.bytes ?? encodeLegacyState(this.#state(header, new Map([...this.#blobs].map(([id, b]) => [id, blobObject(b)]))));
    this.discard();
    return snapshot;
  }

  /**
   * Rebuilds the full state (as {@link rebuild}) and keeps it: from now on the blobs live inside
   * that snapshot, and {@link reseal} patches it after later deltas. Undefined when the state does
   * not lend itself to that (no blob, or a marker not found): then rebuild at the end instead.
   */
  seal(): Uint8Array | undefined {
    const header = this.#complete();
    if (this.#blobs.size === 0) return undefined;
    const markers = this.#markers();
    const skeleton = encodeLegacyState(this.#state(header, this.#placeholders(markers)));
    const spliced = this.#splice(skeleton, markers);
    if (!spliced) return undefined;
    for (const [id, at] of spliced.blobAt) {
      const blob = this.#blobs.get(id)!;
      blob.bytes = spliced.bytes.subarray(at, at + blob.byteLength);
    }
    this.#sealed = { bytes: spliced.bytes, markers, skeleton: skeleton.subarray(HEADER_BYTES), stretches: spliced.stretches, dirty: [], broken: false, crcFix: 0 };
    return spliced.bytes;
  }

  /**
   * After a complete delta on a sealed base: the sealed snapshot patched in place (the fields
   * around the blobs written again, the envelope's CRC-32 computed again) and every byte range
   * that changed since sealing. Undefined when the shape changed (a blob added, resized or gone, or
   * the fields around them encode to another length): then {@link rebuild}.
   */
  reseal(): Resealed | undefined {
    const header = this.#complete();
    const sealed = this.#sealed;
    if (!sealed || sealed.broken) return undefined;
    const skeleton = encodeLegacyState(this.#state(header, this.#placeholders(sealed.markers))).subarray(HEADER_BYTES);
    if (skeleton.byteLength !== sealed.skeleton.byteLength) return undefined;
    // The blobs must sit where they sat: each marker at its old place.
    const now = Buffer.from(skeleton.buffer, skeleton.byteOffset, skeleton.byteLength);
    const was = Buffer.from(sealed.skeleton.buffer, sealed.skeleton.byteOffset, sealed.skeleton.byteLength);
    for (const marker of sealed.markers.values()) if (now.indexOf(marker) !== was.indexOf(marker)) return undefined;
    const dirty = sealed.dirty;
    for (const [from, to, at] of sealed.stretches) {
      if (Buffer.compare(now.subarray(from, to), was.subarray(from, to)) === 0) continue;
      sealed.crcFix ^= crcShift(crc32(was.subarray(from, to)) ^ crc32(now.subarray(from, to)), sealed.bytes.byteLength - (at + to - from));
      sealed.bytes.set(now.subarray(from, to), at);
      dirty.push([at, at + to - from]);
    }
    const out = sealed.bytes;
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    // Updated, not computed again over the whole payload: CRC-32 is linear in what changed.
    view.setUint32(8, (view.getUint32(8, true) ^ sealed.crcFix) >>> 0, true);
    dirty.push([0, HEADER_BYTES]);
    this.#sealed = undefined;
    this.discard();
    return { bytes: out, dirty: mergeRanges(dirty) };
  }

  #markers(): Map<number, Uint8Array> {
    const nonce = randomBytes(12);
    const markers = new Map<number, Uint8Array>();
    for (const id of this.#blobs.keys()) {
      const marker = new Uint8Array(16);
      marker.set(nonce);
      new DataView(marker.buffer).setUint32(12, id, true);
      markers.set(id, marker);
    }
    return markers;
  }

  /** Each blob as a 16-byte object of its kind holding its marker. */
  #placeholders(markers: Map<number, Uint8Array>): Map<number, Binary> {
    const objects = new Map<number, Binary>();
    for (const [id, blob] of this.#blobs) {
      const buffer = markers.get(id)!.slice().buffer as ArrayBuffer;
      objects.set(id, blob.kind === "ArrayBuffer" ? buffer : new CTORS[blob.kind](buffer));
    }
    return objects;
  }

  /**
   * Puts each blob's bytes where its marker is in `skeleton` (an encoded snapshot), with the CBOR
   * byte-string header of its real length, and seals the envelope again (CRC-32, length): the
   * codec would copy them far more slowly itself. Undefined when a marker is not found exactly
   * once, right after a 16-byte string header: then the caller encodes the whole state instead.
   */
  #splice(skeleton: Uint8Array, markers: Map<number, Uint8Array>): { bytes: Uint8Array; blobAt: Map<number, number>; stretches: Array<[number, number, number]> } | undefined {
    const payload = Buffer.from(skeleton.buffer, skeleton.byteOffset + HEADER_BYTES, skeleton.byteLength - HEADER_BYTES);
    const at: Array<{ id: number; pos: number; bytes: Uint8Array; head: Uint8Array }> = [];
    for (const [id, marker] of markers) {
      const pos = payload.indexOf(marker);
      if (pos < 1 || payload[pos - 1] !== 0x50 || payload.indexOf(marker, pos + 1) !== -1) return undefined;
      const blob = this.#blobs.get(id)!;
      at.push({ id, pos, bytes: blob.bytes, head: byteStringHeader(blob.byteLength) });
    }
    at.sort((a, b) => a.pos - b.pos);
    let length = payload.byteLength;
    for (const piece of at) length += piece.head.byteLength + piece.bytes.byteLength - 17;
    const out = new Uint8Array(HEADER_BYTES + length);
    out.set(skeleton.subarray(0, HEADER_BYTES));
    const blobAt = new Map<number, number>();
    const stretches: Array<[number, number, number]> = [];
    let from = 0;
    let to = HEADER_BYTES;
    let crc = 0;
    const put = (bytes: Uint8Array) => {
      out.set(bytes, to);
      crc = crc32(out.subarray(to, to + bytes.byteLength), crc);
      to += bytes.byteLength;
    };
    for (const piece of at) {
      stretches.push([from, piece.pos - 1, to]);
      put(payload.subarray(from, piece.pos - 1));
      put(piece.head);
      blobAt.set(piece.id, to);
      put(piece.bytes);
      from = piece.pos + 16;
    }
    stretches.push([from, payload.byteLength, to]);
    put(payload.subarray(from));
    const view = new DataView(out.buffer);
    view.setUint32(8, crc, true);
    view.setBigUint64(16, BigInt(length), true);
    return { bytes: out, blobAt, stretches };
  }

  #state(header: DeltaHeader, objects: Map<number, Binary>): ProcessState {
    const fields: Record<string, unknown> = {};
    const parts: Record<string, unknown>[] = [];
    for (const [key, { bytes }] of this.#groups) {
      const graph = codec.decode(bytes) as Graph;
      for (const node of graph[0]) {
        const leaf = node[1];
        if (node.length === 2 && leaf instanceof Tag && leaf.tag === BLOB_TAG) {
          const blob = objects.get(leaf.value as number);
          if (!blob) throw new FerryError("snapshot_corrupt", `Pre-copied fields ${key} name blob ${String(leaf.value)}, which is not there`);
          node[1] = blob;
        }
      }
      parts.push(fromGraph(graph) as Record<string, unknown>);
    }
    const byName = new Map<string, unknown>();
    for (const part of parts) for (const name of Object.keys(part)) byName.set(name, part[name]);
    for (const name of header.keys) {
      if (!byName.has(name)) throw new FerryError("snapshot_corrupt", `Pre-copied state lacks field "${name}"`);
      Object.defineProperty(fields, name, { value: byName.get(name), enumerable: true, writable: true, configurable: true });
    }
    return header.moduleVersion === null ? { className: header.className, fields } : { className: header.className, fields, moduleVersion: header.moduleVersion };
  }

  /** Forgets every piece. */
  discard(): void {
    this.#groups = new Map();
    this.#blobs = new Map();
    this.#round = -1;
    this.#header = undefined;
    this.#sealed = undefined;
  }
}

const POLY = 0xedb88320;

/** a·b modulo the CRC-32 polynomial (reflected), as zlib's multmodp. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, k = 0..31. */
const X2N = (() => {
  const table = [0x40000000];
  for (let k = 1; k < 32; k++) table.push(multModP(table[k - 1]!, table[k - 1]!));
  return table;
})();

/**
 * How a change of some bytes moves the CRC-32 of the whole: with `diff` the XOR of the CRC-32s of
 * the old and new bytes of a stretch (equal lengths), and `after` the bytes that follow it, the
 * whole's CRC-32 changes by the returned value (zlib's crc32_combine, without the second CRC).
 *
 * @example
 * ```ts
 * const updated = (oldCrc ^ crcShift(crc32(oldStretch) ^ crc32(newStretch), bytesAfterIt)) >>> 0;
 * ```
 */
export function crcShift(diff: number, after: number): number {
  let p = 0x80000000;
  let n = after;
  let k = 3;
  while (n > 0) {
    if (n % 2) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return multModP(p, diff >>> 0);
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [start, end] of sorted) {
    const last = out.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}
