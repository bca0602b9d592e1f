/**
 * The etcd test helper against the real `etcd` binary: clusters come up healthy, survive a
 * member's SIGKILL, freeze and thaw, stop and start with their data, and a crashed test run's
 * members do not outlive it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type Etcd3, GRPCDeadlineExceededError } from "etcd3";
import { EtcdCluster } from "./etcd.ts";
import { procState } from "./child.ts";
import { waitFor } from "./wait.ts";

const etcd = suite("EtcdCluster");
const open: EtcdCluster[] = [];
const clients: Etcd3[] = [];
etcd.after.each(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const e of open.splice(0)) await e.stop();
});

async function start(members: 1 | 3): Promise<EtcdCluster> {
  const cluster = await EtcdCluster.start({ members });
  open.push(cluster);
  return cluster;
}

function client(cluster: EtcdCluster, endpoints?: string[]): Etcd3 {
  const c = cluster.client(endpoints);
  clients.push(c);
  return c;
}

const deadline = (ms: number) => ({ deadline: Date.now() + ms });

etcd("start() brings up one member that serves put/get; stop() kills it and removes its data dir", async () => {
  const cluster = await start(1);
  assert.is(cluster.endpoints.length, 1);
  assert.match(cluster.endpoints[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
  const c = client(cluster);
  const status = await c.maintenance.status(deadline(5_000));
  assert.is.not(String(status.leader), "0");
  await c.put("greeting").value("hello").options(deadline(5_000));
  assert.is(await c.get("greeting").options(deadline(5_000)).string(), "hello");
  const member = cluster.members[0]!;
  const pid = member.child!.pid!;
  assert.ok(existsSync(member.dataDir));
  await cluster.stop();
  assert.is(procState(pid), undefined, "the member's process is gone");
  assert.not.ok(existsSync(member.dataDir), "its data dir is removed");
});

etcd("three members agree on a leader; SIGKILL of the leader keeps put/get working; the member rejoins on restart", async () => {
  const cluster = await start(3);
  assert.is(new Set(cluster.endpoints).size, 3);
  const statuses = await Promise.all(cluster.endpoints.map((e) => client(cluster, [e]).maintenance.status(deadline(5_000))));
  const leaderId = String(statuses[0]!.leader);
  assert.ok(statuses.every((s) => String(s.leader) === leaderId), "every member names the same leader");
  const leader = statuses.findIndex((s) => String(s.header.member_id) === leaderId);
  assert.ok(leader >= 0, "the leader is one of the members");

  const pid = cluster.members[leader]!.child!.pid!;
  await cluster.kill(leader);
  assert.is(procState(pid), undefined, "the leader's process is gone");
  assert.equal(cluster.running().length, 2);
  await cluster.waitHealthy();
  const survivors = client(cluster);
  await survivors.put("after-kill").value("still here").options(deadline(5_000));
  assert.is(await survivors.get("after-kill").options(deadline(5_000)).string(), "still here");

  await cluster.restart(leader);
  await cluster.waitHealthy();
  // A linearizable read through the restarted member alone: it is back in the cluster.
  const rejoined = client(cluster, [cluster.endpoints[leader]!]);
  const value = await waitFor(() => rejoined.get("after-kill").options(deadline(2_000)).string(), "the restarted member to serve the value", 15_000);
  assert.is(value, "still here");
});

etcd("pause() freezes etcd so a call fails at its deadline; after resume() the value is served again", async () => {
  const cluster = await start(1);
  const c = client(cluster);
  await c.put("k").value("v").options(deadline(5_000));
  await cluster.pause();
  assert.is(procState(cluster.members[0]!.child!.pid!), "T", "the member is stopped");
  let guard: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    c.get("k").options(deadline(500)).string().then(() => "answered", (error: unknown) => (error instanceof GRPCDeadlineExceededError ? "deadline exceeded" : String(error))),
    new Promise((r) => (guard = setTimeout(r, 20_000, "hung"))),
  ]);
  clearTimeout(guard);
  assert.is(outcome, "deadline exceeded");
  await cluster.resume();
  await cluster.waitHealthy();
  // A new client: etcd3's circuit breaker holds a host off for 5 s after the failed attempts.
  assert.is(await client(cluster).get("k").options(deadline(5_000)).string(), "v");
});

etcd("down() stops every member keeping data: calls fail; up() serves what was written before", async () => {
  const cluster = await start(3);
  const c = client(cluster);
  await c.put("kept").value("yes").options(deadline(5_000));
  await cluster.down();
  assert.equal(cluster.running(), []);
  const failed = await c.get("kept").options(deadline(2_000)).string().then(() => false, () => true);
  assert.ok(failed, "a call to a stopped etcd fails");
  await cluster.up();
  assert.is(await client(cluster).get("kept").options(deadline(5_000)).string(), "yes");
});

etcd("start() kills the members a crashed test process left behind and removes their data", async () => {
  // A test process that starts etcd and dies by SIGKILL: no exit hook runs, its member survives it.
  const script = `
    import { EtcdCluster } from ${JSON.stringify(new URL("./etcd.ts", import.meta.url).pathname)};
    const e = await EtcdCluster.start({ members: 1 });
    console.log(JSON.stringify({ pid: e.members[0].child.pid, dir: e.members[0].dataDir }));
    process.kill(process.pid, "SIGKILL");`;
  const orphan = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`The crashing test process printed no member: "${out}"`));
      }
    });
  });
  assert.ok(procState(orphan.pid) !== undefined, "the orphaned member outlived its test process");
  await start(1);
  await waitFor(() => procState(orphan.pid) === undefined || procState(orphan.pid) === "Z", "the orphan to be killed", 10_000);
  assert.not.ok(existsSync(orphan.dir), "its data dir is removed");
});

etcd.run();
