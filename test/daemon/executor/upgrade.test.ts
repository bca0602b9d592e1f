import { suite } from "uvu";
import * as assert from "uvu/assert";
import { call, moduleDir, recordingPool, rejection, startReq, until } from "./harness.ts";

// The executor's side of a hot upgrade, with real worker threads and module files: a suspended
// process's fields move into another version's class, which upgrade() and resume() must accept
// before the old instance is dropped; a dry run touches nothing.

const v1 = `
export default class Counter {
  count = 0;
  hooks: string[] = [];
  async run(ctx: { signal: AbortSignal; sleep(ms: number): Promise<void> }) {
    while (!ctx.signal.aborted) { this.count++; await ctx.sleep(5); }
  }
  suspend() { this.hooks.push("suspend"); }
  resume() { this.hooks.push("resume"); }
  get() { return { code: "v1", count: this.count, hooks: this.hooks }; }
}
`;
const v2 = v1
  .replace('code: "v1"', 'code: "v2"')
  .replace("suspend() {", "upgrade(from: string) { this.hooks.push('upgrade from ' + from); this.count += 1000; }\n  suspend() {");
const refusing = v1.replace('code: "v1"', 'code: "bad"').replace("suspend() {", "upgrade() { this.count = -1; throw new Error('refused'); }\n  suspend() {");

const upgrade = suite("executor upgrade");
const files = moduleDir({ "V1.ts": v1, "V2.ts": v2, "Refusing.ts": refusing });
upgrade.after(() => files.remove());

interface Answer {
  code: string;
  count: number;
  hooks: string[];
}

const swap = (name: string, module: string, version: string, extra: { run?: boolean; dryRun?: boolean } = {}) => ({
  type: "upgrade" as const,
  name,
  modulePath: files.path(module),
  moduleVersion: version,
  fromVersion: "v1",
  run: extra.run ?? true,
  dryRun: extra.dryRun ?? false,
});

upgrade("a suspended process takes the new class with its fields: upgrade(fromVersion), resume(), then run() again", async () => {
  const { pool } = recordingPool();
  try {
    await pool.start(startReq(files.path("V1"), "c"));
    await until(async () => (await call<Answer>(pool, "c", "get")).count > 3, "c counting");
    await pool.request({ type: "suspend", name: "c", deadlineMs: 5000 });
    const before = await call<Answer>(pool, "c", "get");
    const reply = await pool.request(swap("c", "V2", "v2"));
    assert.equal(reply.methods, ["get"]);
    const after = await call<Answer>(pool, "c", "get");
    assert.is(after.code, "v2");
    assert.ok(after.count >= before.count + 1000, `fields kept, upgrade() applied: ${after.count}`);
    assert.equal(after.hooks, ["suspend", "upgrade from v1", "resume"]);
    await until(async () => (await call<Answer>(pool, "c", "get")).count > after.count, "run() to go on with the new code");
  } finally {
    await pool.close();
  }
});

upgrade("a throwing upgrade() keeps the old instance, which activate resumes from the captured state", async () => {
  const { pool } = recordingPool();
  try {
    await pool.start(startReq(files.path("V1"), "c"));
    await until(async () => (await call<Answer>(pool, "c", "get")).count > 3, "c counting");
    await pool.request({ type: "suspend", name: "c", deadlineMs: 5000 });
    const before = await call<Answer>(pool, "c", "get");
    const error = await rejection(pool.request(swap("c", "Refusing", "v3")));
    assert.is(error.code, "upgrade_failed");
    assert.match(error.message, /^Counter\.upgrade\("v1"\) of version "v3" threw: .*refused/);
    const kept = await call<Answer>(pool, "c", "get");
    assert.equal([kept.code, kept.count], ["v1", before.count]);
    await pool.request({ type: "activate", name: "c", generation: 0, run: true });
    await until(async () => (await call<Answer>(pool, "c", "get")).count > before.count, "the old code to count on");
  } finally {
    await pool.close();
  }
});

upgrade("a module that does not load fails the swap and changes nothing", async () => {
  const broken = moduleDir({ "Broken.ts": "export default class Counter {\n  run( {\n}\n" });
  const { pool } = recordingPool();
  try {
    await pool.start(startReq(files.path("V1"), "c"));
    await pool.request({ type: "suspend", name: "c", deadlineMs: 5000 });
    const error = await rejection(pool.request({ ...swap("c", "V2", "v9"), modulePath: broken.path("Broken") }));
    assert.is(error.code, "upgrade_failed");
    assert.match(error.message, /^Cannot load version "v9" of Counter: /);
    assert.is((await call<Answer>(pool, "c", "get")).code, "v1");
  } finally {
    await pool.close();
    broken.remove();
  }
});

upgrade("a dry run tries upgrade() on a copy and leaves the running process untouched", async () => {
  const { pool } = recordingPool();
  try {
    await pool.start(startReq(files.path("V1"), "c"));
    await until(async () => (await call<Answer>(pool, "c", "get")).count > 3, "c counting");
    await pool.request(swap("c", "V2", "v2", { dryRun: true }));
    const error = await rejection(pool.request(swap("c", "Refusing", "v3", { dryRun: true })));
    assert.is(error.code, "upgrade_failed");
    const now = await call<Answer>(pool, "c", "get");
    assert.equal([now.code, now.hooks], ["v1", []]);
    assert.ok(now.count > 0 && now.count < 1000, `the copy's changes stayed with the copy: ${now.count}`);
    await until(async () => (await call<Answer>(pool, "c", "get")).count > now.count, "it keeps running");
  } finally {
    await pool.close();
  }
});

upgrade("a snapshot of another version is taken over by upgrade(fromVersion) when it is started", async () => {
  const { pool } = recordingPool();
  try {
    await pool.start(startReq(files.path("V1"), "old"));
    await until(async () => (await call<Answer>(pool, "old", "get")).count > 3, "old counting");
    const { snapshot } = await pool.request({ type: "suspend", name: "old", deadlineMs: 5000 });
    const same = await pool.start({ ...startReq(files.path("V1"), "same", { snapshot: snapshot.slice(), hold: true }) });
    assert.is(same.upgradedFrom, undefined);
    const started = await pool.start({ ...startReq(files.path("V2"), "new", { snapshot: snapshot.slice(), hold: true }), moduleVersion: "v2" });
    assert.is(started.upgradedFrom, "v1");
    const answer = await call<Answer>(pool, "new", "get");
    assert.equal([answer.code, answer.hooks], ["v2", ["suspend", "upgrade from v1"]]);
    const refused = await rejection(pool.start({ ...startReq(files.path("Refusing"), "bad", { snapshot: snapshot.slice(), hold: true }), moduleVersion: "v3" }));
    assert.is(refused.code, "upgrade_failed");
  } finally {
    await pool.close();
  }
});

upgrade.run();
