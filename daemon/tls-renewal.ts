/**
 * Certificates renewed without a restart. Every `tlsCheckIntervalMs` an https node reads its
 * certificate and key files again (the paths cluster.yaml names now) and, when they changed and
 * fit together, presents the new certificate to the connections it accepts from then on; open
 * connections keep the one they were made with. A pair that does not fit (a renewal that has
 * written the certificate but not yet the key) is not used: the node keeps the certificate it
 * has, says why once, and looks again next time. The CA file that peers are checked against is
 * read again at the same pace, so a rotated CA needs no restart either.
 *
 * A node cannot change scheme while it runs: an `http://` node that becomes `https://` (or the
 * reverse) takes effect at its next start.
 *
 * @example
 * ```ts
 * const renewal = certificateRenewal({ node: "alpha", loaded: () => latest, server: () => server, presented: tls, log, refreshCa });
 * manager.add(renewal);
 * ```
 * @module
 */
import type { LoadedConfig } from "./config/mod.ts";
import type { Server, ServeTls } from "./adapters/mod.ts";
import { describeError } from "./errors.ts";
import { certificateSummary, planListen, readServeTls } from "./listen.ts";
import type { LogFn } from "./log.ts";
import { every, type Runnable } from "./manager.ts";

export interface RenewalOptions {
  node: string;
  /** The config in force now (paths of the certificate and key, the check interval). */
  loaded(): LoadedConfig;
  /** The node's server, once it listens. */
  server(): Server | undefined;
  /** What the server was started with; undefined for a plain-HTTP node (nothing to renew). */
  presented: ServeTls | undefined;
  log: LogFn;
  /** Reads the CA file peers are checked against again (its readers keep the last good one). */
  refreshCa(): void;
}

/**
 * The background loop that renews the node's certificate and re-reads the CA.
 *
 * @example
 * ```ts
 * const loop = certificateRenewal(options);
 * await loop.start(signal);
 * ```
 */
export function certificateRenewal(options: RenewalOptions): Runnable {
  let presented = options.presented;
  let lastProblem: string | undefined;
  const report = (source: string, error: unknown) => options.log("error", `ferry: ${source}: ${describeError(error)}`);
  return every("renew TLS certificates", () => options.loaded().config.cluster.tlsCheckIntervalMs, async () => {
    if (options.loaded().config.cluster.tls?.ca) options.refreshCa();
    const server = options.server();
    if (!presented || !server?.setTls) return;
    let next: ServeTls | undefined;
    try {
      const loaded = options.loaded();
      next = await readServeTls(planListen(loaded, options.node), loaded.dir);
    } catch (error) {
      const problem = describeError(error);
      if (problem !== lastProblem) options.log("warn", `ferry: node ${options.node} keeps presenting its current TLS certificate: ${problem}`);
      lastProblem = problem;
      return;
    }
    lastProblem = undefined;
    if (!next || (next.cert === presented.cert && next.key === presented.key)) return;
    server.setTls(next);
    presented = next;
    options.log("info", `ferry: node ${options.node} presents its renewed TLS certificate (${certificateSummary(next.cert)}) to new connections`);
  }, report);
}
