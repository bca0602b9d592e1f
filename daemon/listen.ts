/**
 * Where and how a node's daemon serves, decided from cluster.yaml before anything starts: the
 * address it binds (`listen`, else the host and port of its URL), its certificate for an
 * `https://` URL, and the refusals that keep a cluster from being exposed by accident. Off
 * loopback (the URL's host or the listen address is not 127.0.0.0/8, ::1 or localhost), a daemon
 * refuses plain HTTP and a weak secret (the example `change-me`, or shorter than 16 bytes)
 * unless `cluster.insecure: true` says so explicitly. `ferry daemon` and `ferry up` both check.
 *
 * @example
 * ```ts
 * const plan = planListen(loaded, "beta");           // throws the refusal, if any
 * const tls = await readServeTls(plan, loaded.dir);  // undefined for an http:// URL
 * await platform.serve(handler, { hostname: plan.hostname, port: plan.port, ...(tls ? { tls } : {}) });
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "./builtins/crypto.ts";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { resolve } from "node:path";
import type { ClusterConfig, NodeTls } from "../schemas/cluster.schema.ts";
import type { ServeTls } from "./adapters/mod.ts";
import { FerryError } from "./errors.ts";

/** The secret of the bundled example config: fine on loopback, refused anywhere else. */
export const EXAMPLE_SECRET = "change-me";
/** The shortest secret accepted off loopback. */
export const MIN_SECRET_BYTES = 16;

/** How one node serves. */
export interface ListenPlan {
  node: string;
  /** The URL peers and the CLI use, as declared. */
  url: string;
  /** What the server binds (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** `host:port` as shown to users, IPv6 in brackets. */
  address: string;
  /** The node's certificate files (as written in cluster.yaml), for an `https://` URL. */
  tls: NodeTls | undefined;
}

/** What {@link planListen} reads of a loaded config. */
export interface ListenSource {
  config: Pick<ClusterConfig, "cluster" | "nodes">;
  /** The effective secret (`FERRY_SECRET` or `cluster.secret`). */
  secret: string;
  /** Absolute path of cluster.yaml, for messages. */
  file: string;
}

/**
 * The address and TLS files of `node`, after the off-loopback checks. Throws `not_found` for an
 * unknown node and `config_invalid` (exit status 2) with a one-line reason for a refusal.
 *
 * @example
 * ```ts
 * planListen(loaded, "alpha"); // { hostname: "0.0.0.0", port: 7101, address: "0.0.0.0:7101", url: "https://10.0.0.5:7101", ... }
 * ```
 */
export function planListen(source: ListenSource, node: string): ListenPlan {
  const spec = source.config.nodes[node];
  if (!spec) {
    throw new FerryError("not_found", `No node named "${node}" in ${source.file}`, {
      hint: `nodes: ${Object.keys(source.config.nodes).join(", ")}`,
    });
  }
  const url = new URL(spec.url);
  const https = url.protocol === "https:";
  const urlPort = Number(url.port || (https ? 443 : 80));
  const listen = spec.listen === undefined ? undefined : splitHostPort(spec.listen);
  const hostname = listen?.host ?? url.hostname.replace(/^\[|\]$/g, "");
  const port = listen?.port ?? urlPort;
  const plan: ListenPlan = { node, url: spec.url, hostname, port, address: joinHostPort(hostname, port), tls: https ? spec.tls : undefined };

  // Where the traffic would be seen off this machine: the bound address first, else the URL.
  const exposed = !isLoopbackHost(hostname) ? plan.address : !isLoopbackHost(url.hostname) ? joinHostPort(url.hostname, urlPort) : undefined;
  if (exposed === undefined || source.config.cluster.insecure) return plan;
  if (!https) {
    throw new FerryError("config_invalid", `Refusing to serve node "${node}" over plain HTTP on ${exposed}`, {
      hint: "set cluster.insecure: true to allow it, or use an https:// URL with tls",
    });
  }
  const weakness = secretWeakness(source.secret);
  if (weakness) {
    throw new FerryError("config_invalid", `Refusing to serve node "${node}" on ${exposed} with ${weakness}`, {
      hint: `set a secret of at least ${MIN_SECRET_BYTES} bytes in cluster.secret or FERRY_SECRET (e.g. \`openssl rand -hex 16\`), or cluster.insecure: true to allow it`,
    });
  }
  return plan;
}

