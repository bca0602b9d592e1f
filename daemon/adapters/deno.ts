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
  serve(options: { port: number; hostname: string; onListen?: () => void; signal?: AbortSignal }, handler: (req: Request) => Promise<Response>): DenoServer;
}

const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

export const denoPlatform: Platform = {
  name: "deno",
  version: deno?.version.deno ?? "unknown",
  serve(handler, options: ServeOptions): Promise<Server> {
    const controller = new AbortController();
    const server = deno.serve({ port: options.port, hostname: options.hostname, signal: controller.signal, onListen: () => {} }, handler);
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
