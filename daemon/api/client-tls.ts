/**
 * What a client (a peer or the CLI) trusts when it reaches an `https://` node, read from
 * cluster.yaml: the cluster CA (`cluster.tls.ca`) and, per node, an optional pinned certificate
 * fingerprint (`nodes.<name>.tls.fingerprint`). Built once per config and handed to the transport
 * (`transport.ts`), which checks every new connection against it before sending a byte.
 *
 * @example
 * ```ts
 * const tls = await clientTlsOf(loaded.config, loaded.dir);
 * const transport = httpTransport({ tls });
 * ```
 * @module
 */
import { resolve } from "node:path";
import type { ClusterConfig } from "../../schemas/cluster.schema.ts";
import { FerryError } from "../errors.ts";
import { readTextFile } from "../files.ts";

/** One `https://` node as its clients know it. */
export interface TlsPeer {
  /** The node's name, for messages. */
  name: string;
  /** Its pinned SHA-256 fingerprint, upper-case hex pairs with colons, when the config pins one. */
  fingerprint?: string;
}

/** How clients check the certificates of `https://` nodes. */
export interface ClientTls {
  /** The cluster CA; without it, the CAs this machine trusts. */
  ca?: {
    /** PEM text of one or more CA certificates. */
    pem: string;
    /** The file as cluster.yaml names it, for messages. */
    file: string;
  };
  /** The `https://` nodes by origin (`https://host:port`, as `new URL(url).origin` spells it). */
  peers: ReadonlyMap<string, TlsPeer>;
}

/**
 * The client side of the config's TLS settings, reading the CA file; undefined when no node has
 * an `https://` URL (the CA file is then not read at all). Throws `config_invalid` naming the CA
 * file when it cannot be read or holds no certificate.
 *
 * @example
 * ```ts
 * const tls = await clientTlsOf(loaded.config, loaded.dir);
 * tls?.peers.get("https://127.0.0.1:7102"); // { name: "beta", fingerprint: "29:F1:..." }
 * ```
 */
export async function clientTlsOf(config: Pick<ClusterConfig, "cluster" | "nodes">, dir: string): Promise<ClientTls | undefined> {
  const peers = new Map<string, TlsPeer>();
  for (const [name, spec] of Object.entries(config.nodes)) {
    if (!spec.url.startsWith("https://")) continue;
    const pinned = spec.tls?.fingerprint;
    peers.set(new URL(spec.url).origin, pinned === undefined ? { name } : { name, fingerprint: normaliseFingerprint(pinned) });
  }
  if (peers.size === 0) return undefined;
  const file = config.cluster.tls?.ca;
  if (file === undefined) return { peers };
  return { ca: { pem: await readCa(file, dir), file }, peers };
}

/**
 * A SHA-256 fingerprint as Node reports a certificate's (`fingerprint256`): upper-case hex pairs
 * separated by colons, whether it was written with colons or without, in either case.
 *
 * @example
 * ```ts
 * normaliseFingerprint("29f1ba..."); // "29:F1:BA:..."
 * ```
 */
export function normaliseFingerprint(text: string): string {
  const hex = text.replaceAll(":", "").toUpperCase();
  return hex.match(/../g)?.join(":") ?? hex;
}

/**
 * Two TLS settings that check the same way have the same key (the transport keeps its open
 * connections while a reloaded config changes nothing here).
 *
 * @example
 * ```ts
 * if (tlsKey(next) !== tlsKey(current)) current = next;
 * ```
 */
export function tlsKey(tls: ClientTls | undefined): string {
  if (!tls) return "";
  const peers = [...tls.peers].map(([origin, p]) => `${origin}=${p.name}/${p.fingerprint ?? ""}`).sort();
  return `${tls.ca?.file ?? ""}\n${tls.ca?.pem ?? ""}\n${peers.join("\n")}`;
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

async function readCa(file: string, dir: string): Promise<string> {
  const path = resolve(dir, file);
  let pem: string;
  try {
    pem = await readTextFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error);
    throw new FerryError("config_invalid", `Cannot read the cluster CA "${file}" (${code} at ${path})`, {
      hint: "cluster.tls.ca names a PEM file relative to cluster.yaml",
      cause: error,
    });
  }
  const blocks = pem.match(pemBlock) ?? [];
  // Imported here, the only use: `node:crypto` takes Deno some 8 ms to load, for every command.
  const { X509Certificate } = await import("node:crypto");
  const readable = blocks.every((block) => {
    try {
      new X509Certificate(block);
      return true;
    } catch {
      return false;
    }
  });
  if (blocks.length === 0 || !readable) {
    throw new FerryError("config_invalid", `The cluster CA "${file}" holds no readable certificate`, {
      hint: "cluster.tls.ca must name the PEM file of the CA certificate that signs the nodes' certificates",
    });
  }
  return pem;
}
