/**
 * Typed errors shared by the daemon and the CLI. Each carries a `code` from a literal union and a
 * user-facing one-line message. One table ({@link failureOf}) says, per code, which HTTP status the
 * API answers with, which exit status the CLI ends with, and whether trying again may succeed, so
 * callers ask the error (`error.retryable`) instead of keeping lists of codes.
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

/** What a failure means to each of its audiences. */
export interface Failure {
  /** HTTP status of the API's error answer. */
  http: number;
  /** Exit status of the CLI. */
  exit: number;
  /** Trying the same thing again later may succeed (a move in progress, a node restarting). */
  retryable: boolean;
}

const failures = {
  config_invalid: { http: 400, exit: 2, retryable: false },
  config_not_found: { http: 400, exit: 2, retryable: false },
  unauthorized: { http: 401, exit: 6, retryable: false },
  bad_request: { http: 400, exit: 2, retryable: false },
  not_found: { http: 404, exit: 4, retryable: false },
  payload_too_large: { http: 413, exit: 1, retryable: false },
  process_not_found: { http: 404, exit: 4, retryable: false },
  method_not_found: { http: 404, exit: 4, retryable: false },
  method_failed: { http: 422, exit: 1, retryable: false },
  /** A retried call had already run, and its answer was not kept: it is not run twice. */
  answer_not_kept: { http: 410, exit: 1, retryable: false },
  process_failed: { http: 422, exit: 1, retryable: false },
  module_not_found: { http: 422, exit: 1, retryable: false },
  module_invalid: { http: 422, exit: 1, retryable: false },
  not_serializable: { http: 422, exit: 1, retryable: false },
  snapshot_corrupt: { http: 422, exit: 1, retryable: false },
  checkpoint_missing: { http: 422, exit: 1, retryable: false },
  /** New code could not take over a process's state (load, restore, upgrade() or resume() failed). */
  upgrade_failed: { http: 422, exit: 1, retryable: false },
  suspend_timeout: { http: 503, exit: 5, retryable: true },
  stale_generation: { http: 409, exit: 7, retryable: true },
  conflict: { http: 409, exit: 7, retryable: true },
  /** The process is between nodes, or its node is starting or stopping: ask again shortly. */
  unavailable: { http: 503, exit: 3, retryable: true },
  /** The node may have lost its claim (lease lapsed, fenced): it runs no step until it knows. */
  fenced: { http: 503, exit: 3, retryable: true },
  unreachable: { http: 502, exit: 3, retryable: true },
  /**
   * A node's TLS certificate was not the one the config trusts (wrong CA, name or pinned
   * fingerprint), or it does not speak TLS: fixing the config or the certificate is needed.
   */
  tls_failed: { http: 502, exit: 6, retryable: false },
  timeout: { http: 504, exit: 5, retryable: true },
  /** The client did not send its request in time (a stalled or too slow sender). */
  request_timeout: { http: 408, exit: 5, retryable: true },
  executor_failed: { http: 500, exit: 1, retryable: true },
  /** The node's data directory refused a write (disk full, read-only, I/O error). */
  storage_failed: { http: 507, exit: 1, retryable: true },
  internal: { http: 500, exit: 1, retryable: false },
} as const satisfies Record<string, Failure>;

export type ErrorCode = keyof typeof failures;

/** Every code, for validating codes that crossed a wire. */
export const errorCodes: readonly ErrorCode[] = Object.keys(failures) as ErrorCode[];

/**
 * The HTTP status, exit status and retryability of a code.
 *
 * @example
 * ```ts
 * failureOf("unreachable"); // { http: 502, exit: 3, retryable: true }
 * ```
 */
export function failureOf(code: ErrorCode): Failure {
  return failures[code];
}

/** A code that came over a wire; unknown ones become "internal". */
export function toErrorCode(value: unknown): ErrorCode {
  return typeof value === "string" && Object.hasOwn(failures, value) ? (value as ErrorCode) : "internal";
}

const marker = Symbol.for("ferry.error");

export interface FerryErrorOptions {
  /** What the user can do about it; appended to the message on one line. */
  hint?: string;
  cause?: unknown;
  /** Overrides the code's default retryability (e.g. a conflict that cannot resolve itself). */
  retryable?: boolean;
}

export class FerryError extends Error {
  override name = "FerryError";
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly [marker] = true;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? failures[code].retryable;
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

/** Whether trying again may help: a FerryError says so itself; anything else is a bug, final. */
export function isRetryable(value: unknown): boolean {
  return isFerryError(value) && value.retryable;
}

/**
 * How a request refused for a field its schema does not have names it: the API's validator
 * writes it, and {@link refusedUnknownField} reads it (the API client's `newFields`).
 *
 * @example
 * ```ts
 * unknownField("callId"); // 'unknown field "callId"'
 * ```
 */
export function unknownField(field: string): string {
  return `unknown field "${field}"`;
}

/**
 * Whether `error` is a daemon's refusal of a request for carrying `field`, which its release does
 * not know: the request did nothing there, and may be sent again without the field.
 *
 * @example
 * ```ts
 * refusedUnknownField(error, "callId"); // true: send the message again without `callId`
 * ```
 */
export function refusedUnknownField(error: unknown, field: string): boolean {
  return isFerryError(error) && error.code === "bad_request" && error.message.endsWith(unknownField(field));
}

/** A one-line description of any thrown value, for logs and `ps`. */
export function describeError(value: unknown): string {
  if (isFerryError(value)) return value.userMessage;
  if (value instanceof Error) return `${value.name === "Error" ? "" : value.name + ": "}${value.message}`;
  return String(value);
}
