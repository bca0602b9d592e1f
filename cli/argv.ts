/**
 * The command-line parser of `ferry`: commands with positionals and options, declared with the
 * builder calls yargs made familiar (`positional`, `option`, `example`, `check`, `command`), but
 * only as much of them as Ferry uses. It loads in a fraction of a millisecond, where yargs and its
 * terminal-layout dependencies cost a command some 50 ms of its start-up.
 *
 * Parsing is strict: an unknown option or a surplus word is a usage error, as is a missing
 * required positional or option, a value outside its choices or a number that is not one.
 * `--no-<flag>` sets a boolean to false; `--` ends the options (what follows is `args["--"]`);
 * an option named with dashes is also given in camelCase (`--dry-run` → `dryRun`).
 *
 * @example
 * ```ts
 * await new Argv<GlobalArgs>(["ps", "--json"], "ferry")
 *   .option("json", { type: "boolean", default: false, describe: "Machine-readable output" })
 *   .command({ command: "ps", describe: "List the processes", handler: (args) => show(args) })
 *   .parseAsync();
 * ```
 * @module
 */
import process from "node:process";
import type { AnyCommand, FailHandler, OptionSpec, ParsedArgs, PositionalSpec } from "./argv-spec.ts";
import { renderHelp } from "./help.ts";

export type { AnyCommand, FailHandler, OptionSpec, ParsedArgs, PositionalSpec } from "./argv-spec.ts";

/** One command: its usage (`migrate <process> <node>`), what it does, its options and its work. */
export interface CommandModule<T = unknown, U = T> {
  command: string;
  describe: string;
  builder?: (y: Argv<T>) => unknown;
  handler: (args: U) => void | Promise<void>;
}


/**
 * Candidates for the value of the positional or option `name` of the command `command` (its
 * path: `["migrate"]`, `["service", "install"]`), given the option values and the positionals
 * typed so far (by name). An empty list leaves the word to the shell (file names).
 */
export type ValueCompleter = (
  name: string,
  typed: { command: readonly string[]; given: ReadonlyMap<string, string>; positionals: ReadonlyMap<string, string> },
) => readonly string[] | Promise<readonly string[]>;

interface Positional extends PositionalSpec {
  name: string;
  required: boolean;
}

/**
 * A parser (the root) or a command's parser while its builder runs. The type parameter only
 * documents the arguments' shape; values are checked at parse time against the declarations.
 */
export class Argv<T = unknown> {
  readonly options = new Map<string, OptionSpec>();
  readonly positionals: Positional[] = [];
  readonly commands: CommandModule<unknown, unknown>[] = [];
  readonly examples: Array<[string, string]> = [];
  readonly checks: Array<(args: ParsedArgs) => unknown> = [];
  usageText = "";
  epilogueText = "";
  versionText: string | undefined;
  completionCommand: { name: string; describe: string } | undefined;
  valueCompleter: ValueCompleter | undefined;
  demanded: string | undefined;
  failHandler: FailHandler | undefined;
  width = 80;
  readonly #args: readonly string[];
  readonly #name: string;

  constructor(args: readonly string[], scriptName: string) {
    this.#args = args;
    this.#name = scriptName;
  }

  /** The name help and examples show in place of `$0`. */
  get scriptName(): string {
    return this.#name;
  }

  positional(name: string, spec: PositionalSpec): Argv<T> {
    const declared = this.positionals.find((p) => p.name === name);
    if (declared) Object.assign(declared, spec, { required: declared.required || spec.demandOption === true });
    return this;
  }

  option(name: string, spec: OptionSpec): Argv<T> {
    this.options.set(name, spec);
    return this;
  }

  example(command: string, description: string): Argv<T> {
    this.examples.push([command, description]);
    return this;
  }

  /** A check of the parsed arguments: throwing (or returning a string or false) is a usage error. */
  check(fn: (args: ParsedArgs) => unknown): Argv<T> {
    this.checks.push(fn);
    return this;
  }

  command(module: AnyCommand): Argv<T> {
    this.commands.push(module as unknown as CommandModule<unknown, unknown>);
    return this;
  }

  demandCommand(_count: number, message: string): Argv<T> {
    this.demanded = message;
    return this;
  }

  usage(text: string): Argv<T> {
    this.usageText = text;
    return this;
  }

  epilogue(text: string): Argv<T> {
    this.epilogueText = text;
    return this;
  }

  version(text: string): Argv<T> {
    this.versionText = text;
    return this;
  }

