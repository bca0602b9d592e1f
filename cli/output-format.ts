/**
 * `-o json|yaml|wide`, the output switch kubectl users reach for: `json` is the same document as
 * `--json`, `yaml` the same data as YAML, `wide` the table with more columns.
 *
 * @example
 * ```ts
 * const builder = (y: Argv<GlobalArgs>) => withOutputOption(y);
 * const format = outputFormat(args); // "table" | "wide" | "json" | "yaml"
 * if (format === "json" || format === "yaml") return printData(value, format);
 * ```
 * @module
 */
import type { Argv } from "./argv.ts";
import { stringify } from "../daemon/config/yaml.ts";
import type { GlobalArgs } from "./command.ts";
import { UsageError } from "./exit.ts";
import { print, printJson } from "./output.ts";

export const outputChoices = ["json", "yaml", "wide"] as const;

/** The options a command with `-o` has. */
export interface OutputArgs extends GlobalArgs {
  output: (typeof outputChoices)[number] | undefined;
}

/** How a result is shown. */
export type OutputFormat = "table" | "wide" | "json" | "yaml";

/**
 * Adds `-o, --output <json|yaml|wide>` to a command.
 *
 * @example
 * ```ts
 * builder: (y) => withOutputOption(y).option("node", { type: "string" })
 * ```
 */
export function withOutputOption<A extends GlobalArgs>(y: Argv<A>): Argv<A & OutputArgs> {
  return y.option("output", {
    alias: "o",
    choices: outputChoices,
    describe: "Output format: json (same as --json), yaml, or wide (more columns)",
  }) as unknown as Argv<A & OutputArgs>;
}

/**
 * The format asked for; `--json` with another `-o` is a usage error.
 *
 * @example
 * ```ts
 * outputFormat({ json: true, output: undefined }); // "json"
 * ```
 */
export function outputFormat(args: Pick<OutputArgs, "json" | "output">): OutputFormat {
  if (args.json && args.output !== undefined && args.output !== "json") {
    throw new UsageError(`--json and -o ${args.output} ask for two formats (see \`ferry --help\`)`);
  }
  return args.json ? "json" : (args.output ?? "table");
}

/**
 * Prints a result as JSON or YAML.
 *
 * @example
 * ```ts
 * printData(processes, "yaml");
 * ```
 */
export function printData(value: unknown, format: "json" | "yaml"): void {
  if (format === "json") printJson(value);
  else print(stringify(value, { lineWidth: 0 }));
}
