/**
 * The daemon's HTTP API contract: one request schema and one response schema per message type.
 * Requests are `POST /v1/<type>` with a JSON body; the dispatcher validates the body against
 * `requests[type]` before its handler runs, and every answer has the shape of `responses[type]`
 * (tests check the real answers against these schemas). The CLI, the peers and the tests share
 * the one client in `daemon/api/client.ts`, typed from here. Adding a message type is a request
 * schema, a response schema and one route.
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
    /** Short content hash of the module version it runs (absent until it is instantiated). */
    moduleVersion: { type: "string" },
    /** A newer version of its module it has not taken yet (`upgrade: manual`, or a failed upgrade). */
    pendingVersion: { type: "string" },
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
    /** Short content hash of the version this node's processes/ folder holds. */
    version: { type: "string" },
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
        "precopied", "restored", "upgraded", "upgrade-failed", "executor-restarted", "balanced", "adopted", "fenced", "storage-failed", "store-unreachable", "store-reachable",
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

/**
 * One line of a process's log: what it printed (`out`, `err`) or what happened to it (`event`),
 * on one node. `seq` increases with every record of that node (across its processes and its
 * restarts), so a follower resumes after the last one it saw, with no gap and no repeat.
 */
export const logRecordSchema = {
  type: "object",
  additionalProperties: false,
  required: ["seq", "ts", "node", "process", "generation", "stream", "text"],
  properties: {
    seq: { type: "integer", minimum: 1 },
    /** ISO time the node took the line. */
    ts: { type: "string" },
    node: { type: "string" },
    process: { type: "string" },
    generation: { type: "integer", minimum: 0 },
    stream: { type: "string", enum: ["out", "err", "event"] },
    text: { type: "string" },
  },
} as const;

/** A module version id: the sha256 of its bundle, 64 lowercase hex digits. */
export const moduleHashPattern = "^[0-9a-f]{64}$";

/**
 * A process module as it travels between nodes: its entry file and every file under processes/
 * it imports, as text, keyed by path relative to processes/. `hash` is the content hash over
 * entry and files (see `daemon/modules/hash.ts`); `external` lists what it imports from outside
 * the bundle, which the receiving node's own install provides.
 */
export const moduleBundleSchema = {
  type: "object",
  additionalProperties: false,
  required: ["module", "entry", "files", "hash", "external"],
  properties: {
    module: { type: "string", minLength: 1 },
    entry: { type: "string", minLength: 1 },
    files: { type: "object", additionalProperties: { type: "string" } },
    hash: { type: "string", pattern: moduleHashPattern },
    external: { type: "array", items: { type: "string" } },
  },
} as const;

const empty = { type: "object", additionalProperties: false, properties: {} } as const;
const name = { type: "string", pattern: namePattern } as const;
const generation = { type: "integer", minimum: 0 } as const;
const handoffId = { type: "string", minLength: 8, maxLength: 64 } as const;

const handoffBegin = {
  type: "object",
  additionalProperties: false,
  required: ["name", "generation", "to", "handoffId"],
  properties: {
    name,
    generation,
    to: name,
    handoffId,
    /** The requester holds a pre-copied base of this hand-off up to round `after`: send only the last delta. */
    precopy: { type: "object", additionalProperties: false, required: ["after"], properties: { after: { type: "integer", minimum: -1 } } },
  },
} as const;
const handoffCommit = {
  type: "object",
  additionalProperties: false,
  required: ["name", "generation", "handoffId"],
  properties: { name, generation, handoffId },
} as const;
const handoffAbort = {
  type: "object",
  additionalProperties: false,
  required: ["name", "generation", "handoffId", "reason"],
  properties: { name, generation, handoffId, reason: { type: "string", maxLength: 2000 } },
} as const;
const handoffStatus = {
  type: "object",
  additionalProperties: false,
  required: ["name", "handoffId"],
  properties: { name, handoffId },
} as const;

/** One message of a `handoff.batch`: its type and the body it would have on its own. */
function batchItem<T extends string, B extends object>(type: T, body: B) {
  return { type: "object", additionalProperties: false, required: ["type", "body"], properties: { type: { const: type }, body } } as const;
}

