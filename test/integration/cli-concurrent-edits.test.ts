// Several `ferry` commands editing cluster.yaml at once, against real daemons: no edit is lost,
// and a migration that a later edit overrode says so instead of reporting a success.
import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { TestCluster } from "../helpers/cluster.ts";

const edits = suite("cli edits at once");
let c: TestCluster;

/**
 * Takes 3 s to reach its safe point once asked to suspend, so that a hand-off lasts long enough
 * for two commands started together to have both edited cluster.yaml before it ends.
 */
const lingering = `export default class Lingering {
  ticks = 0;
  constructor(_args: string[]) {}
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) {
      this.ticks++;
      await ctx.sleep(20);
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
}
`;

edits.before(async () => {
  c = await TestCluster.create({
    nodes: ["alpha", "beta", "gamma"],
    modules: ["Tally"],
    settings: { suspendDeadlineMs: 20_000, handoffTimeoutMs: 60_000 },
  });
  writeFileSync(join(c.dir, "processes/Lingering.ts"), lingering);
  c.writeConfig({ slow: "module: Lingering, node: alpha" });
  await Promise.all([c.start("alpha"), c.start("beta"), c.start("gamma")]);
  await c.waitRunningOn("slow", "alpha");
});
edits.after(async () => c.close());

function placement(): Record<string, { module: string; node?: string }> {
  return (parse(c.readConfig()) as { processes: Record<string, { module: string; node?: string }> }).processes;
}

edits("two migrates of one process to different nodes: one succeeds, the other fails naming where it went", async () => {
  const [toBeta, toGamma] = await Promise.all([
    c.cli(["migrate", "slow", "beta", "--timeout", "60000"]),
    c.cli(["migrate", "slow", "gamma", "--timeout", "60000"]),
  ]);
  const outcomes = [{ to: "beta", ...toBeta }, { to: "gamma", ...toGamma }];
  const won = outcomes.filter((o) => o.code === 0);
  const lost = outcomes.filter((o) => o.code !== 0);
  assert.is(won.length, 1, outcomes.map((o) => `${o.to}: ${o.code} ${o.stdout}${o.stderr}`).join("\n"));
  const [winner, loser] = [won[0]!, lost[0]!];
  assert.is(loser.code, 7, loser.stderr);
  assert.is(
    loser.stderr.trim().split("\n").at(-1),
    `ferry: Process "slow" was sent to "${winner.to}" by a later edit of cluster.yaml; it will not run on "${loser.to}" (see \`ferry ps\`; \`ferry migrate slow ${loser.to}\` asks for it again)`,
  );
  assert.match(winner.stdout, new RegExp(`^slow: alpha → ${winner.to} in `));
  assert.is(placement().slow?.node, winner.to);
  await c.waitRunningOn("slow", winner.to, 30_000);
});

edits("creates started together all land in cluster.yaml and all start", async () => {
  const names = ["one", "two", "three"];
  const nodes = ["alpha", "beta", "gamma"];
  const results = await Promise.all(names.map((name, i) => c.cli(["create", name, "Tally", "--node", nodes[i]!])));
  for (const [i, r] of results.entries()) assert.is(r.code, 0, `${names[i]}: ${r.stderr}`);
  const declared = placement();
  for (const [i, name] of names.entries()) assert.equal(declared[name], { module: "Tally", args: [], node: nodes[i] }, name);
  assert.ok(declared.slow, "the earlier process is still declared");
  for (const [i, name] of names.entries()) await c.waitRunningOn(name, nodes[i]!);
});

edits.run();
