/**
 * An in-process test cluster: several nodes assembled in this process (each with its real node
 * state, executors, journal and reconciler), wired through their API handlers by an in-process
 * transport instead of sockets. cluster.yaml is a real file; a test edits it and hands the new
 * config to every node, as their watchers would.
 * @module
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { assembleNode, type AssembledNode } from "../../daemon/assemble.ts";
import { ApiClient } from "../../daemon/api/client.ts";
import { handlerTransport } from "../../daemon/api/transport.ts";
import { loadClusterConfig } from "../../daemon/config/mod.ts";
import type { Handler } from "../../daemon/api/handler.ts";
import { fixtures, SECRET } from "./cluster.ts";

export interface InProcessOptions {
  nodes: string[];
  processes?: Record<string, string>;
  settings?: Record<string, unknown>;
  modules?: string[];
}

export class InProcessCluster {
  readonly dir: string;
  readonly file: string;
  readonly nodes = new Map<string, AssembledNode>();
  readonly #handlers = new Map<string, Handler>();
  readonly #transport = handlerTransport(this.#handlers);
  readonly #options: InProcessOptions;
  readonly logs: string[] = [];

  private constructor(dir: string, options: InProcessOptions) {
    this.dir = dir;
    this.file = join(dir, "cluster.yaml");
    this.#options = options;
  }

  static async create(options: InProcessOptions): Promise<InProcessCluster> {
    const dir = mkdtempSync(join(tmpdir(), "ferry-inproc-"));
    mkdirSync(join(dir, "processes"));
    writeFileSync(join(dir, "processes/package.json"), '{ "type": "module" }\n');
    for (const file of readdirSync(fixtures)) {
      if (!options.modules || options.modules.includes(file.replace(/\.ts$/, ""))) copyFileSync(join(fixtures, file), join(dir, "processes", file));
    }
    const cluster = new InProcessCluster(dir, options);
    cluster.writeConfig(options.processes ?? {});
    return cluster;
  }

  url(node: string): string {
    return `http://${node}.in-process:80`;
  }

  writeConfig(processes: Record<string, string>): void {
    const settings = { checkpointIntervalMs: 500, stallMs: 2000, suspendDeadlineMs: 2000, handoffTimeoutMs: 5000, ...this.#options.settings };
    writeFileSync(this.file, [
      "cluster:",
      "  name: test",
      `  secret: ${SECRET}`,
      ...Object.entries(settings).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      "nodes:",
      ...this.#options.nodes.map((n) => `  ${n}: { url: "${this.url(n)}" }`),
      "processes:",
      ...Object.entries(processes).map(([name, body]) => `  ${name}: { ${body} }`),
      "",
    ].join("\n"));
  }

  /** Re-reads cluster.yaml and hands it to every running node (what their watchers do). */
  async applyConfig(): Promise<void> {
    const loaded = await loadClusterConfig(this.file, { FERRY_SECRET: "" });
    for (const node of this.nodes.values()) node.updateConfig(loaded);
  }

  async start(node: string): Promise<AssembledNode> {
    const loaded = await loadClusterConfig(this.file, { FERRY_SECRET: "" });
    const assembled = await assembleNode({
      node,
      loaded,
      platform: { name: "node", version: process.versions.node },
      onShutdown: () => {},
      reloadConfig: async () => this.applyConfig(),
      transport: this.#transport,
      log: (level, line) => this.logs.push(`${node} ${level} ${line}`),
    });
    this.nodes.set(node, assembled);
    this.#handlers.set(new URL(this.url(node)).origin, assembled.handler);
    return assembled;
  }

  async stop(node: string): Promise<void> {
    const assembled = this.nodes.get(node);
    if (!assembled) return;
    this.#handlers.delete(new URL(this.url(node)).origin);
    this.nodes.delete(node);
    await assembled.stop();
  }

  client(node: string): ApiClient {
    return new ApiClient(node, this.url(node), SECRET, this.#transport);
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.stop(n)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
