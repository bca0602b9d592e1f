/**
 * ConfigSync against a real etcd: two machines' files following one sequence of revisions.
 * @module
 */
import { suite } from "../../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSync } from "../../../daemon/config/sync.ts";
import { type LoadedConfig, loadClusterConfig } from "../../../daemon/config/load.ts";
import { openStore } from "../../../daemon/store/open.ts";
import type { ClusterStore } from "../../../daemon/store/cluster-store.ts";
import { EtcdCluster } from "../../helpers/etcd.ts";
import { until } from "../../helpers/cluster.ts";

const sync = suite("config sync");
let etcd: EtcdCluster;
let root = "";
const opened: ClusterStore[] = [];
const watching: AbortController[] = [];

sync.before(async () => {
  etcd = await EtcdCluster.start({ members: 1 });
});
sync.after(async () => {
  await etcd.stop();
});
sync.before.each(() => {
  root = mkdtempSync(join(tmpdir(), "ferry-sync-"));
});
sync.after.each(async () => {
  for (const w of watching.splice(0)) w.abort();
  for (const s of opened.splice(0)) await s.close();
  rmSync(root, { recursive: true, force: true });
});

/** One machine: its own directory and cluster.yaml, a store client, and what its sync applied and refused. */
async function machine(node: string, cluster: string, processes: string) {
  const dir = join(root, node);
  mkdirSync(join(dir, "processes"), { recursive: true });
  const file = join(dir, "cluster.yaml");
  writeFileSync(file, configText(cluster, processes));
  const loaded = await loadClusterConfig(file);
  const store = await openStore(node, loaded, {});
  opened.push(store);
  const applied: string[] = [];
  const refusals: string[] = [];
  const s = new ConfigSync({
    file,
    node,
    store: store.config,
    stateDir: join(dir, "data", node),
    apply: (_loaded, revision) => applied.push(revision),
    reject: (error) => refusals.push(String((error as Error).message)),
  });
  mkdirSync(join(dir, "data", node), { recursive: true });
  await s.start(loaded);
  const stop = new AbortController();
  watching.push(stop);
  s.watch(stop.signal);
  return { dir, file, store, sync: s, applied, refusals, edit: (text: string) => writeFileSync(file, text), read: () => readFileSync(file, "utf8") };
}

function configText(cluster: string, processes: string): string {
  return `cluster:
  name: ${cluster}
  secret: s
  store: { etcd: ${JSON.stringify(etcd.endpoints)} }
nodes:
  alpha: { url: http://127.0.0.1:7101 }
  beta: { url: http://127.0.0.1:7102 }
processes:${processes || " {}"}
`;
}

sync("an edit read before another machine's revision refused it is not published over that revision", async () => {
  const cluster = `race${Date.now()}`;
  const alpha = await machine("alpha", cluster, "");
  const beta = await machine("beta", cluster, "");
  const first = (await alpha.store.config.current())!.revision;
  // Both files are at the first revision once each sync has started.
  // beta's watcher read its edit, but the sync has not published it yet...
  beta.edit(configText(cluster, "\n  fromBeta: { module: Tally, node: beta }"));
  const stale: LoadedConfig = await loadClusterConfig(beta.file);
  // ...when alpha's edit is published.
  alpha.edit(configText(cluster, "\n  fromAlpha: { module: Tally, node: alpha }"));
  await alpha.sync.localEdit(await loadClusterConfig(alpha.file));
  const won = (await alpha.store.config.current())!;
  assert.is.not(won.revision, first);
  // beta takes it, refusing the edit in its file and keeping it beside the file.
  await until(() => beta.refusals.length === 1 && /fromAlpha/.test(beta.read()), "beta to refuse its edit and take alpha's");
  assert.match(beta.refusals[0]!, /arrived from another machine/);
  assert.ok(readdirSync(beta.dir).some((f) => f.startsWith("cluster.yaml.rejected-")));
  // The edit event read before the rewrite comes through now: it must not undo alpha's edit.
  await beta.sync.localEdit(stale);
  const after = (await beta.store.config.current())!;
  assert.is(after.revision, won.revision, "the stale edit was published as a newer revision");
  assert.match(after.text, /fromAlpha/);
  assert.match(beta.read(), /fromAlpha/);
  assert.is(beta.refusals.length, 1);
  assert.equal(beta.applied.at(-1), won.revision);
});

sync("an edit still in the file when the sync takes it is published", async () => {
  const cluster = `edit${Date.now()}`;
  const alpha = await machine("alpha", cluster, "");
  const beta = await machine("beta", cluster, "");
  beta.edit(configText(cluster, "\n  fromBeta: { module: Tally, node: beta }"));
  await beta.sync.localEdit(await loadClusterConfig(beta.file));
  await beta.sync.settled();
  const now = (await alpha.store.config.current())!;
  assert.match(now.text, /fromBeta/);
  await until(() => /fromBeta/.test(alpha.read()), "alpha's file to follow");
});

sync.run();
