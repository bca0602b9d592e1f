/**
 * Free TCP ports on a given local address. All ports of one call are held open together until
 * the last is found, so one call never hands out the same port twice (an etcd member needs two,
 * three members six).
 *
 * @example
 * ```ts
 * const [client, peer] = await freePorts("127.0.0.1", 2);
 * ```
 * @module
 */
import { createServer, type Server } from "node:net";

/**
 * `count` distinct ports that nothing listens on at `host` right now.
 *
 * @example
 * ```ts
 * await freePorts("10.77.3.1", 6); // e.g. [40211, 38907, 45533, 33419, 41077, 36801]
 * ```
 */
export async function freePorts(host: string, count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once("error", reject);
          server.listen(0, host, () => {
            const address = server.address();
            resolve(typeof address === "object" && address ? address.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}
