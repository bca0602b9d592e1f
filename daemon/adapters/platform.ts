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
}

export interface ServeOptions {
  hostname: string;
  port: number;
}

export interface Platform {
  name: "node" | "deno";
  version: string;
  serve(handler: (req: Request) => Promise<Response>, options: ServeOptions): Promise<Server>;
}
