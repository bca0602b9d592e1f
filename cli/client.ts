/**
 * Typed HTTP client of the daemon API, as the CLI uses it: {@link NodeClient} talks to one node,
 * {@link ClusterClient} to every node of cluster.yaml at once. Every failure becomes a
 * `FerryError` whose message names the node and URL, so a command can print it as it is.
 *
 * Only web standards (`fetch`, `AbortSignal`, streams) are used: the same code runs on Node and Deno.
 *
 * @example
 * ```ts
 * const cluster = new ClusterClient(await loadClusterConfig("cluster.yaml"));
 * const where = await cluster.locate("counter"); // { node: "alpha", generation: 3, ... } or null
 * ```
 * @module
 */
import type { FromSchema, JSONSchema } from "json-schema-to-ts";
import type {
  CallResponse,
  ErrorBody,
  FerryEvent,
  HandoffStatusResponse,
  LocateResponse,
  MessageType,
  NodeStatus,
  ProcessInfo,
  NodeLoad,
  BalanceGrant,
  requests,
} from "../schemas/api.schema.ts";
import type { ClusterConfig } from "../schemas/cluster.schema.ts";
import { type ErrorCode, FerryError, isFerryError } from "../daemon/errors.ts";

/**
 * The body of `POST /v1/<type>`. Fields with a schema default may be left out: the daemon fills
 * them in when it validates the request.
 */
export type RequestBody<T extends MessageType> = RequestBodies[T];

type Lenient<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;

/**
 * Spelled out per message type: tsc gives up ("excessively deep") on a mapped FromSchema indexed
 * by a generic `T`. A message type added to the schema without a line here fails to compile.
 */
export interface RequestBodies {
  status: Lenient<typeof requests.status>;
  ps: Lenient<typeof requests.ps>;
  shutdown: Lenient<typeof requests.shutdown>;
  call: Lenient<typeof requests.call>;
  reconcile: Lenient<typeof requests.reconcile>;
  locate: Lenient<typeof requests.locate>;
  "locate.batch": Lenient<(typeof requests)["locate.batch"]>;
  load: Lenient<typeof requests.load>;
  "balance.request": Lenient<(typeof requests)["balance.request"]>;
  "balance.offer": Lenient<(typeof requests)["balance.offer"]>;
  "handoff.begin": Lenient<(typeof requests)["handoff.begin"]>;
  "handoff.commit": Lenient<(typeof requests)["handoff.commit"]>;
  "handoff.abort": Lenient<(typeof requests)["handoff.abort"]>;
  "handoff.status": Lenient<(typeof requests)["handoff.status"]>;
}

/** What each message type answers with on success. */
export interface Responses {
  status: NodeStatus;
  ps: ProcessInfo[];
  call: CallResponse;
  locate: LocateResponse;
  "locate.batch": Record<string, LocateResponse>;
  load: NodeLoad;
  "balance.request": BalanceGrant;
  "balance.offer": { ok: true };
  reconcile: { ok: true };
  shutdown: { ok: true };
  "handoff.begin": unknown;
  "handoff.commit": unknown;
  "handoff.abort": unknown;
  "handoff.status": HandoffStatusResponse;
}

/** The success answer to message type `T`. */
export type ResponseOf<T extends MessageType> = Responses[T];

/** Options of one request. */
export interface RequestOptions {
  /**
   * Give up after this long (a `FerryError` with code "timeout").
   * @default 10000
   */
  timeoutMs?: number;
  /** Cancels the request; its reason is thrown as is. */
  signal?: AbortSignal;
}

const defaultTimeoutMs = 10_000;
/** Answers of a fan-out: nodes that take longer are most likely down or wedged. */
const defaultFanOutTimeoutMs = 2_000;

/**
 * Client of one node's daemon.
 *
 * @example
 * ```ts
 * const beta = new NodeClient("beta", "http://127.0.0.1:7102", "change-me");
 * const procs = await beta.post("ps", {}); // ProcessInfo[]
 * ```
 */
export class NodeClient {
  readonly name: string;
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly #secret: string;

  constructor(name: string, url: string, secret: string) {
    this.name = name;
    this.url = url.replace(/\/+$/, "");
    this.#secret = secret;
  }

  /**
   * Sends one API message and returns the node's answer.
   *
   * @example
   * ```ts
   * const { text } = await node.post("call", { name: "counter", method: "get", args: [] });
   * ```
   */
  async post<T extends MessageType>(type: T, body: RequestBody<T>, options: RequestOptions = {}): Promise<ResponseOf<T>> {
    const response = await this.#fetch(`/v1/${type}`, options, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }, true);
    try {
      return (await response.json()) as ResponseOf<T>;
    } catch (error) {
      throw this.#error(error, options) ?? new FerryError("internal", `Node "${this.name}" at ${this.url} answered "${type}" with invalid JSON`, { cause: error });
    }
  }