  /** A `<name>` command printing a shell completion script (bash and zsh). */
  completion(name: string, describe: string): Argv<T> {
    this.completionCommand = { name, describe };
    return this;
  }

  /**
   * Where completion finds the values of positionals and options that have no `choices`: called
   * with the positional's or option's name (`process`, `node`…), the command, and the option
   * values and positionals typed so far.
   *
   * @example
   * ```ts
   * parser.completeValues((name) => (name === "node" ? ["alpha", "beta"] : []));
   * ```
   */
  completeValues(completer: ValueCompleter): Argv<T> {
    this.valueCompleter = completer;
    return this;
  }

  wrap(columns: number): Argv<T> {
    this.width = columns;
    return this;
  }

  fail(handler: FailHandler): Argv<T> {
    this.failHandler = handler;
    return this;
  }

  /**
   * Parses the arguments given to the constructor and runs the command they name.
   *
   * @example
   * ```ts
   * await parser.parseAsync();
   * ```
   */
  async parseAsync(): Promise<void> {
    await run(this as Argv<unknown>, [...this.#args], [], new Map(), (text) => process.stdout.write(text));
  }
}

type Print = (text: string) => void;

/** Runs `parser` (the root, or a command's, with the options it inherits) on `tokens`. */
async function run(parser: Argv<unknown>, tokens: string[], path: string[], inherited: Map<string, OptionSpec>, print: Print): Promise<void> {
  const fail = (message: string): never => {
    if (parser.failHandler) return parser.failHandler(message, undefined);
    throw new Error(message);
  };
  const options = new Map([...inherited, ...parser.options]);
  const known = knownFlags(options);
  if (path.length === 0 && tokens[0] === "--get-completions") {
    print((await completions(parser, tokens.slice(2))).map((w) => `${w}\n`).join(""));
    return;
  }
  const wantsHelp = asksHelp(tokens);
  const word = firstWord(tokens, known, options);
  if (parser.commands.length > 0 || parser.completionCommand) {
    if (word !== undefined) {
      const module = parser.commands.find((c) => commandName(c) === tokens[word]);
      const rest = [...tokens.slice(0, word), ...tokens.slice(word + 1)];
      if (module) return runCommand(parser, module, rest, [...path, tokens[word]!], options, print, fail);
      if (parser.completionCommand && tokens[word] === parser.completionCommand.name && path.length === 0) {
        print(completionScript(parser.scriptName));
        return;
      }
      return fail(`Unknown argument: ${tokens[word]}`);
    }
    if (wantsHelp) return void print(renderHelp(parser, path, options));
    if (path.length === 0 && tokens.includes("--version") && parser.versionText !== undefined) return void print(`${parser.versionText}\n`);
    if (parser.demanded) return fail(parser.demanded);
  }
}

async function runCommand(
  parent: Argv<unknown>,
  module: CommandModule<unknown, unknown>,
  tokens: string[],
  path: string[],
  inherited: Map<string, OptionSpec>,
  print: Print,
  fail: (message: string) => never,
): Promise<void> {
  const child = commandParser(parent, module, tokens);
  const options = new Map([...inherited, ...child.options]);
  if (child.commands.length > 0) {
    const word = firstWord(tokens, knownFlags(options), options);
    const sub = word === undefined ? undefined : child.commands.find((c) => commandName(c) === tokens[word]);
    if (sub && word !== undefined) return runCommand(child, sub, [...tokens.slice(0, word), ...tokens.slice(word + 1)], [...path, tokens[word]!], options, print, fail);
    if (asksHelp(tokens)) return void print(renderHelp(child, path, options, module));
    return fail(word === undefined ? (child.demanded ?? "Missing command") : `Unknown argument: ${tokens[word]}`);
  }
  if (asksHelp(tokens)) return void print(renderHelp(child, path, options, module));
  const args = parseTokens(tokens, options, child.positionals, fail);
  args._ = path;
  for (const check of child.checks) {
    let verdict: unknown;
    try {
      verdict = check(args);
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error));
    }
    if (verdict === false) return fail("Invalid arguments");
    if (typeof verdict === "string") return fail(verdict);
  }
  await module.handler(args);
}

/** The parser of `module`'s own positionals, options and subcommands, as its builder declares them. */
function commandParser(parent: Argv<unknown>, module: CommandModule<unknown, unknown>, tokens: string[]): Argv<unknown> {
  const child = new Argv<unknown>(tokens, parent.scriptName);
  child.failHandler = parent.failHandler;
  child.width = parent.width;
  for (const part of module.command.split(/\s+/).slice(1)) {
    const match = /^([<[])([^\]>.]+)(\.\.\.)?[\]>]$/.exec(part);
    if (match) child.positionals.push({ name: match[2]!, required: match[1] === "<", array: match[3] !== undefined });
  }
  module.builder?.(child);
  return child;
}

