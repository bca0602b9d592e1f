/**
 * Replicated checkpoints in a real etcd: what an adopter restores is the newest the owner took.
 * @module
 */
import { suite } from "../../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadClusterConfig } from "../../../daemon/config/load.ts";
import { openStore } from "../../../daemon/store/open.ts";
import type { ClusterStore } from "../../../daemon/store/cluster-store.ts";
import { decodeState, encodeState } from "../../../daemon/snapshot/codec.ts";
import { EtcdCluster } from "../../helpers/etcd.ts";

const replicas = suite("replicated checkpoints");
let etcd: EtcdCluster;
let root = "";
const opened: ClusterStore[] = [];

replicas.before(async () => {
  etcd = await EtcdCluster.start({ members: 1 });
});
replicas.after(async () => {
  await etcd.stop();
});
replicas.before.each(() => {
  root = mkdtempSync(join(tmpdir(), "ferry-replicas-"));
});
replicas.after.each(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(root, { recursive: true, force: true });
});

async function storeOf(node: string): Promise<ClusterStore> {
  mkdirSync(join(root, "processes"), { recursive: true });
  const file = join(root, "cluster.yaml");
  writeFileSync(file, `cluster:
  name: replicas${Date.now()}
  secret: s
  store: { etcd: ${JSON.stringify(etcd.endpoints)} }
nodes:
  ${node}: { url: http://127.0.0.1:7101 }
`);
  const store = await openStore(node, await loadClusterConfig(file), {});
  opened.push(store);
  return store;
}

const stateWith = (note: string) => encodeState({ className: "Tally", fields: { note } });

replicas("a checkpoint whose replication starts after a newer one's does not replace it", async () => {
  const store = await storeOf("alpha");
  assert.ok(await store.claimFresh({ name: "p", module: "Tally", args: [], generation: 0, migrations: 0, lastDowntimeMs: null }));
  const replicated = [
    store.replicate({ name: "p", generation: 0, at: 2_000, bytes: stateWith("newer"), status: "owned" }),
    store.replicate({ name: "p", generation: 0, at: 1_000, bytes: stateWith("older"), status: "owned" }),
  ];
  await Promise.all(replicated);
  const bytes = await store.adoptableCheckpoint("alpha", "p", 0);
  assert.is(decodeState(bytes!).fields.note, "newer");
});

replicas("checkpoints replicated one after the other: the store holds the last", async () => {
  const store = await storeOf("alpha");
  assert.ok(await store.claimFresh({ name: "q", module: "Tally", args: [], generation: 0, migrations: 0, lastDowntimeMs: null }));
  const replicated = ["one", "two", "three"].map((note, i) => store.replicate({ name: "q", generation: 0, at: 1_000 + i, bytes: stateWith(note), status: "owned" }));
  await Promise.all(replicated);
  assert.is(decodeState((await store.adoptableCheckpoint("alpha", "q", 0))!).fields.note, "three");
});

replicas.run();
