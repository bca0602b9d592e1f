/**
 * How failures leave the CLI: one line on stderr and an exit status derived from the error's
 * code, so scripts can tell "fix your config" from "start the daemons" from "no such process".
 *
 * @example
 * ```ts
 * exitStatusOf(new FerryError("unreachable", "Cannot reach node \"beta\"")); // 3
 * ```
 * @module
 */
import { describeError, failureOf, isFerryError } from "../daemon/errors.ts";

/**
 * Ends the command with `status` after it already reported why (e.g. `validate` listing its
 * issues); the central handler prints nothing more.
 *
 * @example
 * ```ts
 * throw new Exit(2);
 * ```
 */
export class Exit extends Error {
  override name = "Exit";
  readonly status: number;
  constructor(status: number) {
    super(`exit ${status}`);
    this.status = status;
  }
}

/** Bad command line: yargs' message plus where to look. Exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * The exit status for a thrown value.
 *
 * @example
 * ```ts
 * exitStatusOf(new UsageError("Unknown argument: --nope")); // 2
 * ```
 */
export function exitStatusOf(error: unknown): number {
  if (error instanceof Exit) return error.status;
  if (error instanceof UsageError) return 2;
  if (isFerryError(error)) return failureOf(error.code).exit;
  return 1;
}

/**
 * The one line shown for a thrown value, without the `ferry: ` prefix. Errors that are not
 * FerryErrors are bugs or surprises: their type is kept and `--verbose` suggested.
 *
 * @example
 * ```ts
 * errorLine(new FerryError("timeout", "Node did not answer", { hint: "is it stuck?" })); // "Node did not answer (is it stuck?)"
 * ```
 */
export function errorLine(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (isFerryError(error)) return describeError(error);
  return `${describeError(error)} (run with --verbose for details)`;
}
