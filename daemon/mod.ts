/**
 * The daemon's public surface.
 *
 * @example
 * ```ts
 * import { runDaemon } from "./daemon/mod.ts";
 * await runDaemon({ configFile: "cluster.yaml", node: "alpha" });
 * ```
 * @module
 */
export { runDaemon } from "./daemon.ts";
export type { DaemonOptions } from "./daemon.ts";
export { assembleNode } from "./assemble.ts";
export type { AssembledNode, AssembleOptions } from "./assemble.ts";
export { NodeState } from "./node/mod.ts";
export { createHandler } from "./api/handler.ts";
export type { Handler } from "./api/handler.ts";
export type { ConfigEditor } from "./api/config-migrate.ts";
export { ApiClient } from "./api/client.ts";
export { FerryError, ConfigError, isFerryError } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export type { ProcessContext, ProcessInstance } from "./sdk/mod.ts";
export { FerryProcess } from "./sdk/mod.ts";
