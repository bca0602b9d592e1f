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
import { describeError, errorCodes, failureOf, isFerryError } from "../daemon/errors.ts";

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

/** Bad command line: the parser's message plus where to look. Exit status 2. */
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

/** What each exit status means beyond the error codes that map to it. */
const exitMeaning: Record<number, string> = {
  0: "success",
  1: "failed (other errors)",
  2: "bad command line or cluster.yaml",
  3: "a node is unreachable or busy (try again)",
  4: "no such process, node or method",
  5: "timed out",
  6: "refused (wrong secret or TLS identity)",
  7: "conflict with another change (look, then try again)",
};

/**
 * The exit statuses `ferry` ends with and the error codes behind each, generated from the failure
 * table in `daemon/errors.ts` (the `--help` epilogue).
 *
 * @example
 * ```ts
 * exitCodeTable().split("\n")[1]; // "  0  success"
 * ```
 */
export function exitCodeTable(): string {
  const byStatus = new Map<number, string[]>([[0, []], [1, []], [2, ["usage"]]]);
  for (const code of errorCodes) {
    const status = failureOf(code).exit;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const rows = [...byStatus].sort(([a], [b]) => a - b).map(([status, codes]) => {
    const meaning = exitMeaning[status] ?? "failed";
    return wrap(`  ${status}  ${meaning}${codes.length ? `: ${codes.join(", ")}` : ""}`, 90, "     ");
  });
  return ["Exit status (and the error codes behind it):", ...rows].join("\n");
}

/** Breaks a line at spaces before `width`, continuing with `indent` (a plain wrap would not indent). */
function wrap(line: string, width: number, indent: string): string {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const at = rest.lastIndexOf(" ", width);
    if (at <= indent.length) break;
    out.push(rest.slice(0, at));
    rest = indent + rest.slice(at + 1);
  }
  return [...out, rest].join("\n");
}
