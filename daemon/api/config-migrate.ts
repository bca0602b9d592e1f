/**
 * `config.migrate`: the web page's move control makes the same edit as `ferry migrate`. The edit
 * itself belongs to the CLI (`cli/yaml-edit.ts`, which keeps the file as the user wrote it and
 * takes turns with other editors under the file's lock); the daemon never imports the CLI, so the
 * `ferry daemon` command hands it in as a {@link ConfigEditor}. After the edit the node re-reads
 * the file the way its watcher does (in multi-machine mode that publishes the edit as a new
 * revision, refused clearly on a conflict), and every node is asked to look at the process now.
 *
 * @example
 * ```ts
 * const answer = await configMigrate(ctx, { process: "counter", node: "beta" });
 * // { process: "counter", from: "alpha", to: "beta", changed: true }
 * ```
 * @module
 */
import type { ConfigMigrateResponse, RequestOf } from "../../schemas/api.schema.ts";
import { FerryError } from "../errors.ts";
import type { NodeState } from "../node/mod.ts";

/** Edits a cluster.yaml keeping its comments and layout; the CLI provides the implementation. */
export interface ConfigEditor {
  /**
   * Points process `name` at `node` in `file`; resolves with whether the file changed. Throws the
   * edit's FerryError (unknown process or node, a result that would not validate).
   */
  setProcessNode(file: string, name: string, node: string): Promise<boolean>;
}

/** What the route needs of the node. */
export interface ConfigMigrateContext {
  node: Pick<NodeState, "node" | "loaded" | "reloadConfig" | "peers">;
  configEditor?: ConfigEditor | undefined;
  reconcile(names?: string[]): void;
}

/** How long a peer may take to hear about the edit; its own watcher catches it anyway. */
const nudgeTimeoutMs = 2_000;

/**
 * Edits cluster.yaml to place `process` on `node`, publishes and nudges; does not wait for the move.
 *
 * @example
 * ```ts
 * await configMigrate(ctx, { process: "counter", node: "beta" });
 * ```
 */
export async function configMigrate(ctx: ConfigMigrateContext, body: RequestOf<"config.migrate">): Promise<ConfigMigrateResponse> {
  const { node, configEditor } = ctx;
  if (!configEditor) {
    throw new FerryError("not_found", `Node "${node.node}" cannot edit cluster.yaml`, {
      hint: "it runs without the CLI's config editor; use `ferry migrate` instead",
    });
  }
  const from = node.loaded.config.processes[body.process]?.node ?? null;
  const changed = await configEditor.setProcessNode(node.loaded.file, body.process, body.node);
  // The watcher's own path: re-read, and in multi-machine mode publish (or refuse on a conflict).
  if (changed) await node.reloadConfig();
  ctx.reconcile([body.process]);
  await Promise.allSettled(node.peers().map((peer) => peer.post("reconcile", { names: [body.process], reload: true }, { timeoutMs: nudgeTimeoutMs })));
  return { process: body.process, from, to: body.node, changed };
}
