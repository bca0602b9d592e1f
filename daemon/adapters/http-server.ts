/**
 * Serves a web-standard handler with `node:http`, bounding what a client can hold without
 * progress: complete headers within `headersTimeoutMs` (else the connection is closed), the whole
 * body within `bodyTimeoutMs` (else 408 and close), `idleTimeoutMs` between kept-alive requests,
 * and at most `maxConnections` at once (the rest are closed on accept).
 *
 * The handler gets the body as a stream and reads it only after checking the secret; a response
 * sent before its request's body fully arrived carries `Connection: close`, so an unread body
 * never keeps a connection open. Deno (since 2.7.13) implements `node:http` with the same parser
 * and the same timeouts, so both runtimes serve through this module.
 *
 * With `tls`, the same server is a `node:https` one (Deno 2.9 implements it too, with the same
 * limits): the handshake gets `headersTimeoutMs` as well, since the header deadline only starts
 * once it is done. `node:https` is loaded only then: a plain-HTTP daemon never loads it, nor TLS.
 * @module
 */
import { createServer } from "../builtins/http.ts";
import process from "node:process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { FerryError } from "../errors.ts";
import { resolveServeOptions } from "./limits.ts";
import type { ServeLimits } from "./limits.ts";
import type { Server, ServeOptions } from "./platform.ts";
import { IncomingRequest } from "./incoming-request.ts";
import { newHeaders } from "../api/plain-headers.ts";
import { requestBody } from "./request-body.ts";
import { sendResponse } from "./send-response.ts";
import { cancelBody } from "../api/lazy-response.ts";

type Handler = (req: Request) => Promise<Response>;

/** The request's headers, read once from the raw list (`req.headers` would build a second copy). */
function headersOf(req: IncomingMessage): Headers {
  const headers = newHeaders();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

function hasBody(method: string, headers: Headers): boolean {
  if (method === "GET" || method === "HEAD") return false;
  return headers.has("transfer-encoding") || Number(headers.get("content-length")) > 0;
}

function errorBody(error: FerryError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) } });
}

/** Answers with `error` and closes the connection, unless an answer has already begun. */
function refuse(res: ServerResponse, status: number, error: FerryError): void {
  if (res.headersSent) return void res.destroy();
  res.shouldKeepAlive = false;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(errorBody(error));
}

function exchange(handler: Handler, limits: ServeLimits, scheme: string, req: IncomingMessage, res: ServerResponse): void {
  let timedOut = false;
  const method = req.method ?? "GET";
  const headers = headersOf(req);
  const body = hasBody(method, headers)
    ? requestBody(req, limits.bodyTimeoutMs, (error) => {
        timedOut = true;
        refuse(res, 408, error);
      })
    : undefined;
  const url = `${scheme}://${headers.get("host") ?? "localhost"}${req.url ?? "/"}`;
  if (!URL.canParse(url)) {
    body?.dispose();
    return refuse(res, 400, new FerryError("bad_request", `Cannot read request "${req.method} ${req.url}": its URL is not valid`));
  }
  const request = new IncomingRequest(url, method, headers, body);
  res.once("close", () => {
    body?.dispose();
    request.exchangeOver();
  });
  handler(request.asRequest()).then(
    (response) => {
      if (timedOut || res.writableEnded) {
        // A stream nobody will read is cancelled, so that its source stops (a buffered body has none).
        cancelBody(response);
        return;
      }
      // An unread or partly sent body would otherwise be drained to keep the connection alive.
      if (!req.complete) res.shouldKeepAlive = false;
      return sendResponse(res, response);
    },
    () => res.destroy(),
  );
}

/**
 * Listens on `options.hostname:options.port` and serves `handler` until `close()`, over HTTPS
 * when `options.tls` is given.
 *
 * @example
 * ```ts
 * const server = await serveNodeHttp(handler, { hostname: "127.0.0.1", port: 0, headersTimeoutMs: 5_000 });
 * await server.close();
 * ```
 */
export function serveNodeHttp(handler: Handler, options: ServeOptions): Promise<Server> {
  const limits = resolveServeOptions(options);
  const common = {
    headersTimeout: limits.headersTimeoutMs,
    // A backstop for the body deadline above, which answers earlier and with a JSON error.
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs,
    // How often expired headers are looked for: the timeout is honoured within a tenth of itself.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 10))),
    keepAliveTimeout: limits.idleTimeoutMs,
    noDelay: true,
  };
  const tls = options.tls;
  const server = tls
    ? process.getBuiltinModule("node:https").createServer({ ...common, cert: tls.cert, key: tls.key, handshakeTimeout: limits.headersTimeoutMs }, (req, res) => exchange(handler, limits, "https", req, res))
    : createServer(common, (req, res) => exchange(handler, limits, "http", req, res));
  // A failed handshake (a plain-HTTP client, a client refusing the certificate) is the client's
  // business; without a listener it would only be logged as a warning on some runtimes.
  if (tls) server.on("tlsClientError", () => {});
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  let closing: Promise<void> | undefined;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(limits.port, limits.hostname, () => {
      server.off("error", reject);
      const address = server.address();
      const served: Server = {
        port: typeof address === "object" && address ? address.port : limits.port,
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      };
      if (tls) {
        const secure = server as ReturnType<typeof import("node:https").createServer>;
        resolve({ ...served, setTls: (next) => secure.setSecureContext({ cert: next.cert, key: next.key }) });
      } else {
        resolve(served);
      }
    });
  });
}
