/**
 * Where the CLI's output goes: results on stdout (human text, or JSON with `--json`), warnings
 * and notes on stderr so that `ferry ps --json | jq` only ever sees JSON.
 *
 * @example
 * ```ts
 * print("counter  running");
 * warn('Cannot reach node "beta" at http://127.0.0.1:7102');
 * ```
 * @module
 */
import process from "node:process";

/** What this module uses of Deno's API. */
interface DenoStdio {
  stdout: { writeSync(bytes: Uint8Array): number; isTerminal(): boolean };
  stderr: { writeSync(bytes: Uint8Array): number };
  consoleSize(): { columns: number };
  exit(code: number): never;
}

/**
 * On Deno, output goes straight to the descriptors: its `process.stdout` writes synchronously
 * all the same, but setting up Node's streams costs every command some 5 ms.
 */
const deno = (globalThis as { Deno?: DenoStdio }).Deno;
const encoder = new TextEncoder();

/** Whether a reader closing the output ends the command (see {@link endQuietlyWhenOutputCloses}). */
let quietWhenOutputCloses = false;

function write(to: "stdout" | "stderr", text: string): void {
  if (!deno) {
    process[to].write(text);
    return;
  }
  const bytes = encoder.encode(text);
  try {
    for (let done = 0; done < bytes.length;) done += deno[to].writeSync(bytes.subarray(done));
  } catch (error) {
    if (quietWhenOutputCloses && (error as Error | undefined)?.name === "BrokenPipe") deno.exit(0);
    throw error;
  }
}

/**
 * Makes a reader that closes the command's output early (`ferry events -f | head -1`) end the
 * command quietly, with status 0, as it ends `cat` or `grep`: the reader has what it wanted.
 * Otherwise the failed write surfaces as an error — on Node an unhandled EPIPE with its stack.
 * The CLI turns this on for every command; `ferry daemon` and `ferry up` turn it off again
 * ({@link keepRunningWhenOutputCloses}): their output going away is no reason to stop processes.
 *
 * @example
 * ```ts
 * endQuietlyWhenOutputCloses();
 * print("one line of many"); // exits with 0 once the reader is gone
 * ```
 */
export function endQuietlyWhenOutputCloses(): void {
  if (quietWhenOutputCloses) return;
  quietWhenOutputCloses = true;
  if (deno) return;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: Error & { code?: string }) => {
      if (quietWhenOutputCloses && error.code === "EPIPE") process.exit(0);
      throw error;
    });
  }
}

/**
 * Undoes {@link endQuietlyWhenOutputCloses}, for a command that must outlive its output.
 *
 * @example
 * ```ts
 * keepRunningWhenOutputCloses(); // ferry daemon: a closed stdout is the log's problem, not the node's
 * ```
 */
export function keepRunningWhenOutputCloses(): void {
  quietWhenOutputCloses = false;
}

/**
 * Writes one line (or several) to stdout.
 *
 * @example
 * ```ts
 * print("cluster.yaml is valid");
 * ```
 */
export function print(text: string): void {
  write("stdout", text.endsWith("\n") ? text : `${text}\n`);
}

/**
 * Writes a value as JSON on stdout: indented for a single document, one line per value for
 * streams (`events --json`), which line-oriented tools expect.
 *
 * @example
 * ```ts
 * printJson({ ok: true });
 * printJson(event, { compact: true });
 * ```
 */
export function printJson(value: unknown, options: { compact?: boolean } = {}): void {
  print(JSON.stringify(value, null, options.compact ? undefined : 2));
}

/**
 * A warning on stderr, `ferry: warning: ...`; the command goes on.
 *
 * @example
 * ```ts
 * warn("node beta did not answer; its processes are missing below");
 * ```
 */
export function warn(message: string): void {
  write("stderr", `ferry: warning: ${message}\n`);
}

/**
 * A note on stderr, `ferry: ...`, for progress and side remarks that are not the result.
 *
 * @example
 * ```ts
 * note("no daemon answered; the change applies when they start");
 * ```
 */
export function note(message: string): void {
  write("stderr", `ferry: ${message}\n`);
}

/**
 * The width of the terminal stdout shows in, or undefined when stdout is no terminal.
 *
 * @example
 * ```ts
 * const width = Math.min(100, terminalColumns() ?? 100);
 * ```
 */
export function terminalColumns(): number | undefined {
  if (!deno) return process.stdout.columns;
  return deno.stdout.isTerminal() ? deno.consoleSize().columns : undefined;
}

/**
 * Resolves once everything written so far reached the OS, so `process.exit` cannot cut off
 * output that is still queued (pipes are asynchronous on some platforms). Deno writes stdout and
 * stderr synchronously, `process.stdout` and `process.stderr` included: nothing is queued there.
 *
 * @example
 * ```ts
 * await flushOutput();
 * process.exit(code);
 * ```
 */
export async function flushOutput(): Promise<void> {
  if (deno) return;
  await Promise.all([process.stdout, process.stderr].map((stream) =>
    new Promise<void>((resolve) => {
      if (!stream.write("", () => resolve())) stream.once("drain", () => resolve());
    })
  ));
}
