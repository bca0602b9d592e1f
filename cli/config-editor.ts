/**
 * The CLI's cluster.yaml edits, handed to the daemon it starts: the web page's move control
 * (`config.migrate`) then edits the file exactly as `ferry migrate` does, comments and layout
 * kept, under the same lock, validated by the same loader.
 *
 * @example
 * ```ts
 * await runDaemon({ configFile, node: "alpha", configEditor });
 * ```
 * @module
 */
import type { ConfigEditor } from "../daemon/api/config-migrate.ts";
import { editConfigFile, setProcessNode } from "./yaml-edit.ts";

/**
 * Edits through `cli/yaml-edit.ts`.
 *
 * @example
 * ```ts
 * const changed = await configEditor.setProcessNode("/srv/ferry/cluster.yaml", "counter", "beta");
 * ```
 */
export const configEditor: ConfigEditor = {
  async setProcessNode(file, name, node) {
    const { changed } = await editConfigFile(file, (text) => setProcessNode(text, name, node));
    return changed;
  },
};
