/**
 * Every `ferry` command, in the order `ferry --help` lists them, each loaded only when needed: a
 * command line naming one command loads that command's code alone (and what it imports), so
 * `ferry ps` does not pay for the daemon, the supervisor or the YAML editor. `--help`, completion
 * and a word that is no command load them all, to list them.
 *
 * @example
 * ```ts
 * const parser = await withCommands(yargs(args), args);
 * ```
 * @module
 */
import type { Argv } from "../argv.ts";
import type { Command, GlobalArgs } from "../command.ts";
import { importBeside } from "../../daemon/install.ts";

type Loader = () => Promise<Command<GlobalArgs>>;

/** Each command's module, imported on demand (by a computed specifier: see `importBeside`). */
const loaders: Record<string, Loader> = {
  up: async () => cast((await importBeside<typeof import("./up.ts")>(import.meta.url, "./up")).upCommand),
  down: async () => cast((await importBeside<typeof import("./down.ts")>(import.meta.url, "./down")).downCommand),
  status: async () => cast((await importBeside<typeof import("./status.ts")>(import.meta.url, "./status")).statusCommand),
  ps: async () => cast((await importBeside<typeof import("./ps.ts")>(import.meta.url, "./ps")).psCommand),
  describe: async () => cast((await importBeside<typeof import("./describe.ts")>(import.meta.url, "./describe")).describeCommand),
  migrate: async () => cast((await importBeside<typeof import("./migrate.ts")>(import.meta.url, "./migrate")).migrateCommand),
  create: async () => cast((await importBeside<typeof import("./create.ts")>(import.meta.url, "./create")).createCommand),
  rm: async () => cast((await importBeside<typeof import("./rm.ts")>(import.meta.url, "./rm")).rmCommand),
  call: async () => cast((await importBeside<typeof import("./call.ts")>(import.meta.url, "./call")).callCommand),
  events: async () => cast((await importBeside<typeof import("./events.ts")>(import.meta.url, "./events")).eventsCommand),
  logs: async () => cast((await importBeside<typeof import("./logs.ts")>(import.meta.url, "./logs")).logsCommand),
  upgrade: async () => cast((await importBeside<typeof import("./upgrade.ts")>(import.meta.url, "./upgrade")).upgradeCommand),
  validate: async () => cast((await importBeside<typeof import("./validate.ts")>(import.meta.url, "./validate")).validateCommand),
  daemon: async () => cast((await importBeside<typeof import("./daemon.ts")>(import.meta.url, "./daemon")).daemonCommand),
  service: async () => cast((await importBeside<typeof import("./service.ts")>(import.meta.url, "./service")).serviceCommand),
};

/** The command names, for "unknown command" messages. */
export const commandNames: readonly string[] = Object.keys(loaders);

/** Global options that take a value: the word after one is not the command. */
const valued = new Set(["--config"]);

/**
 * The command a command line names, if it names one: the first word that is no option or value.
 *
 * @example
 * ```ts
 * commandOf(["--config", "x.yaml", "ps", "--json"]); // "ps"
 * ```
 */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return undefined;
    if (valued.has(arg)) i++;
    else if (!arg.startsWith("-")) return Object.hasOwn(loaders, arg) ? arg : undefined;
  }
  return undefined;
}

/**
 * Adds the command `args` names to a parser, or every command when it names none.
 *
 * @example
 * ```ts
 * const parser = await withCommands(yargs(args).options(globalOptions), args);
 * ```
 */
export async function withCommands(parser: Argv<GlobalArgs>, args: readonly string[]): Promise<Argv<GlobalArgs>> {
  const named = commandOf(args);
  const modules = await Promise.all((named ? [named] : commandNames).map((name) => loaders[name]!()));
  for (const module of modules) parser = parser.command(module);
  return parser;
}

/** Command types differ per argument shape; the parser only needs the common one. */
function cast<A>(command: Command<A>): Command<GlobalArgs> {
  return command as unknown as Command<GlobalArgs>;
}
