/**
 * What differs between Node and Deno, behind one small interface picked once at start-up:
 * serving HTTP and the runtime's name and version. Everything else uses web standards or `node:`
 * modules that both runtimes provide.
 * @module
 */

export interface Server {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops accepting, ends open connections (including event streams). Idempotent. */
  close(): Promise<void>;
  /**
   * An https server presents `tls` to the connections it accepts from now on (open ones keep
   * theirs): a renewed certificate without a restart. Absent on a plain-HTTP server.
   */
  readonly setTls?: (tls: ServeTls) => void;
}

/**
 * Where to listen and how long a client may hold a connection without progress. The limits bound
 * what an unauthenticated client can tie up: the secret is only checked once a request's headers
 * are in, so everything before that (and any body the handler never reads) is bounded here.
 * Response bodies are never bounded: a hand-off streams large snapshots and `handoff.begin` may
 * answer late.
 */
/** The certificate a server presents: PEM text as read from the node's `tls.cert` and `tls.key`. */
export interface ServeTls {
  /** The certificate, followed by any intermediate CA certificates. */
  cert: string;
  key: string;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /**
   * Serve HTTPS with this certificate. The TLS handshake counts towards `headersTimeoutMs`: a
   * client that connects and never completes it is closed like one that never sends headers.
   * @default undefined (plain HTTP)
   */
  tls?: ServeTls;
  /**
   * Time a client has to send a request's complete headers, counted from the connection (or from
   * the first byte of a later request on a kept-alive one); past it the connection is closed.
   * @default {10_000}
   */
  headersTimeoutMs?: number;
  /**
   * Time a request body has to arrive in full once the headers are in; past it the request is
   * answered 408 and the connection closed. The API's bodies are JSON of at most 1 MiB.
   * @default {30_000}
   */
  bodyTimeoutMs?: number;
  /**
   * How long a kept-alive connection may stay idle between requests before it is closed.
   * @default {5_000}
   */
  idleTimeoutMs?: number;
  /**
   * Most connections open at once; a connection beyond it is closed as soon as it is accepted.
   * @default {1024}
   */
  maxConnections?: number;
}

export interface Platform {
  name: "node" | "deno";
  version: string;
  serve(handler: (req: Request) => Promise<Response>, options: ServeOptions): Promise<Server>;
}
