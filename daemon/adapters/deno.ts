/**
 * Deno adapter: serves a web-standard handler with Deno's `node:http` (see `http-server.ts`).
 *
 * Not `Deno.serve`: as of Deno 2.9 it has no header, body or idle timeout and no connection limit,
 * exposes no connection to a program that would add them (`Deno.serveHttp` is gone), and drains an
 * unread request body before closing, however slowly it comes. Deno's `node:http` (llhttp on
 * native TCP since 2.7.13) has Node's `headersTimeout`, `requestTimeout`, `keepAliveTimeout` and
 * `maxConnections`, at the price of some CPU per request.
 * @module
 */
import { serveNodeHttp } from "./http-server.ts";
import type { Platform } from "./platform.ts";

const deno = (globalThis as unknown as { Deno?: { version: { deno: string } } }).Deno;

export const denoPlatform: Platform = {
  name: "deno",
  version: deno?.version.deno ?? "unknown",
  serve: serveNodeHttp,
};
