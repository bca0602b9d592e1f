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

type Loader = () => Promise<Command<GlobalArgs>>;

/** Each command's module, imported on demand. */
const loaders: Record<string, Loader> = {
  up: async () => cast((await import("./up.ts")).upCommand),
  down: async () => cast((await import("./down.ts")).downCommand),
  status: async () => cast((await import("./status.ts")).statusCommand),
  ps: async () => cast((await import("./ps.ts")).psCommand),
  describe: async () => cast((await import("./describe.ts")).describeCommand),
  migrate: async () => cast((await import("./migrate.ts")).migrateCommand),
  create: async () => cast((await import("./create.ts")).createCommand),
  rm: async () => cast((await import("./rm.ts")).rmCommand),
  call: async () => cast((await import("./call.ts")).callCommand),
  events: async () => cast((await import("./events.ts")).eventsCommand),
  logs: async () => cast((await import("./logs.ts")).logsCommand),
  upgrade: async () => cast((await import("./upgrade.ts")).upgradeCommand),
  validate: async () => cast((await import("./validate.ts")).validateCommand),
  daemon: async () => cast((await import("./daemon.ts")).daemonCommand),
  service: async () => cast((await import("./service.ts")).serviceCommand),
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
