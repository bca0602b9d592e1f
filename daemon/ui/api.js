// The page's side of the daemon API: the same endpoints the CLI uses (POST /v1/<type> with a JSON
// body, GET /v1/events?follow=1 as NDJSON), the cluster secret in the Authorization header.

/** An answer of the API that is an error: its code, message and hint, and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

/** A node that did not answer (down, refused, blocked by the browser, or too slow). */
export class Unreachable extends Error {
  constructor(node, cause) {
    super(`Cannot reach node "${node}"`);
    this.name = "Unreachable";
    this.cause = cause;
  }
}

/**
 * Client of one node. `base` is "" for the node serving the page (same origin), else its URL.
 *
 * @example
 * const alpha = new NodeApi("alpha", "", secret);
 * const status = await alpha.post("status", {});
 */
export class NodeApi {
  constructor(name, base, secret) {
    this.name = name;
    this.base = base.replace(/\/+$/, "");
    this.secret = secret;
  }

  /** Sends one message; resolves with the answer, rejects with ApiError or Unreachable. */
  async post(type, body, timeoutMs = 4000) {
    let res;
    try {
      res = await fetch(`${this.base}/v1/${type}`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.secret}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        cache: "no-store",
      });
    } catch (error) {
      throw new Unreachable(this.name, error);
    }
    if (!res.ok) throw await errorOf(res);
    return await res.json();
  }

  /**
   * Follows the node's event stream, calling `onEvent` for each event (its history first), until
   * `signal` aborts or the stream ends; rejects like `post`.
   */
  async follow(onEvent, signal) {
    let res;
    try {
      res = await fetch(`${this.base}/v1/events?follow=1`, { headers: { authorization: `Bearer ${this.secret}` }, signal, cache: "no-store" });
    } catch (error) {
      throw new Unreachable(this.name, error);
    }
    if (!res.ok || !res.body) throw await errorOf(res);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        pending += value;
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line) onEvent(JSON.parse(line));
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw new Unreachable(this.name, error);
    }
  }
}

async function errorOf(res) {
  try {
    const { error } = await res.json();
    return new ApiError(res.status, error.code, error.message, error.hint);
  } catch {
    return new ApiError(res.status, "internal", `HTTP ${res.status}`);
  }
}

/** One line for an error, with its hint. */
export function describe(error) {
  if (error instanceof ApiError) return error.hint ? `${error.message} (${error.hint})` : error.message;
  return error instanceof Error ? error.message : String(error);
}
