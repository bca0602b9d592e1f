/**
 * A node whose data directory is full: it keeps running what it has, refuses to take a process
 * on (the hand-off rolls back with the reason), never crashes, restarts while still full, and
 * takes the process once space is back — which then continues from where it was.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster, until } from "../helpers/cluster.ts";
import type { NodeStatus, ProcessInfo } from "../../schemas/api.schema.ts";

const full = suite("a full disk");
let c: TestCluster;
let mount: string;

/** Fills the filesystem at `dir` until a write fails; returns the filler's path. */
function fill(dir: string): string {
  const filler = join(dir, "filler");
  const chunk = Buffer.alloc(4096, 1);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(`${filler}-${i}`, chunk);
    } catch {
      return filler;
    }
  }
}

function unfill(dir: string): void {
  for (let i = 0; i < 1000; i++) rmSync(join(dir, `filler-${i}`), { force: true });
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
  assert.ok((await c.ps()).some((p) => p.name === "c4" && p.node === "alpha" && p.state === "running"), "c4 stopped running on alpha");
  const status = await c.post<NodeStatus>("beta", "status", {});
  assert.match(status.storage.join("\n"), /ENOSPC|no space/i);
  await c.stop("beta", "SIGTERM");
  await c.start("beta");
  assert.ok((await c.ps()).some((p) => p.name === "c4" && p.node === "alpha" && p.state === "running"));
  unfill(mount);
  const arrived = await c.waitRunningOn("c4", "beta", 30000);
  assert.is(arrived.generation, 1);
  assert.equal(await c.call("beta", "c4", "history"), ["kept"]);
});

full.run();
