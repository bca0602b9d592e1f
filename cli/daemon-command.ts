/**
 * The command line that runs one node's daemon under the runtime cluster.yaml asks for, and the
 * test for which nodes `ferry up` should run on this machine.
 *
 * @example
 * ```ts
 * const { command, args } = daemonCommandLine("deno", "beta", "/srv/ferry/cluster.yaml");
 * // command: ".../node_modules/@deno/linux-x64-glibc/deno", args: ["run", "-A", ".../cli/main.ts", "daemon", ...]
 * ```
 * @module
 */
import { accessSync, constants, existsSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join } from "node:path";
import process from "node:process";
import { installRoot, runsBuilt } from "../daemon/install.ts";
import { FerryError } from "../daemon/errors.ts";
import { isLoopbackHost } from "../daemon/listen.ts";

/** The package root, built or not. */
export const repoRoot: string = installRoot;

/** A program and its arguments. */
export interface CommandLine {
  command: string;
  args: string[];
  /** Variables to set in its environment, over the ones it inherits. */
  env?: Record<string, string>;
}

const isDeno = "Deno" in globalThis;

/**
 * How to run `ferry daemon --node <node> --config <configFile>` under `runtime`.
 *
 * @example
 * ```ts
 * daemonCommandLine("node", "alpha", "/abs/cluster.yaml");
 * // { command: process.execPath, args: ["--max-semi-space-size=1", "--no-lazy-feedback-allocation", "<root>/dist/cli/main.js", "daemon", "--node", "alpha", "--config", "/abs/cluster.yaml"],
 * //   env: { MALLOC_ARENA_MAX: "2" } }
 * ```
 */
export function daemonCommandLine(runtime: "node" | "deno", node: string, configFile: string): CommandLine {
  const tail = ["daemon", "--node", node, "--config", configFile];
  if (runtime === "deno") {
    // Deno refuses TypeScript under node_modules: an installed Ferry runs its built JavaScript
    // there (and process modules' "ferry/sdk" resolves to the same files through package.json).
    const entry = /[\\/]node_modules[\\/]/.test(repoRoot) ? join(repoRoot, "dist", "cli", "main.js") : join(repoRoot, "cli", "main.ts");
    return { command: findDeno(), args: ["run", "-A", entry, ...tail] };
  }
  // Under Deno, execPath is deno itself: a node daemon then needs node from PATH.
  // The built entry itself when there is one: no shim, no package runner in between.
  const entry = runsBuilt ? join(repoRoot, "dist", "cli", "main.js") : join(repoRoot, "cli", "bin.mjs");
  return { command: isDeno ? "node" : process.execPath, args: [...NODE_DAEMON_FLAGS, entry, ...tail], env: nodeDaemonEnv() };
}

/**
 * V8 flags of a node daemon. A small young generation: an idle daemon holds some 10 MiB less, at
 * the cost of more frequent (and shorter) scavenges. Feedback vectors from a function's first
 * call: code that runs once per hand-off (most of its path) no longer waits for several calls
 * before V8 collects what it needs to compile it well; small hand-offs took 0.2 ms less (p50,
 * 3.54 against 3.75 ms in alternating runs of 100 moves) and the p99 2 ms less, at no measurable
 * memory.
 */
export const NODE_DAEMON_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--no-lazy-feedback-allocation"];

/**
 * What a node daemon's environment needs. Two malloc arenas (glibc; other C libraries ignore it):
 * by default each of its threads that allocates — the executors, V8's compiler and GC helpers,
 * libuv's pool — may get an arena of its own, each keeping what it once held, and an idle daemon
 * held some 1.5 MiB more. A value the user set is kept.
 *
 * @example
 * ```ts
 * nodeDaemonEnv(); // { MALLOC_ARENA_MAX: "2" }
 * ```
 */
export function nodeDaemonEnv(): Record<string, string> {
  return { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX || "2" };
}

/**
 * The deno binary: the one this process runs on, else the one the `deno` npm package installed
 * (see {@link denoFromPackage}), else `deno` from PATH.
 *
 * @example
 * ```ts
 * findDeno(); // "/repo/node_modules/@deno/linux-x64-glibc/deno"
 * ```
 */
