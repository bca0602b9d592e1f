/**
 * The test cluster helper itself: a daemon that dies while starting is reported as such, with
 * what it printed, instead of as a node that did not answer for 20 s.
 */
import { writeFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { TestCluster } from "./cluster.ts";

const cluster = suite("TestCluster");

cluster("start reports a daemon that exits before it answers, with what it printed", async () => {
  const c = await TestCluster.create({ nodes: ["alpha"], modules: [] });
  try {
    writeFileSync(c.file, "cluster: { name: t\nnodes: [\n");
    let error: Error | undefined;
    await c.start("alpha").catch((e: Error) => (error = e));
    assert.ok(error, "start resolved for a daemon that cannot read its config");
    assert.match(error.message, /^node alpha exited \(code \d+\) before it answered/);
    assert.match(error.message, /cluster\.yaml:\d+:\d+/, "its own one-line error comes with it");
    assert.not.ok(c.children.has("alpha"));
  } finally {
    await c.close();
  }
});

cluster.run();