/** Which log lines of one process: after a sequence number, since a time, the last N of them. */
const logsQuery = {
  type: "object",
  additionalProperties: false,
  required: ["process"],
  properties: {
    process: name,
    /** Only records with a larger `seq` (where a follower left off). */
    after: { type: "integer", minimum: 0 },
    /** Only records taken at or after this ISO time. */
    sinceTs: { type: "string", minLength: 1, maxLength: 64 },
    /** Only the last N of the records selected. */
    lines: { type: "integer", minimum: 1, maximum: 1000000 },
  },
} as const;

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
      /**
       * The caller's id for this call, the same in each of its retries: a call that already ran
       * is answered again (or fails with `answer_not_kept`), never run twice.
       */
      callId: { type: "string", minLength: 8, maxLength: 100, pattern: "^[A-Za-z0-9._:-]+$" },
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
  /**
   * Receiver-initiated: `to` asks this node for a process to take; answers `{ name, generation }`
   * or `{ name: null }`. `load`: the asker's load when it asked, which this node's policy may
   * weigh against its own load now (older releases do not send it).
   */
  "balance.request": {
    type: "object",
    additionalProperties: false,
    required: ["to"],
    properties: { to: name, process: name, load: { type: "number", minimum: 0 } },
  },
  /** Sender-initiated: `from` granted this node a process; this node pulls it. */
  "balance.offer": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "from"],
    properties: { name, generation, from: name },
  },
  "handoff.begin": handoffBegin,
  "handoff.commit": handoffCommit,
  "handoff.abort": handoffAbort,
  "handoff.status": handoffStatus,
  /**
   * Several hand-off messages to one holder in one request (a destination pulling many processes
   * at once): each item is handled as its own message would be, and answered on its own, in the
   * order the answers are ready, as frames of the answer body (see `handoffBatchFrameSchema`).
   */
  "handoff.batch": {
    type: "object",
    additionalProperties: false,
    required: ["items"],
    properties: {
      items: {
        type: "array",
        minItems: 1,
        maxItems: 4096,
        items: {
          oneOf: [
            batchItem("handoff.begin", handoffBegin),
            batchItem("handoff.commit", handoffCommit),
            batchItem("handoff.abort", handoffAbort),
            batchItem("handoff.status", handoffStatus),
          ],
        },
      },
    },
  },
  /**
   * A pre-copy round (docs/protocol.md): the process keeps running; the answer's body is the delta
   * of its state since round `after` (-1: all of it), described by the `ferry-precopy` header.
   */
  "handoff.precopy": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "to", "handoffId", "after"],
    properties: {
      name,
      generation,
      to: name,
      handoffId,
      after: { type: "integer", minimum: -1 },
      /** Chunks beyond this many bytes wait for a later round. */
      budgetBytes: { type: "integer", minimum: 65536, default: 33554432 },
    },
  },
  /**
   * The requester ends its pre-copy: `outcome` says whether it goes on to `handoff.begin` (with the
   * downtime it expects) or gave up (`reason`, shown in `ps` and `events` of the holder).
   */
  "handoff.precopy.end": {
    type: "object",
    additionalProperties: false,
    required: ["name", "to", "handoffId", "outcome"],
    properties: {
      name,
      to: name,
      handoffId,
      outcome: { type: "string", enum: ["switchover", "abandoned", "rolled-back"] },
      rounds: { type: "integer", minimum: 0 },
      expectedMs: { type: "number", minimum: 0 },
      reason: { type: "string", maxLength: 2000 },
    },
  },
  /**
   * Multi-machine mode: keep this checkpoint of a peer's process (the body is the snapshot, this
   * object travels in the `ferry-checkpoint` header).
   */
  "checkpoint.replicate": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation", "at", "status", "from"],
    properties: { name, generation, at: { type: "number" }, status: { type: "string", enum: ["owned", "completed", "failed"] }, from: name },
  },
  /** Whether this node reaches the cluster store (peers ask before carrying a lease on without it). */
  liveness: empty,
  /** A replica this node keeps; answers with its bytes. */
  "checkpoint.fetch": {
    type: "object",
    additionalProperties: false,
    required: ["name", "generation"],
    properties: { name, generation },
  },
  /** A peer asks for a module version this node has (in processes/ or its cache). */
  "module.fetch": {
    type: "object",
    additionalProperties: false,
    required: ["hash"],
    properties: { hash: { type: "string", pattern: moduleHashPattern } },
  },
  /** The cluster's nodes and their URLs, for clients that know one node only (the web page). */
  nodes: empty,
  /**
   * Points a process at another node in this node's cluster.yaml, the edit `ferry migrate`
   * makes (comments kept), then publishes it as the config watcher does; answers at once.
   */
  "config.migrate": {
    type: "object",
    additionalProperties: false,
    required: ["process", "node"],
    properties: { process: name, node: name },
  },
  /**
   * Moves a process held here onto the newest version of its module now (`ferry upgrade`); with
   * `dryRun`, only tries the new code on a copy of its state.
   */
  "process.upgrade": {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { name, dryRun: { type: "boolean", default: false } },
  },
  /** A process's log lines kept by this node, oldest first. */
  "logs.read": logsQuery,
  /** The same lines, then new ones as they are written (NDJSON), until the client hangs up. */
  "logs.follow": logsQuery,
} as const;

