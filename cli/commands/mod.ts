/**
 * Every `ferry` command, in the order `ferry --help` lists them.
 *
 * @example
 * ```ts
 * const parser = withCommands(yargs(args));
 * ```
 * @module
 */
import type { Argv } from "yargs";
import type { GlobalArgs } from "../command.ts";
import { callCommand } from "./call.ts";
import { createCommand } from "./create.ts";
import { daemonCommand } from "./daemon.ts";
import { describeCommand } from "./describe.ts";
import { downCommand } from "./down.ts";
import { eventsCommand } from "./events.ts";
import { migrateCommand } from "./migrate.ts";
import { psCommand } from "./ps.ts";
import { rmCommand } from "./rm.ts";
import { serviceCommand } from "./service.ts";
import { statusCommand } from "./status.ts";
import { upCommand } from "./up.ts";
import { upgradeCommand } from "./upgrade.ts";
import { validateCommand } from "./validate.ts";

/**
 * Adds all commands to a parser.
 *
 * @example
 * ```ts
 * const parser = withCommands(yargs(args).options(globalOptions));
 * ```
 */
export function withCommands(parser: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return parser
    .command(upCommand)
    .command(downCommand)
    .command(statusCommand)
    .command(psCommand)
    .command(describeCommand)
    .command(migrateCommand)
    .command(createCommand)
    .command(rmCommand)
    .command(callCommand)
    .command(upgradeCommand)
    .command(eventsCommand)
    .command(validateCommand)
    .command(daemonCommand)
    .command(serviceCommand);
}

/** The command names, for "unknown command" messages. */
export const commandNames: readonly string[] = [
  upCommand,
  downCommand,
  statusCommand,
  psCommand,
  describeCommand,
  migrateCommand,
  createCommand,
  rmCommand,
  callCommand,
  upgradeCommand,
  eventsCommand,
  validateCommand,
  daemonCommand,
  serviceCommand,
].map((c) => String(c.command).split(" ")[0] ?? "");
