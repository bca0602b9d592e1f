/**
 * Typed errors shared by the daemon and the CLI. Each carries a `code` from a literal union and a
 * user-facing one-line message; the CLI prints the message and maps the code to an exit status,
 * the HTTP API maps it to a status and a JSON body.
 *
 * Reloaded modules are new module instances, so errors are recognised by a `Symbol.for` marker
 * (see {@link isFerryError}), never by `instanceof`.
 *
 * @example
 * ```ts
 * throw new FerryError("process_not_found", `No process named "x"`, { hint: "See `ferry ps`." });
 * ```
 * @module
 */

export type ErrorCode =
  | "config_invalid"
  | "config_not_found"
  | "unauthorized"
  | "bad_request"
  | "not_found"
  | "payload_too_large"
  | "process_not_found"
  | "method_not_found"
  | "method_failed"
  | "process_failed"
  | "module_not_found"
  | "module_invalid"
  | "not_serializable"
  | "snapshot_corrupt"
  | "suspend_timeout"
  | "stale_generation"
  | "conflict"
  | "unreachable"
  | "timeout"
  | "executor_failed"
  | "internal";

const marker = Symbol.for("ferry.error");

export interface FerryErrorOptions {
  /** What the user can do about it; appended to the message on one line. */
  hint?: string;
  cause?: unknown;
}

export class FerryError extends Error {
  override name = "FerryError";
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly [marker] = true;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  /** The one line shown to users: message plus hint. */
  get userMessage(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** One positioned problem in a config file. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
  hint?: string;
}

/** cluster.yaml is missing, unparsable or invalid; carries every issue found, first one leading. */
export class ConfigError extends FerryError {
  override name = "ConfigError";
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[], options: FerryErrorOptions = {}) {
    const first = issues[0];
    super(
      "config_invalid",
      first ? formatIssue(first) : "Invalid config",
      { ...options, hint: undefined },
    );
    this.issues = issues;
  }
}

/** `file:line:col: message (hint)` — the format editors and terminals link to. */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return `${where}: ${issue.message}${issue.hint ? ` (${issue.hint})` : ""}`;
}

/** True for any FerryError, including ones thrown by another copy of this module. */
export function isFerryError(value: unknown): value is FerryError {
  return typeof value === "object" && value !== null && marker in value;
}

/** A one-line description of any thrown value, for logs and `ps`. */
export function describeError(value: unknown): string {
  if (isFerryError(value)) return value.userMessage;
  if (value instanceof Error) return `${value.name === "Error" ? "" : value.name + ": "}${value.message}`;
  return String(value);
}
