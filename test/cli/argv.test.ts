import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Argv, type ParsedArgs } from "../../cli/argv.ts";
import { renderHelp } from "../../cli/help.ts";

/** Parses `args` with one command `cmd <name> [rest...]` and returns what its handler got, or the usage error. */
async function parse(args: string[]): Promise<ParsedArgs | string> {
  let got: ParsedArgs | undefined;
  try {
    await new Argv(args, "ferry")
      .option("config", { type: "string", default: "./cluster.yaml", global: true })
      .option("json", { type: "boolean", default: false, global: true })
      .command({
        command: "cmd <name> [rest...]",
        describe: "A command",
        builder: (y: Argv) =>
          y
            .positional("name", { type: "string", describe: "A name" })
            .option("wait", { type: "boolean", default: true })
            .option("dry-run", { type: "boolean", default: false })
            .option("timeout", { type: "number", default: 30 })
            .option("output", { alias: "o", choices: ["json", "yaml"] })
            .check((a) => (a.name === "bad" ? "name must not be bad" : true)),
        handler: (a: ParsedArgs) => void (got = a),
      })
      .demandCommand(1, "Missing command")
      .fail((message) => {
        throw new Error(message);
      })
      .parseAsync();
  } catch (error) {
    return (error as Error).message;
  }
  return got!;
}

test("positionals, options, defaults, negation, camelCase twins and what follows --", async () => {
  const a = await parse(["--config", "x.yaml", "cmd", "n1", "r1", "r2", "--no-wait", "--dry-run", "--timeout=5", "-o", "yaml", "--", "--raw"]);
  assert.ok(typeof a !== "string", String(a));
  if (typeof a === "string") return;
  assert.equal([a.config, a.json, a.name, a.rest, a.wait, a["dry-run"], a.dryRun, a.timeout, a.output, a["--"], a._], ["x.yaml", false, "n1", ["r1", "r2"], false, true, true, 5, "yaml", ["--raw"], ["cmd"]]);
});

test("positionals stay strings: 007 is not a number", async () => {
  const a = await parse(["cmd", "007"]);
  assert.is(typeof a !== "string" && a.name, "007");
});

test("usage errors name what is wrong", async () => {
  assert.is(await parse(["cmd", "n", "--frob"]), "Unknown argument: frob");
  assert.is(await parse(["cmd"]), "Not enough non-option arguments: got 0, need at least 1");
  assert.is(await parse(["cmd", "n", "--timeout", "soon"]), 'Invalid number for --timeout: "soon"');
  assert.is(await parse(["cmd", "n", "-o", "xml"]), 'Invalid values: Argument: output, Given: "xml", Choices: "json", "yaml"');
  assert.is(await parse(["cmd", "bad"]), "name must not be bad");
  assert.is(await parse(["nope"]), "Unknown argument: nope");
  assert.is(await parse([]), "Missing command");
  assert.is(await parse(["cmd", "n", "--timeout"]), "Not enough arguments following: timeout");
});

test("help lists positionals and options with their types, defaults and choices, and the examples", () => {
  const root = new Argv([], "ferry").option("json", { type: "boolean", default: false, describe: "JSON" });
  const child = new Argv([], "ferry")
    .option("output", { alias: "o", choices: ["json", "yaml"], describe: "Format" })
    .example("$0 cmd x", "Do it to x");
  child.positionals.push({ name: "name", required: true, describe: "A name" });
  const text = renderHelp(child, ["cmd"], new Map([...root.options, ...child.options]), { command: "cmd <name>", describe: "A command" });
  assert.match(text, /^ferry cmd <name>\n\nA command\n/);
  assert.match(text, /Positionals:\n {2}name +A name \[string\] \[required\]/);
  assert.match(text, /-o, --output +Format \[string\] \[choices: "json", "yaml"\]/);
  assert.match(text, /--json +JSON \[boolean\] \[default: false\]/);
  assert.match(text, /Examples:\n {2}ferry cmd x +Do it to x/);
});

/** What `ferry --get-completions ferry <typed…>` prints, one word a line, for a small command tree. */
async function complete(...typed: string[]): Promise<{ words: string[]; asked: string[] }> {
  const asked: string[] = [];
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((text: string) => (out.push(text), true)) as typeof process.stdout.write;
  try {
    await new Argv(["--get-completions", "ferry", ...typed], "ferry")
      .option("config", { type: "string", default: "./cluster.yaml", global: true })
      .option("json", { type: "boolean", default: false, global: true })
      .command({
        command: "move <process> <node>",
        describe: "Move",
        builder: (y: Argv) => y.option("wait", { type: "boolean", default: true }).option("output", { alias: "o", choices: ["json", "wide"] }).option("via", { type: "string" }),
        handler: () => {},
      })
      .command({ command: "run", describe: "Run", builder: (y: Argv) => y.option("node", { type: "string", list: true }), handler: () => {} })
      .command({ command: "service <action>", describe: "Service", builder: (y: Argv) => y.command({ command: "install", describe: "Install", builder: (z: Argv) => z.option("node", { type: "string" }), handler: () => {} }), handler: () => {} })
      .completion("completion", "Completion")
      .completeValues((name, { command, given, positionals }) => {
        asked.push(`${command.join(" ")}:${name}:${given.get("config") ?? "-"}:${[...positionals].map(([k, v]) => `${k}=${v}`).join(",")}`);
        return name === "process" ? ["counter", "sorter"] : name === "node" ? ["alpha", "beta"] : [];
      })
      .parseAsync();
  } finally {
    process.stdout.write = write;
  }
  return { words: out.join("").split("\n").filter(Boolean), asked };
}

test("completion offers commands, then a command's own flags, choices and the values its completer knows", async () => {
  assert.equal((await complete("")).words, ["move", "run", "service", "completion"]);
  assert.equal((await complete("se")).words, ["service"]);
  assert.equal((await complete("move", "")).words, ["counter", "sorter"]);
  assert.equal((await complete("move", "counter", "")).words, ["alpha", "beta"]);
  assert.equal((await complete("move", "counter", "b")).words, ["beta"]);
  assert.equal((await complete("move", "counter", "beta", "")).words, [], "no third positional");
  assert.equal((await complete("move", "--")).words.sort(), ["--config", "--help", "--json", "--no-wait", "--output", "--via", "--wait"]);
  assert.equal((await complete("move", "-o", "")).words, ["json", "wide"]);
  assert.equal((await complete("move", "--via", "")).words, [], "a value the completer does not know is left to the shell");
  assert.equal((await complete("service", "")).words, ["install"]);
  assert.equal((await complete("service", "install", "--node", "")).words, ["alpha", "beta"]);
  assert.equal((await complete("completion", "")).words, []);
});

test("completion of a list option completes its last item among those not listed yet", async () => {
  assert.equal((await complete("run", "--node", "")).words, ["alpha", "beta"]);
  assert.equal((await complete("run", "--node", "alpha,")).words, ["alpha,beta"]);
  assert.equal((await complete("run", "--node", "beta,a")).words, ["beta,alpha"]);
  assert.equal((await complete("run", "--node", "alpha,beta,")).words, []);
  assert.equal((await complete("service", "install", "--node", "alpha,")).words, [], "an option that is no list takes one value");
});

test("completion skips option values and tells the completer the command and the options typed", async () => {
  const { words, asked } = await complete("--config", "x.yaml", "move", "--wait", "counter", "--via", "here", "");
  assert.equal(words, ["alpha", "beta"]);
  assert.equal(asked, ["move:node:x.yaml:process=counter"]);
  assert.equal((await complete("move", "counter", "--", "")).words, [], "nothing after --");
});

test.run();
