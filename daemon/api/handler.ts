/**
 * The daemon's HTTP API as one web-standard handler, `(req: Request) => Promise<Response>`,
 * independent of any server: the Node and Deno adapters only feed it requests, and tests call it
 * directly. Routes: `POST /v1/<type>` (JSON body validated against `schemas/api.schema.ts`,
 * dispatched to `routes[type]`), `GET /v1/events[?follow=1]` (NDJSON), `GET /metrics` (Prometheus
 * text) and `GET /healthz`, the one route that needs no secret (and names no process).
 *
 * @example
 * ```ts
 * const handler = createHandler(context);
 * const res = await handler(new Request("http://x/v1/ps", { method: "POST", headers: { authorization: `Bearer ${secret}` }, body: "{}" }));
 * ```
 * @module
 */
import { describeError, failureOf, FerryError, isFerryError } from "../errors.ts";
import { authorized } from "./auth.ts";
import { isMessageType, validateRequest } from "./validate.ts";
import { routes } from "./routes.ts";
import { BYTES_REQUEST_HEADER } from "./client.ts";
import type { RouteContext } from "./routes.ts";
import { uiResponse } from "./ui.ts";
import { bufferedResponse, isResponse, jsonResponse } from "./lazy-response.ts";
import { allowOrigin, nodeOrigins, pageOrigins, preflight } from "./cors.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/prometheus.ts";

export type Handler = (req: Request) => Promise<Response>;

/** Largest JSON request body accepted. */
export const MAX_JSON_BYTES = 1024 * 1024;

export function errorResponse(error: unknown): Response {
  const ferry = isFerryError(error) ? error : new FerryError("internal", describeError(error));
  const body = { error: { code: ferry.code, message: ferry.message, ...(ferry.hint ? { hint: ferry.hint } : {}), retryable: ferry.retryable } };
  return jsonResponse(body, { status: failureOf(ferry.code).http });
}

async function readJson(req: Request): Promise<unknown> {
  const length = Number(req.headers.get("content-length") ?? 0);
  if (length > MAX_JSON_BYTES) throw new FerryError("payload_too_large", `Request body of ${length} bytes exceeds ${MAX_JSON_BYTES}`);
  const text = await req.text();
  if (text.length > MAX_JSON_BYTES) throw new FerryError("payload_too_large", `Request body exceeds ${MAX_JSON_BYTES} bytes`);
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new FerryError("bad_request", "Request body is not valid JSON");
  }
}

const bytesRequests = new Set<string>(["checkpoint.replicate"]);

function parseHeader(value: string | null): unknown {
  if (!value) throw new FerryError("bad_request", `Request lacks its "${BYTES_REQUEST_HEADER}" header`);
  try {
    return JSON.parse(value);
  } catch {
    throw new FerryError("bad_request", `The "${BYTES_REQUEST_HEADER}" header is not valid JSON`);
  }
}

async function readBytes(req: Request, limit: number): Promise<Uint8Array> {
  const length = Number(req.headers.get("content-length") ?? 0);
  if (length > limit) throw new FerryError("payload_too_large", `Request body of ${length} bytes exceeds ${limit}`);
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > limit) throw new FerryError("payload_too_large", `Request body exceeds ${limit} bytes`);
  return bytes;
}

/** 200 while the node serves, 503 while it starts or stops; says nothing else. */
function health(ctx: RouteContext): Response {
  const status = ctx.health();
  return jsonResponse({ status }, { status: status === "serving" ? 200 : 503, headers: { "cache-control": "no-store" } });
}

/** Builds the API handler for one node. */
export function createHandler(ctx: RouteContext): Handler {
  const api = apiHandler(ctx);
  return async (req) => {
    // The web page's files and the browser's preflights come before the secret: neither reveals anything.
    const origins = originsOf(ctx.node.loaded.config.nodes);
    const page = uiResponse(req, origins.nodes);
    if (page) return await page.catch(errorResponse);
    if (req.method === "OPTIONS") return preflight(req, origins.pages);
    return allowOrigin(req, await api(req), origins.pages);
  };
}

/** Origins by config: worked out once per config read, not for every request. */
const originsByConfig = new WeakMap<object, { nodes: string[]; pages: string[] }>();

/** Where the page connects (the nodes' origins) and where it may be served from (`pageOrigins`). */
function originsOf(nodes: Readonly<Record<string, { url: string }>>): { nodes: string[]; pages: string[] } {
  let origins = originsByConfig.get(nodes);
  if (!origins) {
    const own = nodeOrigins(nodes);
    origins = { nodes: own, pages: pageOrigins(own) };
    originsByConfig.set(nodes, origins);
  }
  return origins;
}

function apiHandler(ctx: RouteContext): Handler {
  return async (req) => {
    try {
      const url = new URL(req.url);
      if (url.pathname === "/healthz" && (req.method === "GET" || req.method === "HEAD")) return health(ctx);
      if (!authorized(req, ctx.node.loaded.secret)) {
        throw new FerryError("unauthorized", "Missing or wrong cluster secret", { hint: "send Authorization: Bearer <cluster.secret>" });
      }
      if (url.pathname === "/metrics" && req.method === "GET") return bufferedResponse(ctx.metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
      const match = /^\/v1\/([a-z.]+)$/.exec(url.pathname);
      if (!match) throw new FerryError("not_found", `No endpoint ${req.method} ${url.pathname}`);
      const type = match[1]!;
      if (type === "events" && req.method === "GET") return routes.events(ctx, url.searchParams.get("follow") === "1", req.signal);
      if (req.method !== "POST" || !isMessageType(type)) throw new FerryError("not_found", `No endpoint ${req.method} ${url.pathname}`);
      // A message that carries bytes (a checkpoint replica) sends its JSON part in a header.
      const carriesBytes = bytesRequests.has(type);
      const body = validateRequest(type, carriesBytes ? parseHeader(req.headers.get(BYTES_REQUEST_HEADER)) : await readJson(req));
      const bytes = carriesBytes ? await readBytes(req, ctx.node.settings.maxTransferMb * 1024 * 1024) : undefined;
      const name = (body as { name?: unknown }).name;
      if (typeof name === "string") ctx.node.trace.mark("api", type, name);
      const handler = routes.messages[type] as (ctx: RouteContext, body: unknown, signal: AbortSignal, bytes?: Uint8Array) => Promise<unknown>;
      const result = await handler(ctx, body, req.signal, bytes);
      return isResponse(result) ? result : jsonResponse(result);
    } catch (error) {
      if (!isFerryError(error)) console.error("ferry: internal error:", error);
      return errorResponse(error);
    }
  };
}