/** Refuse weak secrets off loopback even with TLS: the secret is all that guards the API. */
function secretWeakness(secret: string): string | undefined {
  if (secret === EXAMPLE_SECRET) return `the example secret "${EXAMPLE_SECRET}"`;
  const bytes = Buffer.byteLength(secret, "utf8");
  return bytes < MIN_SECRET_BYTES ? `a secret of ${bytes} bytes` : undefined;
}

/**
 * Reads the certificate and key of an `https://` node (paths relative to `dir`, the directory of
 * cluster.yaml) and checks that they fit together; undefined for an `http://` node. Throws
 * `config_invalid` naming the file or the node.
 *
 * @example
 * ```ts
 * const tls = await readServeTls(planListen(loaded, "beta"), loaded.dir);
 * ```
 */
export async function readServeTls(plan: ListenPlan, dir: string): Promise<ServeTls | undefined> {
  if (!plan.tls) return undefined;
  const { tls } = plan;
  const [cert, key] = await Promise.all([readPem(plan, "cert", dir), readPem(plan, "key", dir)]);
  let fits: boolean;
  try {
    fits = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new FerryError("config_invalid", `Cannot use the TLS certificate "${tls.cert}" and key "${tls.key}" of node "${plan.node}": ${(error as Error).message}`, {
      hint: "both must be PEM, the key unencrypted",
      cause: error,
    });
  }
  if (!fits) {
    throw new FerryError("config_invalid", `The TLS key "${tls.key}" of node "${plan.node}" is not the key of its certificate "${tls.cert}"`, {
      hint: "name the key the certificate was issued for",
    });
  }
  return { cert, key };
}

/**
 * A certificate as a log line names it: until when it is valid, and the start of its SHA-256
 * fingerprint (as `ferry` and `openssl x509 -fingerprint -sha256` print it).
 *
 * @example
 * ```ts
 * certificateSummary(pem); // "valid until Nov 29 12:00:00 2026 GMT, SHA-256 4F:9A:01:C2…"
 * ```
 */
export function certificateSummary(pem: string): string {
  const cert = new X509Certificate(pem);
  return `valid until ${cert.validTo}, SHA-256 ${cert.fingerprint256.slice(0, 11)}…`;
}

async function readPem(plan: ListenPlan, field: "cert" | "key", dir: string): Promise<string> {
  const file = plan.tls![field];
  const path = resolve(dir, file);
  const what = field === "cert" ? "certificate" : "key";
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error);
    throw new FerryError("config_invalid", `Cannot read the TLS ${what} "${file}" of node "${plan.node}" (${code} at ${path})`, {
      hint: `nodes.${plan.node}.tls.${field} names a PEM file relative to cluster.yaml`,
      cause: error,
    });
  }
  if (!/-----BEGIN [A-Z ]+-----/.test(text)) {
    throw new FerryError("config_invalid", `The TLS ${what} "${file}" of node "${plan.node}" is not in PEM format`, {
      hint: "convert it with openssl (e.g. `openssl x509 -inform der -in cert.der -out cert.pem`)",
    });
  }
  return text;
}

/**
 * True for loopback hosts: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost. Anything else,
 * including 0.0.0.0, :: and host names, may be reached from elsewhere.
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.2"); // true
 * isLoopbackHost("0.0.0.0");   // false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare === "localhost.") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) !== 6) return false;
  // The URL parser spells an IPv6 address one way: "::1", "::ffff:7f00:1" for ::ffff:127.0.0.1.
  const normal = new URL(`http://[${bare}]`).hostname.slice(1, -1);
  return normal === "::1" || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(normal);
}

function splitHostPort(listen: string): { host: string; port: number | undefined } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::([0-9]+))?$/.exec(listen);
  const host = match?.[1] ?? match?.[2] ?? listen;
  return { host, port: match?.[3] === undefined ? undefined : Number(match[3]) };
}

function joinHostPort(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "");
  return isIP(bare) === 6 ? `[${bare}]:${port}` : `${bare}:${port}`;
}
