/**
 * Multi-machine mode: separate machines (their own project folder, processes/ and data directory;
 * their own network namespace where the host allows it) that share nothing but etcd and the
 * authenticated API.
 */
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { clusterYaml, type Layout, Machines } from "../helpers/machines.ts";
import { until } from "../helpers/cluster.ts";
import { decodeState } from "../../daemon/snapshot/mod.ts";
import { Buffer } from "node:buffer";
import type { NodeStatus } from "../../schemas/api.schema.ts";

/** cluster.yaml of a multi-machine cluster, with `processes`. */
function config(layout: Layout, processes: Record<string, string>, settings: Record<string, unknown> = {}): string {
  return clusterYaml(layout, {
    settings: { store: { etcd: layout.etcd }, checkpointIntervalMs: 200, balancer: { intervalMs: 200, goneAfterMs: 2000, minStayMs: 600000 }, ...settings },
    processes,
  });
}


/** The values of a config, whatever its key order, comments or layout. */
const dataOf = (text: string): string => canonical(parse(text));
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

// ------------------------------------------------------------------------------------------------

const edits = suite("one desired config, edited on any machine");
let lab: Machines;

edits.before(async () => {
  lab = await Machines.create({
    machines: [{ node: "alpha", modules: ["Tally"] }, { node: "beta", modules: ["Tally"] }],
    etcd: { members: 1 },
    config: (layout) => config(layout, { c: "module: Tally, node: alpha" }),
  });
  await lab.startAll();
  await lab.runsOn("c", "alpha");
});
edits.after(async () => lab.close());