  /**
   * The node's lifecycle events: the recent ones, then (with `follow`) new ones as they happen,
   * until `signal` aborts or the node closes the stream. The signal ends the iteration quietly.
   *
   * @example
   * ```ts
   * for await (const event of node.events(false)) console.log(event.type, event.process);
   * ```
   */
  async *events(follow: boolean, signal?: AbortSignal): AsyncIterable<FerryEvent> {
    // Only the connection is bounded in time: a followed stream stays open as long as it likes.
    const connect = new AbortController();
    const connectTimer = setTimeout(() => connect.abort(timeoutReason), defaultFanOutTimeoutMs);
    const signals = signal ? [signal, connect.signal] : [connect.signal];
    let response: Response;
    try {
      response = await this.#fetch(`/v1/events${follow ? "?follow=1" : ""}`, { signal: AbortSignal.any(signals) }, { method: "GET" }, false);
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    } finally {
      clearTimeout(connectTimer);
    }
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    try {
      while (true) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (signal?.aborted) return;
          throw this.#error(error, {}) ?? this.unreachable(error);
        }
        if (chunk.done) break;
        buffered += chunk.value;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          const event = parseEvent(line);
          if (event) yield event;
        }
      }
      const last = parseEvent(buffered);
      if (last) yield last;
    } finally {
      // Ends the HTTP response too when the consumer stops early.
      await reader.cancel().catch(() => {});
    }
  }

  /** Calls fetch with the secret and a deadline; maps every failure to a FerryError. */
  async #fetch(path: string, options: RequestOptions, init: RequestInit, timed: boolean): Promise<Response> {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    if (timed) signals.push(AbortSignal.timeout(timeoutMs));
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        ...init,
        headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${this.#secret}` },
        signal: signals.length > 0 ? AbortSignal.any(signals) : null,
      });
    } catch (error) {
      throw this.#error(error, options) ?? this.unreachable(error);
    }
    if (response.ok) return response;
    throw await this.#errorOf(response);
  }

  /** The error of a non-2xx answer: the daemon's own ErrorBody when it sent one. */
  async #errorOf(response: Response): Promise<FerryError> {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (response.status === 401) {
      const detail = isErrorBody(body) ? `: ${body.error.message}` : "";
      return new FerryError("unauthorized", `Node "${this.name}" at ${this.url} refused the cluster secret${detail}`, {
        hint: "check cluster.secret or FERRY_SECRET",
      });
    }
    if (isErrorBody(body)) {
      // The daemon speaks the same ErrorCode union; an unknown code still maps to exit status 1.
      const { code, message, hint } = body.error;
      return new FerryError(code as ErrorCode, message, hint === undefined ? {} : { hint });
    }
    return new FerryError("internal", `Node "${this.name}" at ${this.url} answered HTTP ${response.status}`, {
      hint: "is another program listening on that port?",
    });
  }

  /** Timeouts and caller aborts; undefined for anything else (a network failure). */
  #error(error: unknown, options: RequestOptions): unknown {
    if (isFerryError(error)) return error;
    if (options.signal?.aborted) return options.signal.reason;
    const name = error instanceof Error || error instanceof DOMException ? error.name : "";
    if (name === "TimeoutError" || error === timeoutReason) {
      return new FerryError("timeout", `Node "${this.name}" at ${this.url} did not answer within ${options.timeoutMs ?? defaultTimeoutMs} ms`, {
        hint: "is its daemon overloaded or stuck? see its log",
        cause: error,
      });
    }
    return undefined;
  }

  /** The error of a node that cannot be reached at all. */
  unreachable(cause?: unknown): FerryError {
    return new FerryError("unreachable", `Cannot reach node "${this.name}" at ${this.url}`, {
      hint: "is its daemon running? start it with `ferry up`",
      cause,
    });
  }
}

const timeoutReason = new DOMException("The connection timed out", "TimeoutError");

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = (value as { error: unknown }).error;
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string" &&
    typeof (error as { message?: unknown }).message === "string";
}

function parseEvent(line: string): FerryEvent | undefined {
  const trimmed = line.trim();
  if (trimmed === "") return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    if (typeof value === "object" && value !== null && "type" in value && "node" in value) return value as FerryEvent;
  } catch {
    // A torn or foreign line is skipped: one bad line must not end a long `--follow`.
  }
  return undefined;
}

