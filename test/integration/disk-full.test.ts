/**
 * A node whose data directory is full: it keeps running what it has, refuses to take a process
 * on (the hand-off rolls back with the reason), never crashes, restarts while still full, and
 * takes the process once space is back — which then continues from where it was.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { NodeStatus, ProcessInfo } from "../../schemas/api.schema.ts";

const full = suite("a full disk");
let c: TestCluster;
let mount: string;

/** Fills the filesystem at `dir` to the last byte (ever smaller files until none fits). */
function fill(dir: string): void {
  let i = 0;
  for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
    for (;;) {
      try {
        writeFileSync(join(dir, `filler-${i++}`), Buffer.alloc(size, 1));
      } catch {
        break;
      }
    }
  }
}

function unfill(dir: string): void {
  for (let i = 0; i < 5000; i++) rmSync(join(dir, `filler-${i}`), { force: true });
}

full.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], settings: { checkpointIntervalMs: 100 }, processes: { c4: "module: Tally, node: alpha" } });
  mount = join(c.dir, ".ferry/beta");
  mkdirSync(mount, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]);
  await c.start("alpha");
  await c.start("beta");
  await c.waitRunningOn("c4", "alpha");
});
full.after(async () => {
  await c.stop("beta", "SIGKILL");
  try {
    execFileSync("umount", [mount]);
  } finally {
    await c.close();
  }
});

full("a move onto the full node waits with the reason; the node keeps answering and survives a restart; after space returns the process arrives intact", async () => {
  await c.call("alpha", "c4", "note", ["kept"]);
  fill(mount);
  c.writeConfig({ c4: "module: Tally, node: beta" });
  const waiting = await until(async () => (await c.post<ProcessInfo[]>("beta", "ps", {})).find((p) => p.name === "c4" && /cannot write its data directory|cannot store it|ENOSPC/.test(p.error ?? "")), "beta to say why it waits", 15000);
  assert.is(waiting.state, "starting");
  await until(async () => (await c.post<NodeStatus>("beta", "status", {})).storage.some((line) => /ENOSPC|no space/i.test(line)), "beta's status to name the full disk");
  await c.waitRunningOn("c4", "alpha");
  await c.stop("beta", "SIGTERM");
  await c.start("beta");
  await c.waitRunningOn("c4", "alpha");
  assert.equal(await c.call("alpha", "c4", "history"), ["kept"]);
  unfill(mount);
  const arrived = await c.waitRunningOn("c4", "beta", 30000);
  assert.is(arrived.generation, 1);
  assert.equal(await c.call("beta", "c4", "history"), ["kept"]);
});

full.run();
