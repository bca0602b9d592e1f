/**
 * Node adapter: serves a web-standard handler with `node:http` (see `http-server.ts`).
 * @module
 */
import process from "node:process";
import { serveNodeHttp } from "./http-server.ts";
import type { Platform } from "./platform.ts";

export const nodePlatform: Platform = {
  name: "node",
  version: process.versions.node,
  serve: serveNodeHttp,
};
