import { test } from "uvu";
import * as assert from "uvu/assert";
import { delay, every, Manager, TaskGroup } from "../../daemon/manager.ts";

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

test("a spawned task's rejection is reported with its name, never unhandled", async () => {
  const reports: string[] = [];
  const tasks = new TaskGroup((source, error) => reports.push(`${source}: ${(error as Error).message}`));
  tasks.spawn("append to a closed journal", Promise.reject(new Error("journal is closed")));
  tasks.spawn("throws at once", () => {
    throw new Error("sync");
  });
  await tasks.drain();
  assert.equal(reports.sort(), ["append to a closed journal: journal is closed", "throws at once: sync"]);
});

test("drain() waits for tasks spawned while draining", async () => {
  const tasks = new TaskGroup(() => {});
  const order: string[] = [];
  tasks.spawn("outer", async () => {
    await delay(5);
    tasks.spawn("inner", async () => {
      await delay(5);
      order.push("inner");
    });
    order.push("outer");
  });
  await tasks.drain();
  assert.equal(order, ["outer", "inner"]);
  assert.is(tasks.size, 0);
});

test("every() ticks until its signal aborts, reports a failing tick and carries on", async () => {
  const reports: string[] = [];
  let ticks = 0;
  const manager = new Manager((source) => reports.push(source));
  manager.add(every("flaky", 1, () => {
    ticks++;
    if (ticks === 2) throw new Error("once");
  }, (source) => reports.push(source)));
  manager.start();
  await until(() => ticks >= 4, "four ticks");
  await manager.stop();
  const after = ticks;
  await delay(20);
  assert.is(ticks, after, "ticked after stop()");
  assert.equal(reports, ["flaky"]);
});

test("stop() aborts every runnable, waits for them, and is idempotent", async () => {
  const manager = new Manager(() => {});
  const stopped: string[] = [];
  let started = 0;
  for (const name of ["a", "b"]) {
    manager.add({
      name,
      start: (signal) => new Promise<void>((resolve) => (started++, signal).addEventListener("abort", () => setTimeout(() => {
        stopped.push(name);
        resolve();
      }, 5))),
    });
  }
  manager.start();
  await until(() => started === 2, "both to start");
  const first = manager.stop();
  assert.is(manager.stop(), first);
  await first;
  assert.equal(stopped.sort(), ["a", "b"]);
});

test("a runnable stopped before it started never starts", async () => {
  const manager = new Manager(() => {});
  let started = false;
  manager.add({ name: "late", start: async () => {
    started = true;
  } });
  manager.start();
  await manager.stop();
  assert.not.ok(started);
});

test("a runnable that fails or ends by itself is reported", async () => {
  const reports: string[] = [];
  const manager = new Manager((source, error) => reports.push(`${source}: ${(error as Error).message}`));
  manager.add({ name: "crasher", start: async () => {
    throw new Error("boom");
  } });
  manager.add({ name: "quitter", start: async () => {} });
  manager.start();
  await until(() => reports.length === 2, "two reports");
  await manager.stop();
  assert.equal(reports.sort(), ["crasher: boom", "quitter: quitter stopped by itself"]);
});

test.run();
