/**
 * `ferry`, the command line of a Ferry cluster, as a function: {@link main} parses the arguments,
 * runs the command and returns the exit status, with no side effect on import. The entry point
 * (`cli/main.ts`) calls it and exits.
 *
 * Errors are handled here and only here: a command throws, this prints one line
 * `ferry: <message> (<hint>)` on stderr (the stack only with `--verbose`) and exits with the
 * status that the error's code maps to (see `exit.ts`).
 *
 * @example
 * ```ts
 * import { main } from "./run.ts";
 * const status = await main(["ps", "--json"]);
 * ```
 * @module
 */
import { join } from "node:path";
import { importBeside, installRoot } from "../daemon/install.ts";
import { readTextFileSync } from "../daemon/files.ts";
import process from "node:process";
import { Argv } from "./argv.ts";
import { commandNames, withCommands } from "./commands/mod.ts";
import type { GlobalArgs } from "./command.ts";
import { errorLine, Exit, exitCodeTable, exitStatusOf, UsageError } from "./exit.ts";
import { endQuietlyWhenOutputCloses, terminalColumns } from "./output.ts";

/**
 * Runs `ferry` with `args` (without the runtime and script) and returns the exit status.
 *
 * @example
 * ```ts
 * const status = await main(["ps", "--json"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  endQuietlyWhenOutputCloses();
  try {
    await (await parser(args)).parseAsync();
    return 0;
  } catch (error) {
    if (!(error instanceof Exit)) {
      process.stderr.write(`ferry: ${errorLine(error)}\n`);
      if (args.includes("--verbose") && error instanceof Error && error.stack) process.stderr.write(`${fullStack(error)}\n`);
    }
    return exitStatusOf(error);
  }
}

async function parser(args: string[]) {
  const base = new Argv<GlobalArgs>(args, "ferry")
    .usage("$0 <command> [options]\n\nRuns and steers a Ferry cluster declared in cluster.yaml.")
    .option("config", {
      type: "string",
      default: process.env.FERRY_CONFIG || "./cluster.yaml",
      describe: "The cluster's config file (env FERRY_CONFIG)",
      global: true,
    })
    .option("json", { type: "boolean", default: false, describe: "Machine-readable output on stdout", global: true })
    .option("verbose", { type: "boolean", default: false, describe: "Show stack traces with errors", global: true });
  return (await withCommands(base as Argv<GlobalArgs>, args))
    .completion("completion", "Print a shell completion script (bash, zsh): ferry completion >> ~/.bashrc")
    .completeValues(async (name, { command, given, positionals }) => {
      const { completionValues } = await importBeside<typeof import("./completion-values.ts")>(import.meta.url, "./completion-values");
      const configFile = given.get("config") ?? (process.env.FERRY_CONFIG || "./cluster.yaml");
      return completionValues(name, { command, configFile, process: positionals.get("process") });
    })
    .example("$0 up", "Run every node of ./cluster.yaml on this machine")
    .example("$0 migrate counter beta", "Move counter to node beta and wait until it runs there")
    .example("$0 ps -o wide --config /srv/ferry/cluster.yaml", "Every process, with more columns")
    .epilogue(exitCodeTable())
    .demandCommand(1, "Missing command")
    .version(version())
    .wrap(Math.min(100, terminalColumns() || 100))
    .fail((message, error) => {
      throw error ?? new UsageError(usageMessage(message, args));
    });
}

/** The parser's message, with the way out added; an unknown first word is called a command. */
function usageMessage(message: string, args: string[]): string {
  const first = args.find((a) => !a.startsWith("-"));
  if (first !== undefined && !commandNames.includes(first) && /^Unknown arguments?:/.test(message)) {
    const near = [...commandNames, "completion"].find((c) => c.startsWith(first.slice(0, 2)) || first.startsWith(c));
    return `Unknown command "${first}" (${near ? `did you mean \`ferry ${near}\`? ` : ""}see \`ferry --help\`)`;
  }
  const command = first !== undefined && commandNames.includes(first) ? `${first} ` : "";
  return `${message.replace(/\s*\n\s*/g, " ")} (see \`ferry ${command}--help\`)`;
}

function version(): string {
  try {
    const pkg: unknown = JSON.parse(readTextFileSync(join(installRoot, "package.json")));
    return typeof pkg === "object" && pkg !== null && "version" in pkg ? String(pkg.version) : "unknown";
  } catch {
    return "unknown";
  }
}

/** The stack, followed by the stacks of its causes: a wrapped network error keeps its origin. */
function fullStack(error: Error): string {
  const parts = [error.stack ?? String(error)];
  let cause: unknown = error.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    parts.push(`Caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join("\n");
}

