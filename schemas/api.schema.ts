/**
 * Messages of the daemon's HTTP API, one schema per message type. Requests are
 * `POST /v1/<type>` with a JSON body; the dispatcher validates the body against `requests[type]`
 * before its handler runs, so adding a message type is one schema here plus one handler.
 *
 * @example
 * ```ts
 * import type { CallRequest } from "./api.schema.ts";
 * const body: CallRequest = { name: "counter", method: "get", args: [] };
 * ```
 * @module
 */
import type { FromSchema } from "json-schema-to-ts";
import { namePattern } from "./cluster.schema.ts";

export const processStates = ["starting", "running", "suspending", "migrating", "completed", "failed", "stopped"] as const;

export const processInfoSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "module", "args", "node", "desired", "state", "generation", "migrations", "lastDowntimeMs", "lastTransferBytes", "error", "placedBy", "description", "methods", "startedAt"],
  properties: {
    name: { type: "string" },
    module: { type: "string" },
    args: { type: "array", items: { type: "string" } },
    /** Where it runs now. */
    node: { type: "string" },
    /** Where cluster.yaml wants it (null once removed from the YAML). */
    desired: { type: ["string", "null"] },
    state: { type: "string", enum: processStates },
    generation: { type: "integer", minimum: 0 },
    migrations: { type: "integer", minimum: 0 },
    lastDowntimeMs: { type: ["number", "null"] },
    lastTransferBytes: { type: ["integer", "null"] },
    error: { type: ["string", "null"] },
    /** `config`: pinned by its `node:` in cluster.yaml; `balancer`: placed by the balancer. */
    placedBy: { type: "string", enum: ["config", "balancer"] },
    /** While a snapshot streams in (on the destination): bytes received of the total. */
    transfer: {
      type: "object",
      additionalProperties: false,
      required: ["received", "total"],
      properties: { received: { type: "integer" }, total: { type: "integer" } },
    },
    description: { type: "string" },
    methods: { type: "array", items: { type: "string" } },
    startedAt: { type: "string" },
  },
} as const;

export const moduleInfoSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "file", "ok"],
  properties: {
    name: { type: "string" },
    file: { type: "string" },
    ok: { type: "boolean" },
    error: { type: "string" },
    methods: { type: "array", items: { type: "string" } },
  },
} as const;

export const eventSchema = {
  type: "object",
  required: ["seq", "time", "node", "type"],
  additionalProperties: false,
  properties: {
    seq: { type: "integer" },
    time: { type: "string" },
    node: { type: "string" },
    type: {
      type: "string",
      enum: [
        "daemon-started", "daemon-stopped", "config-reloaded", "config-rejected", "module-loaded", "module-failed",
        "started", "completed", "failed", "stopped", "suspended", "transferred", "resumed", "rolled-back",
        "checkpointed", "restored", "executor-restarted", "balanced", "adopted",
      ],
    },
    process: { type: "string" },
    generation: { type: "integer" },
    from: { type: "string" },
    to: { type: "string" },
    bytes: { type: "integer" },
    ms: { type: "number" },
    reason: { type: "string" },
    message: { type: "string" },
  },
} as const;

const empty = { type: "object", additionalProperties: false, properties: {} } as const;
const name = { type: "string", pattern: namePattern } as const;
const generation = { type: "integer", minimum: 0 } as const;
const handoffId = { type: "string", minLength: 8, maxLength: 64 } as const;

/** Request bodies, keyed by message type. */
export const requests = {
  status: empty,
  ps: empty,
  shutdown: empty,
  call: {
    type: "object",
    additionalProperties: false,
    required: ["name", "method"],
    properties: {
      name,
      method: { type: "string", minLength: 1, maxLength: 200 },
      args: { type: "array", items: { type: "string" }, default: [] },
      timeoutMs: { type: "integer", minimum: 1, maximum: 3600000 },
    },
  },
  reconcile: {
    type: "object",
    additionalProperties: false,
    properties: {
      /** Processes to look at now; all when absent. */
      names: { type: "array", items: name },
      /** Re-read cluster.yaml first (the CLI just wrote it). */
      reload: { type: "boolean", default: true },
    },
  },
  locate: {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { name },
  },
  /** `locate` for many names at once; answers `{ [name]: LocateResponse }`. */
  "locate.batch": {
    type: "object",
    additionalProperties: false,
    required: ["names"],
    properties: { names: { type: "array", items: name, maxItems: 100000 } },
  },
  /** A node's load, for balancer policies. */
  load: empty,
  /** Receiver-initiated: `to` asks this node for a process to take; answers `{ name, generation }` or `{ name: null }`. */
  "balance.request": {
    type: "object",
    additionalProperties: false,
    required: ["to"],
    properties: { to: name, process: name },
  },
  /** Sender-initiated: `from` granted this node a process; this node pulls it. */
  "balance.offer": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "from"],
    properties: { name, generation, from: name },
  },
  "handoff.begin": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "to", "handoffId"],
    properties: { name, generation, to: name, handoffId },
  },
  "handoff.commit": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "handoffId"],
    properties: { name, generation, handoffId },
  },
  "handoff.abort": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "handoffId", "reason"],
    properties: { name, generation, handoffId, reason: { type: "string", maxLength: 2000 } },
  },
  "handoff.status": {
    type: "object",
    additionalProperties: false,
    required: ["name", "handoffId"],
    properties: { name, handoffId },
  },
} as const;

export type MessageType = keyof typeof requests;
export type RequestOf<T extends MessageType> = FromSchema<(typeof requests)[T]>;

export type ProcessInfo = FromSchema<typeof processInfoSchema>;
export type ProcessStateName = ProcessInfo["state"];
export type ModuleInfo = FromSchema<typeof moduleInfoSchema>;
export type FerryEvent = FromSchema<typeof eventSchema>;
export type CallRequest = RequestOf<"call">;

/** What a balancer policy sees of one node. */
export interface NodeLoad {
  node: string;
  /** Processes running here. */
  processes: number;
  /** Mean event-loop utilization of the executors, 0..1. */
  utilization: number;
  /** processes + utilization: what the default policy compares. */
  load: number;
  /** Unpinned processes here that have stayed long enough to move. */
  movable: number;
}

export interface BalanceGrant {
  name: string | null;
  generation?: number;
}

export interface NodeStatus {
  node: string;
  cluster: string;
  runtime: "node" | "deno";
  version: string;
  pid: number;
  uptimeMs: number;
  url: string;
  load: { processes: number; running: number; executors: number; rssBytes: number; heapUsedBytes: number };
  configError: string | null;
  balancer: { policy: string; loads: NodeLoad[]; decisions: string[] };
  modules: ModuleInfo[];
  processes: ProcessInfo[];
}

export interface CallResponse {
  /** The return value as JSON (BigInt as a decimal string, Map as entries…). */
  value: unknown;
  /** The value as the CLI prints it. */
  text: string;
  node: string;
}

export interface LocateResponse {
  holds: boolean;
  generation?: number;
  state?: ProcessStateName;
  /** An incoming hand-off of this process is prepared here and awaiting its outcome. */
  inDoubt?: boolean;
  /** This node is about to start the process fresh. */
  creating?: boolean;
}

export interface HandoffStatusResponse {
  outcome: "committed" | "aborted" | "pending" | "unknown";
  generation?: number;
}

/** Error body of every failed request. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}
