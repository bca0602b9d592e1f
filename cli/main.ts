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
import process from "node:process";
import { main } from "./run.ts";
import { flushOutput } from "./output.ts";

const status = await main(process.argv.slice(2));
// Explicit exit: idle keep-alive sockets and timers must not hold a finished command open.
await flushOutput();
process.exit(status);
