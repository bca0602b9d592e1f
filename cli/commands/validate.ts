/**
 * `ferry validate`: checks cluster.yaml (syntax, schema, node and module references) and every
 * module in the processes folder, reporting each problem as `file:line:col: message (hint)`, the
 * form editors and terminals turn into links.
 *
 * @example
 * ```sh
 * ferry validate && ferry up
 * ```
 * @module
 */
import { homedir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { type ConfigIssue, formatIssue, isFerryError } from "../../daemon/errors.ts";
import { loadClusterConfig } from "../../daemon/config/load.ts";
import { checkModules } from "../../daemon/modules/check.ts";
import { type Command, type GlobalArgs } from "../command.ts";
import { Exit } from "../exit.ts";
import { print, printJson } from "../output.ts";

/**
 * The `validate` command: exit status 2 when there is any problem.
 *
 * @example
 * ```ts
 * yargs(argv).command(validateCommand);
 * ```
 */
/**
 * Where `validate` keeps the modules it compiled, by content: the user's cache folder
 * (`$XDG_CACHE_HOME`, else `~/.cache`), so the project gets no new files and a module not edited
 * since the last run is not compiled again.
 */
function compiledCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "ferry", "compiled");
}

export const validateCommand: Command<GlobalArgs> = {
  command: "validate",
  describe: "Check cluster.yaml and the process modules; problems carry file:line:col",
  builder: (y) => y.example("$0 validate", "Check cluster.yaml and processes/; problems as file:line:col").example("$0 validate --json", "The problems as JSON"),
  handler: async (args) => {
    const shown = relative(process.cwd(), args.config) || args.config;
    let issues: ConfigIssue[] = [];
    let summary: { nodes: number; processes: number; modules: number } | undefined;
    try {
      const loaded = await loadClusterConfig(args.config);
      issues = await checkModules(loaded.processesDir, { cacheDir: compiledCacheDir() });
      summary = {
        nodes: Object.keys(loaded.config.nodes).length,
        processes: Object.keys(loaded.config.processes).length,
        modules: loaded.modules.size,
      };
    } catch (error) {
      // Checked by shape: the loader's ConfigError may come from another module instance.
      if (!isFerryError(error) || !("issues" in error) || !Array.isArray(error.issues)) throw error;
      issues = error.issues as ConfigIssue[];
    }
    issues = issues.map((i) => ({ ...i, file: relative(process.cwd(), i.file) || i.file }));

    if (args.json) printJson({ valid: issues.length === 0, file: shown, ...summary, issues });
    else if (issues.length === 0 && summary) {
      print(`${shown} is valid: ${count(summary.nodes, "node")}, ${count(summary.processes, "process", "processes")}, ${count(summary.modules, "module")}`);
    }
    if (issues.length > 0) {
      // Each problem is its own line, on stderr like every failure; nothing else to add after.
      if (!args.json) process.stderr.write(issues.map((i) => formatIssue(i) + "\n").join(""));
      throw new Exit(2);
    }
  },
};

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