/** One node's outcome in a fan-out. */
export type NodeResult<R> =
  | { node: string; url: string; ok: true; value: R }
  | { node: string; url: string; ok: false; error: FerryError };

/** Where a process runs, as its holder reports it. */
export interface Location {
  node: string;
  generation: number;
  state: NonNullable<LocateResponse["state"]> | null;
}

/** What a {@link ClusterClient} needs of a loaded cluster.yaml (a `LoadedConfig` fits). */
export interface ClusterTarget {
  config: ClusterConfig;
  /** FERRY_SECRET or cluster.secret, already resolved. */
  secret: string;
}

/**
 * Client of every node of a cluster.
 *
 * @example
 * ```ts
 * const cluster = new ClusterClient(loaded);
 * for (const r of await cluster.fanOut("status", {})) console.log(r.node, r.ok ? r.value.version : r.error.message);
 * ```
 */
export class ClusterClient {
  /** Node clients in cluster.yaml order. */
  readonly nodes: readonly NodeClient[];
  readonly config: ClusterConfig;

  constructor(target: ClusterTarget) {
    this.config = target.config;
    this.nodes = Object.entries(target.config.nodes).map(([name, spec]) => new NodeClient(name, spec.url, target.secret));
  }

  /**
   * The client of one node; a `FerryError` ("not_found") listing the nodes for an unknown name.
   *
   * @example
   * ```ts
   * const beta = cluster.node("beta");
   * ```
   */
  node(name: string): NodeClient {
    const found = this.nodes.find((n) => n.name === name);
    if (!found) {
      throw new FerryError("not_found", `No node named "${name}" in cluster.yaml`, {
        hint: `known nodes: ${this.nodes.map((n) => n.name).join(", ")}`,
      });
    }
    return found;
  }

  /**
   * Sends one message to every node in parallel; never throws, one result per node in
   * cluster.yaml order. The timeout is short by default so that a dead node costs little.
   *
   * @example
   * ```ts
   * const results = await cluster.fanOut("ps", {});
   * const answered = results.filter((r) => r.ok);
   * ```
   */
  fanOut<T extends MessageType>(type: T, body: RequestBody<T>, options: RequestOptions = {}): Promise<NodeResult<ResponseOf<T>>[]> {
    const timeoutMs = options.timeoutMs ?? defaultFanOutTimeoutMs;
    return this.each((node) => node.post(type, body, { ...options, timeoutMs }));
  }

  /**
   * Runs `fn` against every node in parallel and collects results and FerryErrors per node.
   *
   * @example
   * ```ts
   * const results = await cluster.each((node) => node.post("status", {}, { timeoutMs: 500 }));
   * ```
   */
  async each<R>(fn: (node: NodeClient) => Promise<R>, nodes: readonly NodeClient[] = this.nodes): Promise<NodeResult<R>[]> {
    return await Promise.all(nodes.map(async (node): Promise<NodeResult<R>> => {
      try {
        return { node: node.name, url: node.url, ok: true, value: await fn(node) };
      } catch (error) {
        const ferryError = isFerryError(error)
          ? error
          : new FerryError("internal", `Request to node "${node.name}" failed: ${String(error)}`, { cause: error });
        return { node: node.name, url: node.url, ok: false, error: ferryError };
      }
    }));
  }

  /**
   * Which node holds `name` now, or null when no reachable node does. A node that is only
   * preparing an incoming hand-off (`inDoubt`) does not count. Throws the first node's error when
   * no node answered at all, since "nowhere" would then be a guess.
   *
   * @example
   * ```ts
   * const where = await cluster.locate("counter");
   * if (where) console.log(`counter runs on ${where.node} (generation ${where.generation})`);
   * ```
   */
  async locate(name: string, options: RequestOptions = {}): Promise<Location | null> {
    const results = await this.fanOut("locate", { name }, options);
    const answered = results.filter((r) => r.ok);
    if (answered.length === 0) {
      const first = results.find((r) => !r.ok);
      if (first && !first.ok) throw first.error;
    }
    let best: Location | null = null;
    for (const r of answered) {
      if (!r.ok || !r.value.holds || r.value.inDoubt) continue;
      const candidate: Location = { node: r.node, generation: r.value.generation ?? 0, state: r.value.state ?? null };
      // Two holders can only be seen mid-commit; the higher generation is the newer truth.
      if (!best || candidate.generation > best.generation) best = candidate;
    }
    return best;
  }
}
