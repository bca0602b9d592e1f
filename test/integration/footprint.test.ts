// What an idle Node daemon holds: answering the CLI, event followers and its peers, and handing
// processes over, must not load Node's fetch implementation (undici, some 5 MiB of a daemon's
// memory), which the web Request, Response and Headers the API is written with would pull in —
// and from Node 22 on, an ES import of `node:http` too; nor Web Crypto, which an ES import of
// `node:crypto` or the global `crypto` would; nor, in a cluster on plain HTTP, `node:https` and
// `node:tls` (nor does the CLI reaching it).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";
import { nodeBinary, otherNodeReleases } from "../helpers/node-releases.ts";

const UNDICI = "NativeModule internal/deps/undici/undici";
const WEB_CRYPTO = "NativeModule internal/crypto/webcrypto";
/** Loaded only to serve or reach a node over https. */
const TLS = ["NativeModule https", "NativeModule tls"];

function assertLean(loaded: string[], who: string): void {
  assert.not.ok(loaded.includes(UNDICI), `undici was loaded by ${who}`);
  assert.not.ok(loaded.includes(WEB_CRYPTO), `Web Crypto was loaded by ${who}`);
  for (const module of TLS) assert.not.ok(loaded.includes(module), `${module.slice(13)} was loaded by ${who}, in a cluster on plain HTTP`);
}

/**
 * Starts `node` with a preload that, on SIGUSR2, writes the built-in modules its main thread
 * loaded; returns the function that asks for them.
 */
async function startWatched(c: TestCluster, node: string): Promise<() => Promise<string[]>> {
  const preload = join(c.dir, `loaded-modules-${node}.cjs`);
  const report = join(c.dir, `loaded-modules-${node}.json`);
  writeFileSync(
    preload,
    `if (require("node:worker_threads").isMainThread) process.on("SIGUSR2", () => require("node:fs").writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));\n`,
  );
  await c.start(node, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${preload}`.trim() });
  return async () => {
    c.children.get(node)!.kill("SIGUSR2");
    await until(() => existsSync(report), `the list of modules ${node} loaded`, 10_000, 20);
    const loaded = JSON.parse(readFileSync(report, "utf8")) as string[];
    assert.ok(loaded.includes("NativeModule http"), "the list is the daemon's own (it serves HTTP)");
    return loaded;
  };
}

test("a Node daemon serving ps, health, reconcile, the CLI, the web page and an events follower never loads undici, nor TLS on plain HTTP; nor does the CLI", async () => {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Idle"], runtimes: { alpha: "node" } });
  try {
    c.writeConfig({ idle: "module: Idle, node: alpha" });
    const loadedBy = await startWatched(c, "alpha");
    await c.waitRunningOn("idle", "alpha");
    // An events follower, as `ferry events -f` or the web page holds: a streamed answer, held
    // open through the requests below.
    const stop = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const event of c.client("alpha").events(true, stop.signal)) seen.push(`${event.type} ${event.process ?? ""}`);
    })().catch(() => {});
    await until(() => seen.includes("started idle"), "the follower to read the process's start");
    const health = await fetch(`${c.url("alpha")}/healthz`);
    assert.is(health.status, 200);
    // The web page: its files, a HEAD, and a browser's preflight from a node's origin.
    const page = await fetch(`${c.url("alpha")}/ui/`);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<html/i);
    assert.is((await fetch(`${c.url("alpha")}/ui/app.js`, { method: "HEAD" })).status, 200);
    const preflight = await fetch(`${c.url("alpha")}/v1/ps`, { method: "OPTIONS", headers: { origin: c.url("alpha"), "access-control-request-method": "POST" } });
    assert.is(preflight.status, 204);
    assert.is(preflight.headers.get("access-control-allow-origin"), c.url("alpha"));
    await c.post("alpha", "reconcile", { names: ["idle"], reload: true });
    const cliReport = join(c.dir, "loaded-modules-cli.json");
    const cliPreload = join(c.dir, "loaded-modules-cli.cjs");
    writeFileSync(cliPreload, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(cliReport)}, JSON.stringify(process.moduleLoadList)));\n`);
    const ps = await c.cli(["ps", "--config", c.file], { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${cliPreload}`.trim() });
    assert.is(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /idle/);
    const cliLoaded = JSON.parse(readFileSync(cliReport, "utf8")) as string[];
    assert.ok(cliLoaded.includes("NativeModule http"), "the list is the CLI's own (it asked the node over HTTP)");
    assertLean(cliLoaded, "ferry ps");

    assertLean(await loadedBy(), "the daemon");
    stop.abort();
    await following;
  } finally {
    await c.close();
  }
});

test("two Node daemons handing processes over (single and batched pulls) never load undici, nor TLS on plain HTTP", async () => {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Idle", "Heavy"], runtimes: { alpha: "node", beta: "node" } });
  try {
    const on = (node: string) => ({ idle: `module: Idle, node: ${node}`, small: `module: Heavy, node: ${node}, args: ["0.001"]` });
    c.writeConfig(on("alpha"));
    const loaded = { alpha: await startWatched(c, "alpha"), beta: await startWatched(c, "beta") };
    await c.waitRunningOn("idle", "alpha");
    await c.waitRunningOn("small", "alpha");
    for (const to of ["beta", "alpha"]) {
      c.writeConfig(on(to));
      await c.post(to, "reconcile", { names: ["idle", "small"], reload: true });
      await c.waitRunningOn("idle", to);
      await c.waitRunningOn("small", to);
    }
    assert.is((await c.cli(["ps", "--config", c.file])).code, 0);
    for (const node of ["alpha", "beta"] as const) assertLean(await loaded[node](), node);
  } finally {
    await c.close();
  }
});

test("on Node 22 and 24 too, ferry ps and the daemon it asks load neither undici nor Web Crypto", async () => {
  for (const release of otherNodeReleases) {
    const binary = await nodeBinary(release);
    const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Idle"], nodeBinaries: { alpha: binary } });
    try {
      c.writeConfig({ idle: "module: Idle, node: alpha" });
      const loadedBy = await startWatched(c, "alpha");
      await c.waitRunningOn("idle", "alpha");
      const cliReport = join(c.dir, "loaded-modules-cli.json");
      const cliPreload = join(c.dir, "loaded-modules-cli.cjs");
      writeFileSync(cliPreload, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(cliReport)}, JSON.stringify(process.moduleLoadList)));\n`);
      const ps = await c.cli(["ps", "--config", c.file], { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${cliPreload}`.trim() }, { nodeBinary: binary });
      assert.is(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /idle/);
      assertLean(JSON.parse(readFileSync(cliReport, "utf8")) as string[], `ferry ps on Node ${release}`);
      assertLean(await loadedBy(), `the daemon on Node ${release}`);
    } finally {
      await c.close();
    }
  }
});

test.run();
