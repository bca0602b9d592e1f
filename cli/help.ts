/**
 * `--help` text of the parser in argv.ts: usage, what the command does, its commands,
 * positionals and options (type, required, default, choices), examples and the epilogue, laid
 * out in two columns that wrap to the terminal's width.
 *
 * @example
 * ```ts
 * process.stdout.write(renderHelp(parser, ["ps"], options, psCommand));
 * ```
 * @module
 */
import type { HelpSource, OptionSpec } from "./argv-spec.ts";


/**
 * The help of the root (no `module`) or of one command.
 *
 * @example
 * ```ts
 * renderHelp(root, [], root.options);
 * ```
 */
export function renderHelp(parser: HelpSource, path: string[], options: Map<string, OptionSpec>, module?: { command: string; describe: string }): string {
  const name = parser.scriptName;
  const sub = (text: string) => text.replaceAll("$0", name);
  const out: string[] = [];
  if (module) {
    out.push(`${name} ${[...path.slice(0, -1), module.command].join(" ")}`, "", module.describe);
  } else {
    out.push(sub(parser.usageText || `${name} <command> [options]`));
  }
  const commands: Array<[string, string]> = parser.commands.map((c) => [`${name} ${[...path, c.command].join(" ")}`, c.describe]);
  if (!module && parser.completionCommand) commands.push([`${name} ${parser.completionCommand.name}`, parser.completionCommand.describe]);
  if (commands.length) out.push("", "Commands:", ...columns(commands, parser.width));
  const positionals: Array<[string, string]> = parser.positionals.map((p) => [p.name, withTags(p.describe ?? "", [p.array ? "array" : "string", ...(p.required ? ["required"] : [])])]);
  if (positionals.length) out.push("", "Positionals:", ...columns(positionals, parser.width));
  const rows: Array<[string, string]> = [...options].map(([option, spec]) => [flags(option, spec), withTags(spec.describe ?? "", tags(spec))]);
  rows.push(["-h, --help", withTags("Show help", ["boolean"])]);
  if (!module && parser.versionText !== undefined) rows.push(["--version", withTags("Show the version number", ["boolean"])]);
  out.push("", "Options:", ...columns(rows, parser.width));
  if (parser.examples.length) out.push("", "Examples:", ...columns(parser.examples.map(([c, d]) => [sub(c), d]), parser.width));
  if (parser.epilogueText) out.push("", parser.epilogueText);
  return `${out.join("\n")}\n`;
}

function flags(name: string, spec: OptionSpec): string {
  const long = `--${name}`;
  return spec.alias ? (spec.alias.length === 1 ? `-${spec.alias}, ${long}` : `--${spec.alias}, ${long}`) : long;
}

function tags(spec: OptionSpec): string[] {
  const out: string[] = [spec.type ?? "string"];
  if (spec.demandOption) out.push("required");
  if (spec.choices) out.push(`choices: ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}`);
  if (spec.default !== undefined) out.push(`default: ${JSON.stringify(spec.default)}`);
  return out;
}

function withTags(text: string, list: string[]): string {
  return `${text}${text ? "  " : ""}${list.map((t) => `[${t}]`).join(" ")}`;
}

/** Two columns: the left as wide as its widest entry (up to a third of the width), the right wrapped. */
function columns(rows: Array<[string, string]>, width: number): string[] {
  const left = Math.min(Math.max(...rows.map(([l]) => l.length)), Math.floor(width / 3));
  const right = Math.max(20, width - left - 4);
  const lines: string[] = [];
  for (const [l, r] of rows) {
    const wrapped = wrap(r, right);
    const first = l.length > left ? [`  ${l}`, ...wrapped.map((w) => `  ${" ".repeat(left)}  ${w}`)] : [`  ${l.padEnd(left)}  ${wrapped[0] ?? ""}`, ...wrapped.slice(1).map((w) => `  ${" ".repeat(left)}  ${w}`)];
    lines.push(...first);
  }
  return lines;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}