export type MessageType = keyof typeof requests;
export type RequestOf<T extends MessageType> = FromSchema<(typeof requests)[T]>;

export type ProcessInfo = FromSchema<typeof processInfoSchema>;
export type ProcessStateName = ProcessInfo["state"];
export type ModuleInfo = FromSchema<typeof moduleInfoSchema>;
export type FerryEvent = FromSchema<typeof eventSchema>;
export type CallRequest = RequestOf<"call">;
export type ModuleBundle = FromSchema<typeof moduleBundleSchema>;
export type LogRecord = FromSchema<typeof logRecordSchema>;
export type LogStream = LogRecord["stream"];

const ok = { type: "object", additionalProperties: false, required: ["ok"], properties: { ok: { type: "boolean", const: true } } } as const;

/** What a balancer policy sees of one node. */
export const nodeLoadSchema = {
  type: "object",
  additionalProperties: false,
  required: ["node", "processes", "utilization", "load", "movable"],
  properties: {
    node: { type: "string" },
    /** Processes running here or about to (starting, arriving, granted here); not those granted away. */
    processes: { type: "integer", minimum: 0 },
    /** Mean event-loop utilization of the executors, 0..1. */
    utilization: { type: "number" },
    /** processes + utilization: what the default policy compares. */
    load: { type: "number" },
    /** Unpinned processes here that have stayed long enough to move. */
    movable: { type: "integer", minimum: 0 },
  },
} as const;

export const balanceGrantSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: { name: { type: ["string", "null"] }, generation: { type: "integer", minimum: 0 } },
} as const;

export const nodeStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["node", "cluster", "runtime", "version", "pid", "uptimeMs", "url", "load", "configError", "configRevision", "store", "storage", "balancer", "modules", "processes"],
  properties: {
    node: { type: "string" },
    cluster: { type: "string" },
    runtime: { type: "string", enum: ["node", "deno"] },
    version: { type: "string" },
    pid: { type: "integer" },
    uptimeMs: { type: "number" },
    url: { type: "string" },
    load: {
      type: "object",
      additionalProperties: false,
      required: ["processes", "running", "executors", "rssBytes", "heapUsedBytes"],
      properties: {
        processes: { type: "integer" },
        running: { type: "integer" },
        executors: { type: "integer" },
        rssBytes: { type: "number" },
        heapUsedBytes: { type: "number" },
      },
    },
    /** Why the last edit of cluster.yaml was refused (the last good config runs), or null. */
    configError: { type: ["string", "null"] },
    /** The revision of the config this node runs (etcd revision, or a hash of the text in local mode). */
    configRevision: { type: "string" },
    /** Where the nodes agree: `local` (one machine or a shared filesystem) or `etcd`. */
    store: { type: "string", enum: ["local", "etcd"] },
    /** Problems with the node's data directory (a journal line skipped, a failing disk), or empty. */
    storage: { type: "array", items: { type: "string" } },
    balancer: {
      type: "object",
      additionalProperties: false,
      required: ["policy", "loads", "decisions", "rounds"],
      properties: {
        policy: { type: "string" },
        /** Balancer rounds completed since the daemon started. */
        rounds: { type: "integer", minimum: 0 },
        loads: { type: "array", items: nodeLoadSchema },
        decisions: { type: "array", items: { type: "string" } },
      },
    },
    modules: { type: "array", items: moduleInfoSchema },
    processes: { type: "array", items: processInfoSchema },
  },
} as const;

export const callResponseSchema = {
  type: "object",
  additionalProperties: false,
  required: ["value", "text", "node"],
  properties: {
    /** The return value as JSON (BigInt as a decimal string, Map as entries…). */
    value: {},
    /** The value as the CLI prints it. */
    text: { type: "string" },
    node: { type: "string" },
  },
} as const;

export const locateResponseSchema = {
  type: "object",
  additionalProperties: false,
  required: ["holds"],
  properties: {
    holds: { type: "boolean" },
    generation: { type: "integer", minimum: 0 },
    state: { type: "string", enum: processStates },
    /** An incoming hand-off of this process is prepared here and awaiting its outcome. */
    inDoubt: { type: "boolean" },
    /** This node is about to start the process fresh. */
    creating: { type: "boolean" },
    /** Size of its latest snapshot here, when known: a large state is pre-copied. */
    stateBytes: { type: "integer", minimum: 0 },
  },
} as const;

