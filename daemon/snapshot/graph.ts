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

type Node = unknown[];
export type Graph = [nodes: Node[], root: unknown];

/** Flattens `root` into a node table; primitives stay inline. */
export function toGraph(root: unknown): Graph {
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
      } else {
        node.push(LEAF, value);
      }
    }
  }
  return [nodes, rootRef];
}

/** Rebuilds what {@link toGraph} flattened, identities and cycles included. */
export function fromGraph(graph: Graph): unknown {
  const [nodes, rootRef] = graph;
  const objects = nodes.map((node) => {
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
      default:
        return node[1];
    }
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
