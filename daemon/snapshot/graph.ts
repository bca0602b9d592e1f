/**
 * Object graphs as flat tables, so shared references and cycles survive any encoder: every
 * container (object, array, Map, Set) and every other object with identity (Date, typed array…)
 * becomes a numbered node, and a reference to it becomes a CBOR tag holding its number. Decoding
 * creates every container first and fills them after, so a Map that contains itself, or a Set
 * reached through its own member, comes back as the same object.
 *
 * Both directions use an explicit work list, not recursion: a long linked list cannot overflow
 * the stack.
 *
 * @example
 * ```ts
 * const m = new Map(); m.set("me", m);
 * const back = fromGraph(toGraph(m)) as Map<string, unknown>;
 * back.get("me") === back; // true
 * ```
 * @module
 */
import { Tag } from "cbor-x";

/** CBOR tag number of a reference to node #n (in the range IANA leaves unassigned). */
export const REF_TAG = 40100;

const PLAIN = 0;
const ARRAY = 1;
const MAP = 2;
const SET = 3;
const LEAF = 4;
const NULL_PROTO = 5;
/** An ArrayBuffer whose bytes travel outside the skeleton: [BUFFER, segment index, resizable max?]. */
const BUFFER = 6;
/** A typed array or DataView: [VIEW, kind, buffer ref, byteOffset, length in elements (bytes for a DataView)]. */
const VIEW = 7;
/**
 * An ArrayBuffer in a graph without segments (format 1, call values): [INLINE_BUFFER, the buffer].
 * Its own node, because CBOR gives a plain ArrayBuffer back as a Uint8Array.
 */
const INLINE_BUFFER = 8;

/** The views a snapshot may hold, by the name it records (a closed list: the name picks a constructor). */
const VIEW_KINDS: Record<string, new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
};
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;

function viewKind(value: object): string | undefined {
  if (value instanceof DataView) return "DataView";
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === null || Object.getPrototypeOf(proto) !== typedArrayProto) return undefined;
  const name = (value as { constructor: { name: string } }).constructor.name;
  return VIEW_KINDS[name] && VIEW_KINDS[name].prototype === proto ? name : undefined;
}

function isBuffer(value: object): value is ArrayBuffer {
  return value instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer);
}

type Node = unknown[];
export type Graph = [nodes: Node[], root: unknown];

/**
 * Flattens `root` into a node table; primitives stay inline. With `segments`, every ArrayBuffer
 * becomes a BUFFER node whose bytes are appended to `segments` (a view, not a copy) and every
 * typed array or DataView a VIEW node onto its buffer, so the bytes travel raw and views sharing a
 * buffer still share it; without, they stay leaves for the CBOR encoder.
 */
export function toGraph(root: unknown, segments?: Uint8Array[]): Graph {
  const ids = new Map<object, number>();
  const nodes: Node[] = [];
  const work: Array<[object, Node]> = [];
  const ref = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null) return value;
    let id = ids.get(value);
    if (id === undefined) {
      id = nodes.length;
      ids.set(value, id);
      const node: Node = [];
      nodes.push(node);
      work.push([value, node]);
    }
    return new Tag(id, REF_TAG);
  };
  const rootRef = ref(root);
  for (let item = work.pop(); item; item = work.pop()) {
    const [value, node] = item;
    if (segments) {
      if (isBuffer(value)) {
        node.push(BUFFER, segments.length);
        // A resizable buffer keeps its capacity; its bytes are the current length.
        const resizable = (value as { resizable?: boolean; maxByteLength?: number });
        if (resizable.resizable) node.push(resizable.maxByteLength);
        segments.push(new Uint8Array(value));
        continue;
      }
      const kind = viewKind(value);
      if (kind) {
        const view = value as ArrayBufferView;
        const length = kind === "DataView" ? view.byteLength : (view as Uint8Array).length;
        node.push(VIEW, kind, ref(view.buffer), view.byteOffset, length);
        continue;
      }
    }
    if (Array.isArray(value)) {
      const items = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) items[i] = ref(value[i]);
      node.push(ARRAY, items);
    } else if (value instanceof Map) {
      const keys: unknown[] = [];
      const values: unknown[] = [];
      for (const [k, v] of value) {
        keys.push(ref(k));
        values.push(ref(v));
      }
      node.push(MAP, keys, values);
    } else if (value instanceof Set) {
      node.push(SET, [...value].map(ref));
    } else {
      const proto = Object.getPrototypeOf(value) as object | null;
      if (proto === Object.prototype || proto === null) {
        const keys = Object.keys(value);
        const record = value as Record<string, unknown>;
        node.push(proto === null ? NULL_PROTO : PLAIN, keys, keys.map((k) => ref(record[k])));
      } else if (isBuffer(value)) {
        node.push(INLINE_BUFFER, value);
      } else {
        node.push(LEAF, value);
      }
    }
  }
  return [nodes, rootRef];
}