export function findDeno(): string {
  if (isDeno) return process.execPath;
  return denoFromPackage(repoRoot) ?? "deno";
}

/**
 * The binary of the `deno` npm package (`node_modules/@deno/<platform>-<arch>[-glibc]/deno`),
 * looked up from `root` as Node resolves a package: a checkout's own node_modules or, for Ferry
 * installed into a project, that project's and its parents'.
 *
 * @example
 * ```ts
 * denoFromPackage("/app/node_modules/ferry"); // "/app/node_modules/@deno/linux-x64-glibc/deno"
 * ```
 */
export function denoFromPackage(root: string): string | undefined {
  const exe = process.platform === "win32" ? "deno.exe" : "deno";
  const platform = `${process.platform}-${process.arch}`;
  for (let dir = root; ; dir = dirname(dir)) {
    const modules = basename(dir) === "node_modules" ? dir : join(dir, "node_modules");
    const candidates = [join(modules, "@deno", `${platform}-glibc`, exe), join(modules, "@deno", platform, exe), join(modules, "deno", exe)];
    const found = candidates.find((c) => existsSync(c));
    if (found) return found;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Whether `command` can be started: an existing file when it names a path, else an executable
 * found in one of the `PATH` directories (as the system would look it up; on Windows with
 * `PATHEXT`'s extensions).
 *
 * @example
 * ```ts
 * commandExists("deno", "/usr/local/bin:/usr/bin"); // true when /usr/local/bin/deno or /usr/bin/deno exists
 * ```
 */
export function commandExists(command: string, path: string = process.env.PATH ?? ""): boolean {
  if (isAbsolute(command) || command.includes("/") || command.includes("\\")) return existsSync(command);
  const extensions = process.platform === "win32" ? ["", ...(process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";")] : [""];
  for (const dir of path.split(delimiter).filter(Boolean)) {
    for (const ext of extensions) {
      try {
        accessSync(join(dir, command + ext), constants.X_OK);
        return true;
      } catch {
        // not in this directory
      }
    }
  }
  return false;
}

/**
 * Why `ferry up` cannot start a node's daemon under its runtime, or undefined when it can: the
 * runtime's program is nowhere to be found. Said once, before anything starts, rather than as a
 * restart loop of a program that does not exist.
 *
 * @example
 * ```ts
 * const problem = missingRuntime("beta", "deno", daemonCommandLine("deno", "beta", file).command);
 * if (problem) throw problem;
 * ```
 */
export function missingRuntime(node: string, runtime: "node" | "deno", command: string, path?: string): FerryError | undefined {
  if (commandExists(command, path)) return undefined;
  return new FerryError("not_found", `Node "${node}" runs on ${runtime === "deno" ? "Deno" : "Node.js"} (runtime: ${runtime}), but no "${command}" was found`, {
    hint: runtime === "deno" ? "install Deno from deno.com or, in this project, `npm install deno`; or set the node's runtime to node" : "put node on PATH",
  });
}

/**
 * True when a node URL points at this machine: loopback (127.0.0.0/8, ::1, localhost), this
 * host's name, or one of its interface addresses (the multi-machine case: each machine's
 * `ferry up` starts its own nodes of a shared cluster.yaml).
 *
 * @example
 * ```ts
 * isLocalUrl("http://127.0.0.1:7101"); // true
 * isLocalUrl("http://10.9.8.7:7101");  // false, unless this machine has that address
 * ```
 */
export function isLocalUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return false;
  }
  // The daemon's own test of loopback (its off-loopback refusal and the web page agree on it),
  // plus the *.localhost names that resolve to loopback.
  if (isLoopbackHost(host) || host.endsWith(".localhost")) return true;
  try {
    if (host === hostname().toLowerCase()) return true;
    return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address.toLowerCase() === host));
  } catch {
    // Some sandboxes refuse to list interfaces; loopback was the case that matters.
    return false;
  }
}
