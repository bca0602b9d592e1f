import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ferryInstallRoot } from "../../../daemon/modules/cache.ts";
import { shortHash } from "../../../daemon/modules/hash.ts";
import { ModuleRegistry, type PeerBundle } from "../../../daemon/modules/registry.ts";
import { loadProcessClass } from "../../../daemon/modules/inspect.ts";
import { TransactionalFileReader, TransactionalFileWriter } from "../../../daemon/io/mod.ts";
import { decodeState } from "../../../daemon/snapshot/mod.ts";
import { call, recordingPool, startReq, until } from "../executor/harness.ts";
import { rejection } from "../../helpers/assert.ts";

let dir = "";

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-registry-"));
});

test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeTree(root: string, files: Record<string, string>): string {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "package.json"), '{ "type": "module" }\n');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** A node: its own processes folder and data directory; `peer` answers its fetches. */
function node(name: string, files: Record<string, string>, peer?: ModuleRegistry) {
  const fetches: string[] = [];
  const registry = new ModuleRegistry({
    processesDir: writeTree(join(dir, name, "processes"), files),
    cacheDir: join(dir, name, "data", "modules"),
    installRoot: ferryInstallRoot(),
    fetchBundle: async (hash): Promise<PeerBundle | undefined> => {
      fetches.push(hash);
      const bundle = await peer?.bundleByHash(hash);
      return bundle && { peer: "alpha", bundle };
    },
  });
  return { registry, fetches, processes: join(dir, name, "processes"), cache: join(dir, name, "data", "modules") };
}

// Tails its input: upper-cases each line with a helper of its own, through the file streams of
// the receiving node's install, and waits for more at the end (so only a suspend stops it).
const shouter = {
  "Shouter.ts": `import { TransactionalFileReader, TransactionalFileWriter } from "../daemon/io/mod.ts";
import { shout } from "./lib/shout.ts";

export default class Shouter {
  input: TransactionalFileReader;
  output: TransactionalFileWriter;
  lines = 0;
  constructor(args: string[]) {
    this.input = new TransactionalFileReader(args[0]!);
    this.output = new TransactionalFileWriter(args[1]!);
  }
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) {
      const line = this.input.readLine();
      if (line === null) {
        await ctx.sleep(10);
        continue;
      }
      this.output.writeLine(shout(line));
      this.lines++;
      await ctx.sleep(0);
    }
  }
  count() { return this.lines; }
}
`,
  "lib/shout.ts": `export function shout(text: string): string { return text.toUpperCase() + "!"; }\n`,
};

test("a module fetched from a peer runs in a real executor, with its helper and this install's file streams", async () => {
  const alpha = node("alpha", shouter);
  const beta = node("beta", {}, alpha.registry);
  const hash = (await alpha.registry.local("Shouter"))!.hash;
  const resolved = await beta.registry.resolve("Shouter", hash);
  assert.equal(beta.fetches, [hash]);
  assert.is(resolved.version, hash);
  assert.ok(resolved.path.startsWith(beta.cache), `not loaded from the cache: ${resolved.path}`);
  assert.match(readFileSync(resolved.path, "utf8"), JSON.stringify(new URL("daemon/io/mod.ts", new URL(`file://${ferryInstallRoot()}/`)).href));

  const input = join(dir, "in.txt");
  const output = join(dir, "out.txt");
  writeFileSync(input, "one\ntwo\n");
  const { pool } = recordingPool();
  const second = recordingPool();
  try {
    await pool.start(startReq(resolved.path, "shouter", { args: [input, output] }));
    await until(async () => (await call<number>(pool, "shouter", "count")) === 2, "two lines shouted");
    // The streams are the executor's own classes: the snapshot codec captures them.
    const { snapshot } = await pool.request({ type: "suspend", name: "shouter", deadlineMs: 5000 });
    const fields = decodeState(snapshot).fields as { input: unknown; output: unknown; lines: number };
    assert.ok(fields.input instanceof TransactionalFileReader);
    assert.ok(fields.output instanceof TransactionalFileWriter);
    assert.is(fields.lines, 2);

    // Resumed from that snapshot (as after a hand-off), it goes on where it was.
    await second.pool.start(startReq(resolved.path, "shouter", { snapshot }));
    appendFileSync(input, "three\n");
    await until(async () => (await call<number>(second.pool, "shouter", "count")) === 3, "the third line shouted");
    assert.is(readFileSync(output, "utf8"), "ONE!\nTWO!\nTHREE!\n");
  } finally {
    await pool.close();
    await second.pool.close();
  }
});

