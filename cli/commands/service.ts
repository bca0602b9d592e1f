/**
 * `ferry service install --node <name> [--print] [--user]`: writes the systemd unit that runs
 * that node's daemon (`/etc/systemd/system/ferry-<node>.service`, or the user's
 * `~/.config/systemd/user/` with `--user`), or prints it with `--print`. The unit runs the daemon
 * with the runtime the node declares (`runtime:` in cluster.yaml), by absolute paths.
 *
 * @example
 * ```sh
 * ferry service install --node alpha --print
 * sudo ferry service install --node alpha && sudo systemctl enable --now ferry-alpha
 * ```
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import process from "node:process";
import type { Argv } from "../argv.ts";
import { FerryError } from "../../daemon/errors.ts";
import { type Command, configPath, type GlobalArgs, openCluster } from "../command.ts";
import { type CommandLine, daemonCommandLine } from "../daemon-command.ts";
import { print, printJson } from "../output.ts";
import { systemdUnit, unitName } from "../systemd-unit.ts";

interface InstallArgs extends GlobalArgs {
  node: string;
  print: boolean;
  user: boolean;
}

const install: Command<InstallArgs> = {
  command: "install",
  describe: "Write the systemd unit that runs one node's daemon",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("node", { type: "string", demandOption: true, describe: "Node name in cluster.yaml" })
      .option("print", { type: "boolean", default: false, describe: "Print the unit instead of writing it" })
      .option("user", { type: "boolean", default: false, describe: "A user unit (~/.config/systemd/user) instead of a system one" })
      .example("$0 service install --node alpha --print", "Show the unit for node alpha")
      .example("sudo $0 service install --node alpha", "Write /etc/systemd/system/ferry-alpha.service")
      .example("$0 service install --node alpha --user", "Write ~/.config/systemd/user/ferry-alpha.service") as unknown as Argv<InstallArgs>,
  handler: async (args) => {
    const { loaded } = await openCluster(args);
    const spec = loaded.config.nodes[args.node];
    if (!spec) {
      throw new FerryError("not_found", `No node named "${args.node}" in cluster.yaml`, { hint: `known nodes: ${Object.keys(loaded.config.nodes).join(", ")}` });
    }
    const configFile = configPath(args);
    const command = absolute(daemonCommandLine(spec.runtime ?? "node", args.node, configFile));
    const text = systemdUnit({
      node: args.node,
      cluster: loaded.config.cluster.name,
      configFile,
      command,
      user: args.user,
      ...(runAs() ? { runAs: runAs()! } : {}),
    });
    const file = join(args.user ? userUnitDir() : "/etc/systemd/system", unitName(args.node));
    if (args.print) {
      if (args.json) printJson({ file, unit: text, written: false });
      else print(text);
      return;
    }
    try {
      await mkdir(join(file, ".."), { recursive: true });
      await writeFile(file, text, { mode: 0o644 });
    } catch (error) {
      throw new FerryError("storage_failed", `Cannot write the unit file "${file}": ${(error as Error).message}`, {
        hint: args.user ? "check the folder's permissions" : "run it with sudo, or pass --user for a user unit, or --print to see it",
        cause: error,
      });
    }
    const systemctl = `systemctl${args.user ? " --user" : ""}`;
    if (args.json) printJson({ file, unit: text, written: true });
    else print(`Wrote ${file}\nStart it now and at boot: ${systemctl} daemon-reload && ${systemctl} enable --now ${unitName(args.node)}`);
  },
};

/** `$XDG_CONFIG_HOME/systemd/user`, or `~/.config/systemd/user`. */
function userUnitDir(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "systemd", "user");
}

/** The user a system unit runs as: whoever ran `sudo`, else the current user unless root. */
function runAs(): string | undefined {
  if (process.env.SUDO_USER) return process.env.SUDO_USER;
  try {
    const me = userInfo();
    return me.uid === 0 ? undefined : me.username;
  } catch {
    return undefined;
  }
}

/** systemd needs an absolute program path; a bare name (`node` under Deno) is looked up on PATH now. */
function absolute(line: CommandLine): CommandLine {
  if (isAbsolute(line.command)) return line;
  const found = (process.env.PATH ?? "").split(delimiter).map((d) => join(d, line.command)).find((p) => isAbsolute(p) && existsSync(p));
  if (!found) throw new FerryError("not_found", `Cannot find "${line.command}" on PATH for the unit's ExecStart`, { hint: "install it, or run this command with it" });
  return { ...line, command: found };
}

/**
 * The `service` command (its one subcommand: `install`).
 *
 * @example
 * ```ts
 * yargs(argv).command(serviceCommand);
 * ```
 */
export const serviceCommand: Command<GlobalArgs> = {
  command: "service <action>",
  describe: "Run a node's daemon as a systemd service",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .command(install)
      .demandCommand(1, "Missing action (install)")
      .example("$0 service install --node alpha --print", "Show the systemd unit for node alpha") as Argv<GlobalArgs>,
  handler: () => {},
};
