// What an idle Node daemon holds: answering the CLI and its peers' JSON requests must not load
// Node's fetch implementation (undici, some 5 MiB of a daemon's memory), which the web Request,
// Response and Headers the API is written with would otherwise pull in.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster, until } from "../helpers/cluster.ts";

const UNDICI = "NativeModule internal/deps/undici/undici";

test("a Node daemon serving ps, health, reconcile, the CLI and an events follower never loads undici", async () => {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: ["Idle"], runtimes: { alpha: "node" } });
  try {
    // Preloaded into the daemon: on SIGUSR2 its main thread writes the built-in modules it loaded.
    const preload = join(c.dir, "loaded-modules.cjs");
    const report = join(c.dir, "loaded-modules.json");
    writeFileSync(
      preload,
      `if (require("node:worker_threads").isMainThread) process.on("SIGUSR2", () => require("node:fs").writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));\n`,
    );
    c.writeConfig({ idle: "module: Idle, node: alpha" });
    await c.start("alpha", { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${preload}`.trim() });
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
    await c.post("alpha", "reconcile", { names: ["idle"], reload: true });
    const ps = await c.cli(["ps", "--config", c.file]);
    assert.is(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /idle/);

    c.children.get("alpha")!.kill("SIGUSR2");
    await until(() => existsSync(report), "the daemon's list of loaded modules", 10_000, 20);
    const loaded = JSON.parse(readFileSync(report, "utf8")) as string[];
    assert.ok(loaded.includes("NativeModule http"), "the list is the daemon's own (it serves HTTP)");
    assert.not.ok(loaded.includes(UNDICI), "undici was loaded");
    stop.abort();
    await following;
  } finally {
    await c.close();
  }
});

test.run();