test("a fetched version stays cached: neither this registry nor a restarted one asks peers again", async () => {
  const alpha = node("alpha", shouter);
  const beta = node("beta", {}, alpha.registry);
  const hash = (await alpha.registry.local("Shouter"))!.hash;
  const first = await beta.registry.resolve("Shouter", hash);
  assert.equal(await beta.registry.resolve("Shouter", hash), first);
  const restarted = new ModuleRegistry({
    processesDir: beta.processes,
    cacheDir: beta.cache,
    installRoot: ferryInstallRoot(),
    fetchBundle: async () => {
      assert.unreachable("asked a peer for a cached version");
      return undefined;
    },
  });
  assert.equal(await restarted.resolve("Shouter", hash), first);
  assert.equal(beta.fetches, [hash]);
  // …and it serves the version on to other peers.
  assert.is((await restarted.bundleByHash(hash))?.files["lib/shout.ts"], shouter["lib/shout.ts"]);
});

test("resolve() prefers this node's own copy when its hash is the one wanted, or when none is: Deno imports it in place, Node its compiled copy", async () => {
  const alpha = node("alpha", shouter);
  const beta = node("beta", shouter, alpha.registry);
  const hash = (await alpha.registry.local("Shouter"))!.hash;
  const wanted = await beta.registry.resolve("Shouter", hash);
  assert.equal(await beta.registry.resolve("Shouter"), wanted);
  assert.equal(beta.fetches, []);
  if ("Deno" in globalThis) {
    assert.equal(wanted, { path: join(beta.processes, "Shouter.ts"), version: hash });
    assert.not.ok(existsSync(beta.cache), "the cache was written for a local module");
  } else {
    assert.equal(wanted, { path: join(beta.cache, hash, "node", "Shouter.js"), version: hash });
    const compiled = readFileSync(wanted.path, "utf8");
    assert.not.match(compiled, /: string/, "the compiled copy still has types");
    assert.match(compiled, /from "\.\/lib\/shout\.js"/);
    assert.type(await loadProcessClass(wanted.path, hash), "function");
  }
});

test("resolve() fetches the wanted version when this node's copy differs", async () => {
  const alpha = node("alpha", shouter);
  const beta = node("beta", { ...shouter, "lib/shout.ts": shouter["lib/shout.ts"].replace('"!"', '"?"') }, alpha.registry);
  const wanted = (await alpha.registry.local("Shouter"))!.hash;
  const { path, version } = await beta.registry.resolve("Shouter", wanted);
  assert.is(version, wanted);
  assert.ok(path.startsWith(beta.cache));
  assert.equal(beta.fetches, [wanted]);
  const Shouter = await loadProcessClass(path, version);
  assert.is(Shouter.name, "Shouter");
});

test("resolve() is module_not_found, naming the module and the short hash, when no peer has the version", async () => {
  const alpha = node("alpha", {});
  const beta = node("beta", {}, alpha.registry);
  const hash = "ab".repeat(32);
  const error = await rejection(beta.registry.resolve("Shouter", hash));
  assert.is(error.code, "module_not_found");
  assert.match(error.message, `Module "Shouter" version "${shortHash(hash)}"`);
  assert.not.ok(error.message.includes(hash), "the message carries the full hash");
  const missing = await rejection(beta.registry.resolve("Shouter"));
  assert.is(missing.code, "module_not_found");
});

test("local() reads a module again only when one of its files changed", async () => {
  const alpha = node("alpha", shouter);
  const first = await alpha.registry.local("Shouter");
  assert.ok(first);
  assert.is(await alpha.registry.local("Shouter"), first, "an unchanged module was bundled again");
  writeFileSync(join(alpha.processes, "lib/shout.ts"), "export function shout(text: string): string { return text; }\n");
  const second = await alpha.registry.local("Shouter");
  assert.is.not(second?.hash, first.hash);
  rmSync(join(alpha.processes, "Shouter.ts"));
  assert.is(await alpha.registry.local("Shouter"), undefined);
});

test("bundleByHash() serves this node's modules and cached versions, and nothing else", async () => {
  const alpha = node("alpha", { ...shouter, "Plain.ts": "export default class Plain {}\n" });
  const plain = (await alpha.registry.local("Plain"))!;
  assert.equal(await alpha.registry.bundleByHash(plain.hash), plain);
  assert.is(await alpha.registry.bundleByHash("cd".repeat(32)), undefined);
  assert.is(await alpha.registry.bundleByHash("../../etc"), undefined);
  assert.equal(readdirSync(alpha.processes).sort(), ["Plain.ts", "Shouter.ts", "lib", "package.json"]);
});

test.run();
