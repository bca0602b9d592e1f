/**
 * The parts of `node:http` Ferry uses, taken with `process.getBuiltinModule` rather than an ES
 * import. Importing a built-in as an ES module evaluates every one of its lazy exports, and from
 * Node 22 on `node:http`'s `WebSocket` loads undici, Node's fetch implementation: some 10 MiB
 * more at its peak and 12 ms more for every command that talks to a node, on Node 24 here.
 *
 * @example
 * ```ts
 * import { Agent, request } from "../builtins/http.ts";
 * request({ host: "127.0.0.1", port: 7101, path: "/healthz", agent: new Agent({ keepAlive: true }) }).end();
 * ```
 * @module
 */
import process from "node:process";

export const { Agent, createServer, request } = process.getBuiltinModule("node:http");