/** Option values and positionals out of `tokens`, checked against their declarations. */
function parseTokens(tokens: string[], options: Map<string, OptionSpec>, positionals: Positional[], fail: (message: string) => never): ParsedArgs {
  const args: ParsedArgs = { _: [] };
  const words: string[] = [];
  const byFlag = knownFlags(options);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === "--") {
      args["--"] = tokens.slice(i + 1);
      break;
    }
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) {
      words.push(token);
      continue;
    }
    const eq = token.indexOf("=");
    const flag = eq > 0 ? token.slice(0, eq) : token;
    let name = byFlag.get(flag);
    let negated = false;
    if (name === undefined && flag.startsWith("--no-")) {
      const positive = byFlag.get(`--${flag.slice(5)}`);
      if (positive !== undefined && typeOf(options.get(positive)!) === "boolean") [name, negated] = [positive, true];
    }
    if (name === undefined) return fail(`Unknown argument: ${flag.replace(/^-+/, "")}`);
    const spec = options.get(name)!;
    let raw: string | undefined;
    if (typeOf(spec) === "boolean") {
      if (eq > 0) raw = token.slice(eq + 1);
      set(args, name, negated ? false : raw === undefined ? true : raw !== "false");
      continue;
    }
    if (eq > 0) raw = token.slice(eq + 1);
    else if (i + 1 < tokens.length && tokens[i + 1] !== "--") raw = tokens[++i];
    if (raw === undefined) return fail(`Not enough arguments following: ${name}`);
    set(args, name, convert(name, spec, raw, fail));
  }
  // Positionals in order; an array one takes the rest.
  for (const p of positionals) {
    if (p.array) set(args, p.name, words.splice(0));
    else if (words.length) set(args, p.name, words.shift());
  }
  if (words.length) return fail(`Unknown argument${words.length > 1 ? "s" : ""}: ${words.join(", ")}`);
  const needed = positionals.filter((p) => p.required).length;
  const got = positionals.filter((p) => p.required && args[p.name] !== undefined).length;
  if (got < needed) return fail(`Not enough non-option arguments: got ${got}, need at least ${needed}`);
  for (const [name, spec] of options) {
    if (args[name] === undefined && spec.default !== undefined) set(args, name, spec.default);
    if (args[name] === undefined && spec.demandOption) return fail(`Missing required argument: ${name}`);
  }
  return args;
}

function convert(name: string, spec: OptionSpec, raw: string, fail: (message: string) => never): unknown {
  if (spec.choices && !spec.choices.includes(raw)) {
    return fail(`Invalid values: Argument: ${name}, Given: "${raw}", Choices: ${spec.choices.map((c) => `"${c}"`).join(", ")}`);
  }
  if (spec.type === "number") {
    const value = Number(raw);
    if (raw.trim() === "" || Number.isNaN(value)) return fail(`Invalid number for --${name}: "${raw}"`);
    return value;
  }
  return raw;
}

function typeOf(spec: OptionSpec): "string" | "number" | "boolean" {
  return spec.type ?? "string";
}

/** Sets a value under its name and, for a dashed name, its camelCase twin. */
function set(args: ParsedArgs, name: string, value: unknown): void {
  args[name] = value;
  if (name.includes("-")) args[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
}

/** Every spelling of every option (`--name`, `-a` for a one-letter alias) → its name. */
function knownFlags(options: Map<string, OptionSpec>): Map<string, string> {
  const flags = new Map<string, string>([["--help", "help"], ["-h", "help"]]);
  for (const [name, spec] of options) {
    flags.set(`--${name}`, name);
    if (spec.alias) flags.set(spec.alias.length === 1 ? `-${spec.alias}` : `--${spec.alias}`, name);
  }
  return flags;
}

/** Index of the first word that is neither an option nor an option's value. */
function firstWord(tokens: readonly string[], flags: Map<string, string>, options: Map<string, OptionSpec>): number | undefined {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === "--") return undefined;
    if (!token.startsWith("-")) return i;
    const name = token.includes("=") ? undefined : flags.get(token);
    const spec = name === undefined ? undefined : options.get(name);
    if (spec && typeOf(spec) !== "boolean") i++;
  }
  return undefined;
}