/**
 * Rebuilds what {@link toGraph} flattened, identities and cycles included; `buffers` are the
 * BUFFER nodes' bytes, in segment order.
 */
export function fromGraph(graph: Graph, buffers: ArrayBuffer[] = []): unknown {
  const [nodes, rootRef] = graph;
  const objects: unknown[] = nodes.map((node) => {
    switch (node[0]) {
      case PLAIN:
        return {};
      case NULL_PROTO:
        return Object.create(null) as object;
      case ARRAY:
        return new Array((node[1] as unknown[]).length);
      case MAP:
        return new Map();
      case SET:
        return new Set();
      case BUFFER:
        return bufferOf(node, buffers);
      case VIEW:
        return undefined; // made below, once every buffer exists
      case INLINE_BUFFER: {
        // CBOR hands the bytes back as a Uint8Array (a view of a larger buffer, maybe).
        const bytes = node[1];
        if (bytes instanceof ArrayBuffer) return bytes;
        if (!(bytes instanceof Uint8Array)) throw new Error(`node ${String(node[1])} is not a valid ArrayBuffer`);
        return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
      }
      default:
        return node[1];
    }
  });
  nodes.forEach((node, i) => {
    if (node[0] !== VIEW) return;
    const [, kind, bufferRef, byteOffset, length] = node as [number, string, unknown, number, number];
    const make = Object.prototype.hasOwnProperty.call(VIEW_KINDS, kind) ? VIEW_KINDS[kind] : undefined;
    const buffer = bufferRef instanceof Tag && bufferRef.tag === REF_TAG ? objects[bufferRef.value as number] : undefined;
    if (!make || !(buffer instanceof ArrayBuffer)) throw new Error(`node ${i} is not a valid ${String(kind)} view`);
    objects[i] = new make(buffer, byteOffset, length);
  });
  const deref = (value: unknown): unknown => (value instanceof Tag && value.tag === REF_TAG ? objects[value.value as number] : value);
  nodes.forEach((node, i) => {
    const target = objects[i];
    switch (node[0]) {
      case PLAIN:
      case NULL_PROTO: {
        const keys = node[1] as string[];
        const values = node[2] as unknown[];
        // defineProperty, so a key named "__proto__" stays data instead of swapping the prototype.
        keys.forEach((k, j) => Object.defineProperty(target, k, { value: deref(values[j]), enumerable: true, writable: true, configurable: true }));
        return;
      }
      case ARRAY:
        (node[1] as unknown[]).forEach((v, j) => ((target as unknown[])[j] = deref(v)));
        return;
      case MAP: {
        const values = node[2] as unknown[];
        (node[1] as unknown[]).forEach((k, j) => (target as Map<unknown, unknown>).set(deref(k), deref(values[j])));
        return;
      }
      case SET:
        (node[1] as unknown[]).forEach((v) => (target as Set<unknown>).add(deref(v)));
        return;
    }
  });
  return deref(rootRef);
}

function bufferOf(node: Node, buffers: ArrayBuffer[]): ArrayBuffer {
  const bytes = buffers[node[1] as number];
  if (!bytes) throw new Error(`buffer #${String(node[1])} is missing`);
  const max = node[2];
  if (typeof max !== "number") return bytes;
  // Only a resizable buffer records its capacity: rebuild one (a copy, rare).
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const out = new Resizable(bytes.byteLength, { maxByteLength: max });
  new Uint8Array(out).set(new Uint8Array(bytes));
  return out;
}
