/**
 * The declarations of the command-line parser (argv.ts): what an option, a positional and a
 * command are, and what a handler receives. Apart, so that help.ts can render them without
 * importing the parser.
 *
 * @example
 * ```ts
 * const timeout: OptionSpec = { type: "number", default: 30_000, describe: "Give up after this many ms" };
 * ```
 * @module
 */

/** What an option takes and how it is shown. */
export interface OptionSpec {
  /** @default "string" */
  type?: "string" | "number" | "boolean";
  describe?: string;
  default?: unknown;
  alias?: string;
  choices?: readonly string[];
  demandOption?: boolean;
  /** Applies to every command (declared on the root). */
  global?: boolean;
  /** A comma-separated list (`--node alpha,beta`): completion completes its last item. */
  list?: boolean;
}

/** A positional of a command: named in its command string, `<required>` or `[optional]`, `[rest...]`. */
export interface PositionalSpec {
  type?: "string";
  describe?: string;
  demandOption?: boolean;
  array?: boolean;
}

/** Any command module, whatever its arguments' type (their values are checked at parse time). */
export interface AnyCommand {
  command: string;
  describe: string;
  builder?: (y: never) => unknown;
  handler: (args: never) => void | Promise<void>;
}

/** A usage error: the message only; the caller adds the way out. */
export type FailHandler = (message: string, error: Error | undefined) => never;

/** Parsed arguments: option and positional values by name, plus `_` (the command path) and `--`. */
export type ParsedArgs = Record<string, unknown> & { _: string[]; "--"?: string[] };

/** What help shows of a parser (argv.ts's `Argv` is one). */
export interface HelpSource {
  readonly scriptName: string;
  readonly usageText: string;
  readonly epilogueText: string;
  readonly versionText: string | undefined;
  readonly completionCommand: { name: string; describe: string } | undefined;
  readonly commands: readonly { command: string; describe: string }[];
  readonly positionals: readonly (PositionalSpec & { name: string; required: boolean })[];
  readonly examples: readonly [string, string][];
  readonly width: number;
}
