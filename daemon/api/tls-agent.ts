/**
 * The keep-alive `node:https` agent of the transport, which checks a daemon's certificate itself
 * and hands a connection to a request only once it passed: a pinned fingerprint when the node has
 * one, else the cluster CA (or this machine's CAs) and the URL's host name. Checking before the
 * hand-over means no byte of a request (its bearer secret first) reaches an unchecked server,
 * and a failure gets one clear message naming the node, its URL and what did not match
 * (`tls_failed`, not `unreachable`: retrying does not help).
 *
 * Both runtimes provide what this needs: `tls.connect` with `ca`, `authorized` and
 * `authorizationError`, `getPeerCertificate()` with `fingerprint256`, `tls.checkServerIdentity`,
 * and an agent whose `createConnection` answers through its callback (Deno 2.9 as Node 20).
 *
 * `node:https` and `node:tls` are loaded when the first agent is made: a cluster on plain HTTP,
 * and every command that reaches one, never loads them (some 2 ms of a command's start-up, and
 * their share of a daemon's memory).
 *
 * @example
 * ```ts
 * const agent = verifyingAgent(await clientTlsOf(config, dir));
 * https.request({ host: "127.0.0.1", port: 7102, path: "/v1/ps", method: "POST", agent });
 * ```
 * @module
 */
import { isIP } from "node:net";
import process from "node:process";
import type { Duplex } from "node:stream";
import type { Agent, RequestOptions } from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { FerryError } from "../errors.ts";
import type { ClientTls } from "./client-tls.ts";

/** A handshake that has not completed by then is given up (the request's own timeout may be longer). */
const handshakeTimeoutMs = 30_000;

/** A keep-alive https agent whose connections are checked against its TLS settings before use. */
export type VerifyingAgent = Agent;

let agentClass: (new (tls: ClientTls | undefined) => Agent) | undefined;

/**
 * A keep-alive https agent whose connections are checked against `tls` before use.
 *
 * @example
 * ```ts
 * const agent = verifyingAgent({ ca: { pem, file: "ca.pem" }, peers });
 * ```
 */
export function verifyingAgent(tls: ClientTls | undefined): VerifyingAgent {
  agentClass ??= defineVerifyingAgent();
  return new agentClass(tls);
}

function defineVerifyingAgent(): new (tls: ClientTls | undefined) => Agent {
  const { Agent } = process.getBuiltinModule("node:https");
  const { connect } = process.getBuiltinModule("node:tls");
  return class VerifyingAgent extends Agent {
    readonly #tls: ClientTls | undefined;

    constructor(tls: ClientTls | undefined) {
      super({ keepAlive: true, maxSockets: 256 });
      this.#tls = tls;
    }

    override createConnection(options: RequestOptions, done?: (error: Error | null, socket: Duplex) => void): undefined {
      const host = String(options.host ?? options.hostname ?? "localhost").replace(/^\[|\]$/g, "");
      const port = Number(options.port ?? 443);
      const origin = new URL(`https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`).origin;
      const pinned = this.#tls?.peers.get(origin)?.fingerprint;
      const socket = connect({
        host,
        port,
        // SNI carries host names only.
        ...(isIP(host) === 0 ? { servername: host } : {}),
        // A pinned certificate is checked by its fingerprint alone; otherwise against the CA below.
        ...(this.#tls?.ca && pinned === undefined ? { ca: this.#tls.ca.pem } : {}),
        // Checked in `verify` instead, before the socket carries anything.
        rejectUnauthorized: false,
      });
      let settled = false;
      const settle = (error: Error | null) => {
        if (settled) return;
        settled = true;
        socket.setTimeout(0);
        socket.off("error", onError);
        if (error) socket.destroy();
        done?.(error, socket);
      };
      const onError = (error: Error) => settle(tlsFailure(error, this.#tls, origin));
      socket.once("error", onError);
      socket.setTimeout(handshakeTimeoutMs, () => settle(new Error(`no TLS handshake within ${handshakeTimeoutMs} ms`)));
      socket.once("secureConnect", () => {
        socket.setNoDelay(true);
        settle(verify(socket, host, origin, this.#tls) ?? null);
      });
      return undefined;
    }
  };
}

/** Why `socket`'s certificate is not acceptable for `origin`, or undefined when it is. */
function verify(socket: TLSSocket, host: string, origin: string, tls: ClientTls | undefined): FerryError | undefined {
  const peer = tls?.peers.get(origin);
  const who = peer ? `Node "${peer.name}" at ${origin}` : `The daemon at ${origin}`;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.fingerprint256) return new FerryError("tls_failed", `${who} presented no certificate`, { hint: "is it serving https?" });
  const pinHint = peer ? `pin nodes.${peer.name}.tls.fingerprint` : "pin its fingerprint";
  if (peer?.fingerprint !== undefined) {
    if (cert.fingerprint256.toUpperCase() === peer.fingerprint) return undefined;
    return new FerryError("tls_failed", `${who} presented a certificate with fingerprint ${cert.fingerprint256}, not the one pinned in nodes.${peer.name}.tls.fingerprint`, {
      hint: "if its certificate was replaced on purpose, pin the new fingerprint",
    });
  }
  // Any other refusal of the chain means no trusted CA signed it.
  const code = socket.authorized ? undefined : String(socket.authorizationError ?? "");
  if (code === "CERT_HAS_EXPIRED") {
    return new FerryError("tls_failed", `${who} presented an expired certificate (valid until ${cert.valid_to})`, { hint: "renew the node's certificate" });
  }
  if (code === "CERT_NOT_YET_VALID") {
    return new FerryError("tls_failed", `${who} presented a certificate not valid before ${cert.valid_from}`, { hint: "check the clocks of both machines" });
  }
  if (code !== undefined && code !== "ERR_TLS_CERT_ALTNAME_INVALID") {
    return tls?.ca
      ? new FerryError("tls_failed", `${who} presented a certificate not signed by the cluster CA "${tls.ca.file}"`, {
        hint: `sign its certificate with that CA, or ${pinHint}`,
      })
      : new FerryError("tls_failed", `${who} presented a certificate not signed by a CA this machine trusts`, {
        hint: `set cluster.tls.ca to the CA that signed it, or ${pinHint}`,
      });
  }
  // Checked here too, not only through `authorized`: the name must match whatever the runtime did.
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || process.getBuiltinModule("node:tls").checkServerIdentity(host, cert) !== undefined) {
    return new FerryError("tls_failed", `${who} presented a certificate for ${namesOf(cert)}, not for "${host}"`, {
      hint: `issue its certificate for the host of its url, or ${pinHint}`,
    });
  }
  return undefined;
}

/** A failed handshake: a protocol error is a TLS failure; a refused or reset connection is not. */
function tlsFailure(error: Error, tls: ClientTls | undefined, origin: string): Error {
  const code = String((error as { code?: unknown }).code ?? "");
  if (code !== "EPROTO" && !code.startsWith("ERR_SSL_") && !code.startsWith("ERR_TLS_")) return error;
  const peer = tls?.peers.get(origin);
  const who = peer ? `Node "${peer.name}" at ${origin}` : `The daemon at ${origin}`;
  return new FerryError("tls_failed", `${who} did not complete a TLS handshake: ${error.message.split("\n")[0]}`, {
    hint: "is it serving https? its url and tls in cluster.yaml must agree",
    cause: error,
  });
}

function namesOf(cert: PeerCertificate): string {
  if (cert.subjectaltname) return cert.subjectaltname;
  const cn = cert.subject?.CN;
  return cn ? `CN=${Array.isArray(cn) ? cn.join(",") : cn}` : "no name";
}
