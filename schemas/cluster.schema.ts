/**
 * The JSON schema of cluster.yaml: the one source of truth for the config's shape, its defaults
 * (filled in by the validator) and its TypeScript type.
 *
 * @example
 * ```ts
 * import type { ClusterConfig } from "./cluster.schema.ts";
 * const nodeNames = (c: ClusterConfig) => Object.keys(c.nodes);
 * ```
 * @module
 */
import type { FromSchema } from "json-schema-to-ts";

/** Names of the cluster, nodes and processes: they appear in URLs, file names and logs. */
export const namePattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$";
/** A module is a file name in processes/ without its extension. */
export const modulePattern = "^[A-Za-z_$][A-Za-z0-9_$.-]*$";

/** `host:port`, `[ipv6]:port`, or a host alone (the port is then the URL's). */
export const listenPattern = "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_.-]+)(:[0-9]{1,5})?$";
/** SHA-256 of a certificate as `openssl x509 -noout -fingerprint -sha256` prints it, or bare hex. */
export const fingerprintPattern = "^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$";

/** The certificate a node serves its `https://` URL with, and what its clients may pin. */
export const nodeTlsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["cert", "key"],
  properties: {
    cert: { type: "string", minLength: 1, description: "PEM certificate (chain) file, relative to cluster.yaml" },
    key: { type: "string", minLength: 1, description: "PEM private key file, relative to cluster.yaml" },
    fingerprint: {
      type: "string",
      pattern: fingerprintPattern,
      description: "SHA-256 of the certificate: peers and the CLI accept exactly this one (instead of checking the CA)",
    },
  },
} as const;

export const nodeSchema = {
  type: "object",
  additionalProperties: false,
  required: ["url"],
  properties: {
    url: {
      type: "string",
      pattern: "^https?://[^/\\s:]+(:[0-9]{1,5})?/?$",
      description: "Base URL of the node's daemon, e.g. http://127.0.0.1:7101; peers and the CLI use it",
    },
    listen: {
      type: "string",
      pattern: listenPattern,
      description: "Where the daemon listens when it is reached at its URL through NAT or a container, e.g. 0.0.0.0:7101",
    },
    tls: nodeTlsSchema,
    runtime: { type: "string", enum: ["node", "deno"], default: "node" },
  },
} as const;

/** How clients (peers and the CLI) check the certificates of `https://` nodes. */
export const clusterTlsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    ca: {
      type: "string",
      minLength: 1,
      description: "PEM file of the CA that signs the nodes' certificates, relative to cluster.yaml; without it, the system's CAs",
    },
  },
} as const;

export const limitsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    memoryMb: {
      type: "integer",
      minimum: 16,
      maximum: 65536,
      description: "Heap limit; a process with a limit runs in an executor of its own",
    },
  },
} as const;

export const processSchema = {
  type: "object",
  additionalProperties: false,
  required: ["module"],
  properties: {
    module: { type: "string", pattern: modulePattern },
    args: { type: "array", items: { type: "string" }, default: [] },
    node: { type: "string", pattern: namePattern },
    limits: limitsSchema,
    upgrade: {
      type: "string",
      enum: ["auto", "manual"],
      default: "auto",
      description: "auto: a changed module file upgrades the process in place; manual: it waits for `ferry upgrade`",
    },
    maxDowntimeMs: {
      type: "integer",
      minimum: 1,
      maximum: 3600000,
      // Defaults stated, not filled in: a parsed config stays what the file says.
      description: "Downtime a hand-off of a large state aims at (default 100): its state is pre-copied while it runs until what is left to move fits this",
    },
    strict: {
      type: "boolean",
      description: "Default false. true: a hand-off whose pre-copy cannot get under maxDowntimeMs rolls back (and is retried); false: it goes ahead and says the downtime to expect",
    },
  },
} as const;

/** Placement of processes declared without `node:`. Pinned processes are never moved by it. */
export const balancerSchema = {
  type: "object",
  additionalProperties: false,
  default: {},
  properties: {
    policy: {
      type: "string",
      minLength: 1,
      default: "receiver-initiated",
      description: "receiver-initiated, or a module path (relative to cluster.yaml) exporting a policy",
    },
    intervalMs: { type: "integer", minimum: 50, maximum: 3600000, default: 1000 },
    minStayMs: {
      type: "integer",
      minimum: 0,
      maximum: 86400000,
      default: 5000,
      description: "A process moved by the balancer stays at least this long before it moves again",
    },
    minDifference: {
      type: "number",
      minimum: 1,
      maximum: 1000000,
      default: 2,
      description: "Hysteresis: move only when the busier node's load exceeds the other's by this much",
    },
    goneAfterMs: {
      type: "integer",
      minimum: 500,
      maximum: 3600000,
      default: 5000,
      description: "A node silent this long (API down, heartbeat file stale) is gone: its unpinned processes are adopted",
    },
  },
} as const;