edits("an edit on one machine moves the process, and the other machine's file follows with its comments", async () => {
  const beta = lab.machine("beta");
  writeFileSync(join(beta.dir, "cluster.yaml"), "# beta's own note\n" + beta.readConfig());
  await until(async () => (await beta.post<NodeStatus>("status", {})).configError === null, "beta to take its comment");
  await lab.machine("alpha").client().post("call", { name: "c", method: "note", args: ["kept"] });
  const migrate = await lab.machine("alpha").cli(["migrate", "c", "beta"]);
  assert.is(migrate.code, 0, migrate.stderr);
  const moved = await lab.runsOn("c", "beta");
  assert.is(moved.generation, 1);
  assert.equal((await beta.client().post("call", { name: "c", method: "history" })).value, ["kept"]);
  await until(() => /node: beta/.test(beta.readConfig()), "beta's file to follow");
  assert.match(beta.readConfig(), /^# beta's own note/);
  const statuses = await Promise.all(lab.all.map((m) => m.post<NodeStatus>("status", {})));
  assert.equal(new Set(statuses.map((s) => s.configRevision)).size, 1, "the machines run different revisions");
  assert.equal(statuses.map((s) => s.store), ["etcd", "etcd"]);
});

edits("two machines editing at once: one edit wins, the other is refused naming the revision and kept beside the file", async () => {
  const [alpha, beta] = [lab.machine("alpha"), lab.machine("beta")];
  const base = alpha.readConfig();
  await until(() => dataOf(beta.readConfig()) === dataOf(base), "both files at the same revision");
  // Both saved within a few ms, each based on the same revision.
  alpha.writeConfig(alpha.readConfig().replace("processes:", "processes:\n  fromAlpha: { module: Tally, node: alpha }"));
  beta.writeConfig(beta.readConfig().replace("processes:", "processes:\n  fromBeta: { module: Tally, node: beta }"));
  await until(() => dataOf(alpha.readConfig()) === dataOf(beta.readConfig()), "both files to hold the same revision", 20000);
  const final = parse(alpha.readConfig()) as { processes: Record<string, unknown> };
  const won = ["fromAlpha", "fromBeta"].filter((n) => n in final.processes);
  assert.is(won.length, 1, `exactly one edit landed: ${Object.keys(final.processes)}`);
  const loser = won[0] === "fromAlpha" ? beta : alpha;
  const kept = readdirSync(loser.dir).filter((f) => f.startsWith("cluster.yaml.rejected-"));
  assert.is(kept.length, 1, `the refused edit is kept beside ${loser.node}'s file`);
  assert.match(readFileSync(join(loser.dir, kept[0]!), "utf8"), won[0] === "fromAlpha" ? /fromBeta/ : /fromAlpha/);
  // The refused machine rewrites its file with the winning revision, then records the refusal:
  // the files can agree a moment before its status says why.
  const status = await until(async () => {
    const now = await loser.post<NodeStatus>("status", {});
    return now.configError ? now : undefined;
  }, `${loser.node} to report the refusal`);
  assert.match(status.configError ?? "", /changed at revision \d+|arrived from another machine/);
});

edits("a CLI edit made on a machine whose daemon was down is refused at its start when another machine published meanwhile", async () => {
  const [alpha, beta] = [lab.machine("alpha"), lab.machine("beta")];
  await beta.stop();
  const create = await alpha.cli(["create", "late", "Tally", "--node", "alpha"]);
  assert.is(create.code, 0, create.stderr);
  // beta's file is older now; an edit of it was based on the revision before "late".
  appendFileSync(join(beta.dir, "cluster.yaml"), "  offline: { module: Tally, node: beta }\n");
  await beta.start();
  await until(() => /late:/.test(beta.readConfig()), "beta's file to take the newer revision");
  assert.not.match(beta.readConfig(), /offline:/);
  assert.ok(readdirSync(beta.dir).some((f) => f.startsWith("cluster.yaml.rejected-") && readFileSync(join(beta.dir, f), "utf8").includes("offline:")));
});

// ------------------------------------------------------------------------------------------------

const lost = suite("a machine lost with its disk");
let lab2: Machines;

lost.before(async () => {
  lab2 = await Machines.create({
    machines: [{ node: "alpha", modules: ["Tally"] }, { node: "beta", modules: ["Tally"] }],
    etcd: { members: 1 },
    config: (layout) => config(layout, { u1: "module: Tally", u2: "module: Tally, args: [two]" }),
  });
  await lab2.startAll();
  await until(async () => (await lab2.ps()).filter((p) => p.state === "running").length === 2, "u1 and u2 running");
});
lost.after(async () => lab2.close());

lost("kill -9 of a machine and deletion of its data directory: its unpinned processes run elsewhere with their last checkpointed state, once", async () => {
  const placed = await lab2.ps();
  const victim = lab2.machine(placed[0]!.node);
  const survivor = lab2.all.find((m) => m !== victim)!;
  const theirs = placed.filter((p) => p.node === victim.node).map((p) => p.name);
  for (const name of theirs) await victim.client().post("call", { name, method: "note", args: [`${name} before the loss`] });
  // Each has a checkpoint holding its note in the store (small ones live there).
  const etcd = lab2.etcd!.client();
  try {
    await until(async () => {
      for (const name of theirs) {
        const value = await etcd.get(`ferry/machines/checkpoints/${name}`).string();
        const data = value ? (JSON.parse(value) as { data?: string }).data : undefined;
        const fields = data ? decodeState(new Uint8Array(Buffer.from(data, "base64"))).fields as { calls?: string[] } : undefined;
        if (!fields?.calls?.includes(`${name} before the loss`)) return false;
      }
      return true;
    }, "the notes to be in the store's checkpoints");
  } finally {
    etcd.close();
  }
  await victim.kill();
  victim.deleteDataDir();
  for (const name of theirs) {
    const p = await lab2.runsOn(name, survivor.node, 30000);
    assert.is(p.generation, 1);
    assert.equal((await survivor.client().post("call", { name, method: "history" })).value, [`${name} before the loss`]);
  }
  await victim.start();
  await until(async () => (await victim.post<NodeStatus>("status", {})).balancer.rounds >= 3, "the restarted machine's balancer to run");
  const copies = (await lab2.ps()).filter((p) => theirs.includes(p.name) && p.state === "running");
  assert.is(copies.length, theirs.length, JSON.stringify(copies));
});

edits.run();
lost.run();
