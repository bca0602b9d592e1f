/**
 * The entry point of `ferry` on both runtimes: `node cli/bin.mjs <args>` and
 * `deno run -A cli/main.ts <args>`. Runs the command line and exits with its status.
 *
 * @example
 * ```sh
 * deno run -A cli/main.ts ps --json
 * ```
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // Answered before the CLI loads, as cli/bin.mjs does on Node.
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
const { main, flushOutput } = await cli();
const status = await main(args);
// Explicit exit: idle keep-alive sockets and timers must not hold a finished command open.
await flushOutput();
process.exit(status);

/**
 * The CLI's code. Deno running these sources takes the built JavaScript when there is some
 * (a third of the start-up), except for the daemon: its process modules resolve `ferry/sdk` to
 * these sources (deno.json), and must share their module instances.
 */
async function cli(): Promise<{ main: (args: string[]) => Promise<number>; flushOutput: () => Promise<void> }> {
  if ("Deno" in globalThis && import.meta.url.endsWith(".ts") && !args.includes("daemon")) {
    try {
      const [run, output] = await Promise.all([import(new URL("../dist/cli/run.js", import.meta.url).href), import(new URL("../dist/cli/output.js", import.meta.url).href)]);
      return { main: run.main, flushOutput: output.flushOutput };
    } catch {
      // Not built: the sources below.
    }
  }
  const [run, output] = await Promise.all([import("./run.ts"), import("./output.ts")]);
  return { main: run.main, flushOutput: output.flushOutput };
}
