/**
 * Deno adapter: serves a web-standard handler with `Deno.serve`.
 * @module
 */
import type { Platform, Server, ServeOptions } from "./platform.ts";

interface DenoServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
  addr: { port: number };
}
interface DenoGlobal {
  version: { deno: string };
  serve(options: { port: number; hostname: string; onListen?: () => void; signal?: AbortSignal }, handler: (req: Request, info: { completed?: Promise<void> }) => Promise<Response>): DenoServer;
}

/**
 * The request the handler sees, with a signal that aborts once the exchange is over (response
 * sent, or the client gone), as on Node. Reading Deno's own `request.signal` prints a deprecation
 * warning about its "legacy abort" (it aborts after every successful response too).
 */
function withOwnSignal(req: Request, completed: Promise<void> | undefined): Request {
  if (!completed) return req;
  const controller = new AbortController();
  const abort = () => controller.abort();
  completed.then(abort, abort);
  return new Request(req.url, { method: req.method, headers: req.headers, body: req.body, signal: controller.signal, duplex: "half" } as RequestInit);
}

const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

export const denoPlatform: Platform = {
  name: "deno",
  version: deno?.version.deno ?? "unknown",
  serve(handler, options: ServeOptions): Promise<Server> {
    const controller = new AbortController();
    const server = deno.serve(
      { port: options.port, hostname: options.hostname, signal: controller.signal, onListen: () => {} },
      (req, info) => handler(withOwnSignal(req, info.completed)),
    );
    let closing: Promise<void> | undefined;
    return Promise.resolve({
      port: server.addr.port,
      close() {
        closing ??= (async () => {
          controller.abort();
          await server.finished.catch(() => {});
        })();
        return closing;
      },
    });
  },
};
