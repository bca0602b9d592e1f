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
const { main } = await import("./run.ts");
const { flushOutput } = await import("./output.ts");
const status = await main(args);
// Explicit exit: idle keep-alive sockets and timers must not hold a finished command open.
await flushOutput();
process.exit(status);