/**
 * Multi-machine mode: the nodes agree through etcd v3 (desired config revisions, ownership with
 * generations, node leases, small checkpoints). Absent: the embedded single-machine mode.
 */
export const storeSchema = {
  type: "object",
  additionalProperties: false,
  required: ["etcd"],
  properties: {
    etcd: {
      type: "array",
      minItems: 1,
      items: { type: "string", pattern: "^https?://[^/\\s]+/?$" },
      description: "etcd client endpoints, e.g. http://10.0.0.5:2379",
    },
    /** Keys live under `<prefix>/<cluster name>/`. */
    prefix: { type: "string", minLength: 1, default: "ferry" },
    username: { type: "string", minLength: 1, description: "etcd user (with password)" },
    password: { type: "string", minLength: 1, description: "etcd password; FERRY_ETCD_PASSWORD overrides" },
    ca: { type: "string", minLength: 1, description: "CA file verifying https:// etcd endpoints" },
    cert: { type: "string", minLength: 1, description: "client certificate file for etcd (with key)" },
    key: { type: "string", minLength: 1, description: "client key file for etcd" },
    timeoutMs: { type: "integer", minimum: 100, maximum: 60000, default: 2000, description: "Deadline of one etcd request" },
  },
} as const;

/** The log each node keeps per process (`<dataDir>/<node>/logs/<process>.log`), rotated by size. */
export const logsSchema = {
  type: "object",
  additionalProperties: false,
  default: {},
  properties: {
    maxFileBytes: {
      type: "integer",
      minimum: 4096,
      maximum: 1073741824,
      default: 1048576,
      description: "A process's log file is rotated once the next write would take it past this size",
    },
    files: { type: "integer", minimum: 1, maximum: 100, default: 3, description: "Files kept per process, the current one included" },
  },
} as const;

export const clusterSettingsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "secret"],
  properties: {
    name: { type: "string", pattern: namePattern },
    secret: { type: "string", minLength: 1 },
    dataDir: {
      type: "string",
      minLength: 1,
      default: ".ferry",
      description: "Holds one directory of durable data (journal, checkpoints) per node",
    },
    processesDir: { type: "string", minLength: 1, default: "processes" },
    checkpointIntervalMs: { type: "integer", minimum: 100, maximum: 3600000, default: 5000 },
    suspendDeadlineMs: { type: "integer", minimum: 10, maximum: 600000, default: 5000 },
    handoffTimeoutMs: { type: "integer", minimum: 100, maximum: 3600000, default: 30000 },
    callTimeoutMs: { type: "integer", minimum: 10, maximum: 3600000, default: 10000 },
    executors: {
      type: "integer",
      minimum: 1,
      maximum: 64,
      default: 2,
      description: "Worker threads that host the node's processes",
    },
    executorMemoryMb: { type: "integer", minimum: 32, maximum: 65536, default: 1024 },
    stallMs: {
      type: "integer",
      minimum: 100,
      maximum: 600000,
      default: 5000,
      description: "An executor that does not yield for this long is restarted",
    },
    maxTransferMb: { type: "integer", minimum: 1, maximum: 65536, default: 1024 },
    tlsCheckIntervalMs: {
      type: "integer",
      minimum: 100,
      maximum: 86400000,
      default: 60000,
      description: "How often an https node reads its certificate, key and CA files again, to present a renewed certificate without a restart",
    },
    balancer: balancerSchema,
    logs: logsSchema,
    store: storeSchema,
    tls: clusterTlsSchema,
    insecure: {
      type: "boolean",
      default: false,
      description: "Allows a daemon off loopback to serve plain HTTP or to use a weak secret (shorter than 16 bytes, or change-me)",
    },
  },
} as const;

export const clusterSchema = {
  $id: "https://ferry.dev/schemas/cluster.json",
  type: "object",
  additionalProperties: false,
  required: ["cluster", "nodes"],
  properties: {
    cluster: clusterSettingsSchema,
    nodes: {
      type: "object",
      minProperties: 1,
      propertyNames: { pattern: namePattern },
      additionalProperties: nodeSchema,
    },
    processes: {
      type: "object",
      default: {},
      propertyNames: { pattern: namePattern },
      additionalProperties: processSchema,
    },
  },
} as const;

/** cluster.yaml after validation, defaults filled in. */
export type ClusterConfig = FromSchema<typeof clusterSchema>;
export type ClusterSettings = FromSchema<typeof clusterSettingsSchema>;
export type NodeSpec = FromSchema<typeof nodeSchema>;
export type NodeTls = FromSchema<typeof nodeTlsSchema>;
export type ClusterTls = FromSchema<typeof clusterTlsSchema>;
export type ProcessSpec = FromSchema<typeof processSchema>;
export type BalancerSettings = FromSchema<typeof balancerSchema>;
export type StoreSettings = FromSchema<typeof storeSchema>;
export type LogsSettings = FromSchema<typeof logsSchema>;
