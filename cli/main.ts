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
/** Deno's own API, when running there: `--version` needs nothing of the Node compatibility layer. */
const deno = (globalThis as { Deno?: { args: string[]; readTextFileSync(url: URL): string; exit(code: number): never } }).Deno;
const args = deno ? deno.args : globalThis.process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // Answered before the CLI loads, as cli/bin.mjs does on Node.
  // The package root is one folder up from cli/, two from dist/cli/.
  const url = new URL(/\/dist\/cli\/[^/]+$/.test(import.meta.url) ? "../../package.json" : "../package.json", import.meta.url);
  const text = deno ? deno.readTextFileSync(url) : (await import("node:fs")).readFileSync(url, "utf8");
  console.log((JSON.parse(text) as { version: string }).version);
  deno ? deno.exit(0) : globalThis.process.exit(0);
}
const process = (await import("node:process")).default;
const { main, flushOutput } = await cli();
const status = await main(args);
// Explicit exit: idle keep-alive sockets and timers must not hold a finished command open.
await flushOutput();
process.exit(status);

/**
 * The CLI's code. Deno running these sources takes the built JavaScript when there is some
 * (a third of the start-up), except for the daemon: its process modules resolve `ferry/sdk` to
 * these sources (deno.json), and must share their module instances.
 *
 * Every specifier here is computed: Deno loads each module a literal `import("./run.ts")` names,
 * with everything it imports, before the first line runs — every source file of the CLI and the
 * daemon, read and parsed for nothing when the built code is taken (some 20 ms of `ferry ps`).
 */
async function cli(): Promise<{ main: (args: string[]) => Promise<number>; flushOutput: () => Promise<void> }> {
  type Run = typeof import("./run.ts");
  type Output = typeof import("./output.ts");
  const load = <M>(path: string): Promise<M> => import(new URL(path, import.meta.url).href) as Promise<M>;
  if ("Deno" in globalThis && import.meta.url.endsWith(".ts") && !args.includes("daemon")) {
    try {
      const [run, output] = await Promise.all([load<Run>("../dist/cli/run.js"), load<Output>("../dist/cli/output.js")]);
      return { main: run.main, flushOutput: output.flushOutput };
    } catch {
      // Not built: the sources below.
    }
  }
  // This module's own extension: `.ts` from the sources, `.js` once built.
  const extension = import.meta.url.slice(import.meta.url.lastIndexOf("."));
  const [run, output] = await Promise.all([load<Run>(`./run${extension}`), load<Output>(`./output${extension}`)]);
  return { main: run.main, flushOutput: output.flushOutput };
}
