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

/**
 * Writes one line (or several) to stdout.
 *
 * @example
 * ```ts
 * print("cluster.yaml is valid");
 * ```
 */
export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
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
  process.stderr.write(`ferry: warning: ${message}\n`);
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
  process.stderr.write(`ferry: ${message}\n`);
}

/**
 * Resolves once everything written so far reached the OS, so `process.exit` cannot cut off
 * output that is still queued (pipes are asynchronous on some platforms).
 *
 * @example
 * ```ts
 * await flushOutput();
 * process.exit(code);
 * ```
 */
export async function flushOutput(): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map((stream) =>
    new Promise<void>((resolve) => {
      if (!stream.write("", () => resolve())) stream.once("drain", () => resolve());
    })
  ));
}