export const handoffStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["outcome"],
  properties: {
    outcome: { type: "string", enum: ["committed", "aborted", "pending", "unknown"] },
    generation: { type: "integer", minimum: 0 },
  },
} as const;

/** Travels in the `ferry-handoff` header of a `handoff.begin` answer, whose body is the snapshot. */
export const handoffMetaSchema = {
  type: "object",
  additionalProperties: false,
  required: ["module", "args", "migrations", "preludeMs", "completed"],
  properties: {
    module: { type: "string" },
    args: { type: "array", items: { type: "string" } },
    migrations: { type: "integer", minimum: 0 },
    memoryMb: { type: "integer" },
    /** ms the holder spent before it began suspending (not downtime). */
    preludeMs: { type: "number" },
    /**
     * ms from the holder receiving `begin` to its answer: the requester subtracts it from the
     * round trip it saw, leaving the network's share, half of which the request spent in flight
     * while the process still ran (not downtime).
     */
    serveMs: { type: "number" },
    /** run() had returned: the process moves, but does not run again. */
    completed: { type: "boolean" },
    /** The body is a pre-copy delta (on the requester's base), not a whole snapshot. */
    delta: { type: "boolean" },
  },
} as const;

/** Travels in the `ferry-precopy` header of a `handoff.precopy` answer, whose body is the delta. */
export const precopyRoundSchema = {
  type: "object",
  additionalProperties: false,
  required: ["round", "dirtyBytes", "sentBytes", "totalBytes", "complete", "captureMs"],
  properties: {
    round: { type: "integer", minimum: 0 },
    /** Bytes changed since the round the request named (carried now or left for a later round). */
    dirtyBytes: { type: "integer", minimum: 0 },
    sentBytes: { type: "integer", minimum: 0 },
    totalBytes: { type: "integer", minimum: 0 },
    /** Every changed byte is in this delta. */
    complete: { type: "boolean" },
    /** How long hashing and encoding took on the holder (it takes as long again at the switchover). */
    captureMs: { type: "number", minimum: 0 },
  },
} as const;

/**
 * The head of one frame of a `handoff.batch` answer. The body is a sequence of frames, each a
 * 4-byte big-endian length, this object as JSON, then `bytes` bytes of payload (a begin's
 * snapshot). `i` is the item's index in the request; exactly one of `error` or the item's own
 * answer is present: `meta` (the `ferry-handoff` header of a begin, as JSON text) with `bytes`,
 * or `answer` (the JSON answer of a commit, abort or status).
 */
export const handoffBatchFrameSchema = {
  type: "object",
  additionalProperties: false,
  required: ["i"],
  properties: {
    i: { type: "integer", minimum: 0 },
    meta: { type: "string" },
    bytes: { type: "integer", minimum: 0 },
    answer: { type: "object" },
    error: {
      type: "object",
      additionalProperties: false,
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" }, hint: { type: "string" }, retryable: { type: "boolean" } },
    },
  },
} as const;

/** The answer of `nodes`: which node answered, and every node of its config in file order. */
export const nodesResponseSchema = {
  type: "object",
  additionalProperties: false,
  required: ["cluster", "node", "nodes"],
  properties: {
    cluster: { type: "string" },
    node: { type: "string" },
    nodes: {
      type: "array",
      items: { type: "object", additionalProperties: false, required: ["name", "url"], properties: { name: { type: "string" }, url: { type: "string" } } },
    },
  },
} as const;

/** The answer of `config.migrate`: whether the file changed, and where the YAML had the process. */
export const configMigrateResponseSchema = {
  type: "object",
  additionalProperties: false,
  required: ["process", "from", "to", "changed"],
  properties: { process: { type: "string" }, from: { type: ["string", "null"] }, to: { type: "string" }, changed: { type: "boolean" } },
} as const;

/** What an upgrade did, or (dry run) would do. */
export const upgradeResultSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "node", "from", "to", "ok", "changed", "dryRun"],
  properties: {
    name: { type: "string" },
    node: { type: "string" },
    /** Short content hashes of the version it ran and of the newest one. */
    from: { type: "string" },
    to: { type: "string" },
    /** The new code took (or, dry run, would take) the state. */
    ok: { type: "boolean" },
    /** The process runs other code now (false: already on the newest version, a dry run, or failed). */
    changed: { type: "boolean" },
    dryRun: { type: "boolean" },
    /** Downtime of the swap. */
    ms: { type: "number" },
    error: { type: "string" },
  },
} as const;