/** `--help` or `-h` before any `--`. */
function asksHelp(tokens: readonly string[]): boolean {
  const end = tokens.indexOf("--");
  return (end < 0 ? tokens : tokens.slice(0, end)).some((t) => t === "--help" || t === "-h");
}

/** A command's name: the first word of its usage. */
export function commandName(module: Pick<CommandModule, "command">): string {
  return module.command.split(/\s+/)[0] ?? "";
}

/**
 * Words completing the last of `typed` (the words after the script name, the last one being the
 * word under the cursor, maybe empty): a command or subcommand name, a flag of the command typed
 * so far, an option's choices, or the values the root's completer knows for a positional or an
 * option (a process name after `migrate`, a node after `--node`…).
 */
async function completions(root: Argv<unknown>, typed: string[]): Promise<string[]> {
  const current = typed.at(-1) ?? "";
  let parser = root;
  let options = new Map(root.options);
  let flags = knownFlags(options);
  let positional = 0;
  const command: string[] = [];
  const given = new Map<string, string>();
  const positionals = new Map<string, string>();
  let valueOf: string | undefined; // the option whose value the cursor is on
  for (let i = 0; i < typed.length - 1; i++) {
    const word = typed[i]!;
    if (word === "--") return [];
    const flag = flags.get(word);
    if (flag !== undefined) {
      if (typeOf(options.get(flag) ?? {}) === "boolean") continue;
      if (i + 1 === typed.length - 1) valueOf = flag;
      else given.set(flag, typed[++i]!);
      continue;
    }
    if (word.startsWith("-")) {
      const eq = word.indexOf("=");
      const name = eq > 0 ? flags.get(word.slice(0, eq)) : undefined;
      if (name !== undefined) given.set(name, word.slice(eq + 1));
      continue;
    }
    if (parser === root && word === root.completionCommand?.name) return [];
    const module = parser.commands.find((c) => commandName(c) === word);
    if (module) {
      command.push(word);
      parser = commandParser(parser, module, []);
      options = new Map([...options, ...parser.options]);
      flags = knownFlags(options);
      positional = 0;
      positionals.clear();
    } else {
      const spec = parser.positionals[positional];
      if (spec && !spec.array) positionals.set(spec.name, word);
      positional++;
    }
  }
  const matching = (words: readonly string[]) => [...new Set(words)].filter((w) => w.startsWith(current));
  const values = async (name: string, spec: { choices?: readonly string[] }): Promise<readonly string[]> =>
    spec.choices ?? (await root.valueCompleter?.(name, { command, given, positionals })) ?? [];
  if (valueOf !== undefined) {
    const spec = options.get(valueOf) ?? {};
    const comma = current.lastIndexOf(",");
    if (!spec.list || comma < 0) return matching(await values(valueOf, spec));
    // The items typed so far stay; the last one is completed among those not listed yet.
    const head = current.slice(0, comma + 1);
    const listed = new Set(head.split(","));
    return matching((await values(valueOf, spec)).filter((item) => !listed.has(item)).map((item) => head + item));
  }
  if (current.startsWith("-")) {
    // A boolean that is on by default is turned off by its `--no-` form (`migrate --no-wait`).
    const negations = [...options].filter(([, spec]) => typeOf(spec) === "boolean" && spec.default === true).map(([name]) => `--no-${name}`);
    return matching([...flags.keys(), ...negations].filter((f) => f.startsWith("--")));
  }
  if (parser.commands.length > 0 || (parser === root && root.completionCommand)) {
    return matching([...parser.commands.map(commandName), ...(parser === root && root.completionCommand ? [root.completionCommand.name] : [])]);
  }
  const spec = parser.positionals[positional] ?? parser.positionals.find((p) => p.array);
  return spec ? matching(await values(spec.name, {})) : [];
}

function completionScript(name: string): string {
  return `###-begin-${name}-completions-###
# ${name} command completion: add this to ~/.bashrc (or ~/.zshrc), or run \`${name} completion >> ~/.bashrc\`.
_${name}_completions() {
  local words
  words=$(${name} --get-completions "\${COMP_WORDS[@]}" 2>/dev/null)
  COMPREPLY=( $(compgen -W "$words" -- "\${COMP_WORDS[COMP_CWORD]}") )
}
if [ -n "$ZSH_VERSION" ]; then autoload -U +X bashcompinit && bashcompinit; fi
complete -o default -F _${name}_completions ${name}
###-end-${name}-completions-###
`;
}
