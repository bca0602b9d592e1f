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
import { downCommand } from "./down.ts";
import { eventsCommand } from "./events.ts";
import { logsCommand } from "./logs.ts";
import { migrateCommand } from "./migrate.ts";
import { psCommand } from "./ps.ts";
import { rmCommand } from "./rm.ts";
import { statusCommand } from "./status.ts";
import { upCommand } from "./up.ts";
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
    .command(migrateCommand)
    .command(createCommand)
    .command(rmCommand)
    .command(callCommand)
    .command(eventsCommand)
    .command(logsCommand)
    .command(validateCommand)
    .command(daemonCommand);
}

/** The command names, for "unknown command" messages. */
export const commandNames: readonly string[] = [
  upCommand,
  downCommand,
  statusCommand,
  psCommand,
  migrateCommand,
  createCommand,
  rmCommand,
  callCommand,
  eventsCommand,
  logsCommand,
  validateCommand,
  daemonCommand,
].map((c) => String(c.command).split(" ")[0] ?? "");
