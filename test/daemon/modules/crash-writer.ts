// Run by cache.test.ts as a child process: writes a bundle into a module cache and kills itself
// with SIGKILL right after its Nth file write, as a crash or power cut at that point would.
// Args: <cache dir> <bundle.json> <hash> <N>
import { readFileSync } from "node:fs";
import process from "node:process";
import { type CacheFs, durableCacheFs, ferryInstallRoot, ModuleCache } from "../../../daemon/modules/cache.ts";

const [dir, bundleFile, hash, after] = process.argv.slice(2) as [string, string, string, string];
let written = 0;
const dying: CacheFs = {
  async writeFile(path, text) {
    await durableCacheFs.writeFile(path, text);
    if (++written >= Number(after)) process.kill(process.pid, "SIGKILL");
  },
};
await new ModuleCache(dir, ferryInstallRoot(), { fs: dying }).put(JSON.parse(readFileSync(bundleFile, "utf8")), hash, "alpha");
console.error("crash-writer: the write finished before the crash point");
process.exit(3);
