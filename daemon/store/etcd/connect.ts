/**
 * Options of the etcd client from cluster.yaml's `cluster.store`: endpoints, a per-call deadline
 * (so a store that is down fails calls quickly instead of hanging them), password auth
 * (`FERRY_ETCD_PASSWORD` overrides the file) and TLS files relative to cluster.yaml.
 *
 * @example
 * ```ts
 * new Etcd3(etcdOptions({ settings: config.cluster.store, dir: loaded.dir }));
 * ```
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { isRecoverableError, type IOptions } from "etcd3";
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry } from "cockatiel";
import { FerryError } from "../../errors.ts";
import type { StoreSettings } from "../../../schemas/cluster.schema.ts";

export interface EtcdConnection {
  settings: StoreSettings;
  /** Directory of cluster.yaml: TLS file paths resolve against it. */
  dir: string;
  env?: Record<string, string | undefined>;
}

/**
 * The etcd3 client options for a connection.
 *
 * @example
 * ```ts
 * etcdOptions({ settings: { etcd: ["http://127.0.0.1:2379"], prefix: "ferry", timeoutMs: 2000 }, dir: "/srv" }).hosts;
 * ```
 */
export function etcdOptions(connection: EtcdConnection): IOptions {
  const { settings, dir } = connection;
  const env = connection.env ?? process.env;
  const timeoutMs = settings.timeoutMs ?? 2000;
  const read = (file: string, what: string) => {
    const path = resolve(dir, file);
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new FerryError("config_invalid", `Cannot read the etcd ${what} "${path}" named in cluster.store`, { cause });
    }
  };
  const password = env.FERRY_ETCD_PASSWORD || settings.password;
  return {
    hosts: settings.etcd,
    dialTimeout: timeoutMs,
    // A member that failed three times in a row is skipped for a second (not etcd3's default five),
    // and a failed call is tried once more on another member: a store that comes back is used at once.
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
    },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    ...(settings.username && password ? { auth: { username: settings.username, password } } : {}),
    ...(settings.ca
      ? {
        credentials: {
          rootCertificate: read(settings.ca, "CA file"),
          ...(settings.key ? { privateKey: read(settings.key, "client key") } : {}),
          ...(settings.cert ? { certChain: read(settings.cert, "client certificate") } : {}),
        },
      }
      : {}),
  };
}