/** Error body of every failed request. */
export const errorBodySchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" }, hint: { type: "string" }, retryable: { type: "boolean" } },
    },
  },
} as const;

/** Answer bodies, keyed by message type. `handoff.begin` answers with bytes, described by its header. */
export const responses = {
  status: nodeStatusSchema,
  ps: { type: "array", items: processInfoSchema },
  shutdown: ok,
  call: callResponseSchema,
  reconcile: ok,
  locate: locateResponseSchema,
  "locate.batch": { type: "object", additionalProperties: locateResponseSchema },
  load: nodeLoadSchema,
  "balance.request": balanceGrantSchema,
  "balance.offer": ok,
  "handoff.begin": { description: "application/octet-stream: the snapshot; metadata in the ferry-handoff header" },
  "handoff.commit": ok,
  "handoff.abort": ok,
  "handoff.status": handoffStatusSchema,
  "handoff.batch": { description: "application/octet-stream: one frame per item, in the order the answers are ready (handoffBatchFrameSchema)" },
  "handoff.precopy": { description: "application/octet-stream: the delta; the round in the ferry-precopy header" },
  "handoff.precopy.end": ok,
  "checkpoint.replicate": ok,
  liveness: { type: "object", additionalProperties: false, required: ["storeReachable"], properties: { storeReachable: { type: "boolean" } } },
  "checkpoint.fetch": { description: "application/octet-stream: the replica" },
  "module.fetch": moduleBundleSchema,
  nodes: nodesResponseSchema,
  "config.migrate": configMigrateResponseSchema,
  "process.upgrade": upgradeResultSchema,
  "logs.read": {
    type: "object",
    additionalProperties: false,
    required: ["records", "seq"],
    properties: {
      records: { type: "array", items: logRecordSchema },
      /** The node's last sequence number when it answered: follow with `after` set to it. */
      seq: { type: "integer", minimum: 0 },
    },
  },
  "logs.follow": { description: "application/x-ndjson: log records, the selected ones first, then new ones as they are written" },
} as const satisfies Record<MessageType, unknown>;

export type NodeLoad = FromSchema<typeof nodeLoadSchema>;
export type BalanceGrant = FromSchema<typeof balanceGrantSchema>;
export type NodeStatus = FromSchema<typeof nodeStatusSchema>;
export type CallResponse = FromSchema<typeof callResponseSchema>;
export type LocateResponse = FromSchema<typeof locateResponseSchema>;
export type HandoffStatusResponse = FromSchema<typeof handoffStatusSchema>;
export type HandoffMeta = FromSchema<typeof handoffMetaSchema>;
export type HandoffBatchFrame = FromSchema<typeof handoffBatchFrameSchema>;
export type PrecopyRound = FromSchema<typeof precopyRoundSchema>;
export type ErrorBody = FromSchema<typeof errorBodySchema>;
export type UpgradeResult = FromSchema<typeof upgradeResultSchema>;
export type Ok = FromSchema<typeof ok>;
export type NodesResponse = FromSchema<typeof nodesResponseSchema>;
export type ConfigMigrateResponse = FromSchema<typeof configMigrateResponseSchema>;
export type LogsReadResponse = { records: LogRecord[]; seq: number };
export type LogsQuery = RequestOf<"logs.read">;

/**
 * The success answer of each message type. Spelled out: tsc gives up ("excessively deep") on a
 * FromSchema indexed by a generic type parameter. A message type without a line fails to compile.
 */
export interface Responses {
  status: NodeStatus;
  ps: ProcessInfo[];
  shutdown: Ok;
  call: CallResponse;
  reconcile: Ok;
  locate: LocateResponse;
  "locate.batch": Record<string, LocateResponse>;
  load: NodeLoad;
  "balance.request": BalanceGrant;
  "balance.offer": Ok;
  "handoff.begin": Uint8Array;
  "handoff.commit": Ok;
  "handoff.abort": Ok;
  "handoff.status": HandoffStatusResponse;
  "handoff.batch": Uint8Array;
  "handoff.precopy": Uint8Array;
  "handoff.precopy.end": Ok;
  "checkpoint.replicate": Ok;
  liveness: { storeReachable: boolean };
  "checkpoint.fetch": Uint8Array;
  "module.fetch": ModuleBundle;
  nodes: NodesResponse;
  "config.migrate": ConfigMigrateResponse;
  "process.upgrade": UpgradeResult;
  "logs.read": LogsReadResponse;
  "logs.follow": Uint8Array;
}
export type ResponseOf<T extends MessageType> = Responses[T];
