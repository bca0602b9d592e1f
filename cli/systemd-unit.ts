/**
 * The systemd unit that runs one node's daemon as a service: the runtime's absolute path and the
 * ferry entry's absolute path (no npx, no PATH lookup at boot), the cluster's folder as working
 * directory, restarts on failure, and a stop that lets the daemon checkpoint its processes.
 *
 * @example
 * ```ts
 * const text = systemdUnit({ node: "alpha", cluster: "demo", configFile: "/srv/ferry/cluster.yaml", command: { command: "/usr/bin/node", args: ["/opt/ferry/cli/bin.mjs", "daemon", "--node", "alpha", "--config", "/srv/ferry/cluster.yaml"] } });
 * ```
 * @module
 */
import { dirname } from "node:path";
import type { CommandLine } from "./daemon-command.ts";

/** What a unit is made of. */
export interface UnitOptions {
  node: string;
  cluster: string;
  /** Absolute path of cluster.yaml; its folder is the working directory. */
  configFile: string;
  /** The daemon's command line, absolute paths. */
  command: CommandLine;
  /** A user unit (`~/.config/systemd/user`) rather than a system one. @default false */
  user?: boolean;
  /** `User=` of a system unit; none (root) when absent. */
  runAs?: string;
  /**
   * How long systemd waits after SIGTERM before killing: the daemon checkpoints every process
   * first, and a suspend may take up to the cluster's deadline. @default 120
   */
  stopTimeoutSec?: number;
}

/**
 * The unit file's name for a node.
 *
 * @example
 * ```ts
 * unitName("alpha"); // "ferry-alpha.service"
 * ```
 */
export function unitName(node: string): string {
  return `ferry-${node}.service`;
}

/**
 * One word of `ExecStart=`: double-quoted when it holds anything systemd would split or expand
 * (`%` specifiers and `$` variables are escaped by doubling).
 *
 * @example
 * ```ts
 * execWord("/opt/my ferry/cli/bin.mjs"); // "\"/opt/my ferry/cli/bin.mjs\""
 * ```
 */
export function execWord(word: string): string {
  const escaped = word.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * The unit's text.
 *
 * @example
 * ```ts
 * systemdUnit(options).includes("Restart=on-failure"); // true
 * ```
 */
export function systemdUnit(options: UnitOptions): string {
  const { node, cluster, configFile, command } = options;
  const exec = [command.command, ...command.args].map(execWord).join(" ");
  const user = options.user === true;
  return [
    `# Node "${node}" of the Ferry cluster "${cluster}", written by \`ferry service install --node ${node}${user ? " --user" : ""}\`.`,
    `# After editing: systemctl${user ? " --user" : ""} daemon-reload`,
    "[Unit]",
    `Description=Ferry daemon, node ${node} of cluster ${cluster}`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    ...(!user && options.runAs ? [`User=${options.runAs}`] : []),
    `WorkingDirectory=${execWord(dirname(configFile))}`,
    `ExecStart=${exec}`,
    ...Object.entries(command.env ?? {}).map(([name, value]) => `Environment=${execWord(`${name}=${value}`)}`),
    "# The secret can stay out of cluster.yaml: FERRY_SECRET=... in a file only the service reads.",
    `# EnvironmentFile=-${user ? "%h/.config/ferry" : "/etc/ferry"}/${node}.env`,
    "Restart=on-failure",
    "RestartSec=2",
    // SIGTERM is the daemon's graceful stop: every process is checkpointed before it exits.
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${options.stopTimeoutSec ?? 120}`,
    "",
    "[Install]",
    `WantedBy=${user ? "default.target" : "multi-user.target"}`,
    "",
  ].join("\n");
}
