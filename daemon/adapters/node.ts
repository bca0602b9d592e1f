/**
 * Node adapter: serves a web-standard handler with `node:http`.
 * @module
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import process from "node:process";
import type { Platform, Server, ServeOptions } from "./platform.ts";

const MAX_BUFFERED_BODY = 2 * 1024 * 1024;

function toRequest(req: IncomingMessage, body: Uint8Array | undefined, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  return new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers,
    ...(body ? { body } : {}),
    signal,
  });
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  if (req.method === "GET" || req.method === "HEAD") return undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    // The handler rejects oversized bodies; this only keeps a flood from being buffered.
    if (total > MAX_BUFFERED_BODY) return new Uint8Array(total);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  res.writeHead(response.status, headers);
  if (!response.body) return void res.end();
  const reader = response.body.getReader();
  const closed = new Promise<void>((resolve) => res.once("close", resolve));
  let finished = false;
  void closed.then(() => {
    if (!finished) void reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        await Promise.race([new Promise((resolve) => res.once("drain", resolve)), closed]);
        if (res.destroyed) return;
      }
    }
    finished = true;
    res.end();
  } catch {
    res.destroy();
  }
}

export const nodePlatform: Platform = {
  name: "node",
  version: process.versions.node,
  serve(handler, options: ServeOptions): Promise<Server> {
    const server = createServer((req, res) => {
      const controller = new AbortController();
      res.once("close", () => controller.abort());
      void (async () => {
        const body = await readBody(req);
        const response = await handler(toRequest(req, body, controller.signal));
        await send(res, response);
      })().catch(() => res.destroy());
    });
    server.keepAliveTimeout = 5000;
    let closing: Promise<void> | undefined;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => {
        server.off("error", reject);
        const address = server.address();
        resolve({
          port: typeof address === "object" && address ? address.port : options.port,
          close() {
            closing ??= new Promise<void>((done) => {
              server.close(() => done());
              server.closeAllConnections();
            });
            return closing;
          },
        });
      });
    });
  },
};
