import { test } from "uvu";
import * as assert from "uvu/assert";
import { Worker } from "node:worker_threads";
import { onThisThread, sharedClockMs } from "../../../daemon/executor/clock.ts";

test("a stamp taken in a worker thread falls within the round trip that brought it back", async () => {
  // The worker answers each message with its own sharedClockMs(): on this thread's scale, that
  // moment is after the message was sent and before the answer arrived.
  const worker = new Worker(
    `const { parentPort } = require("node:worker_threads");
     parentPort.on("message", () => parentPort.postMessage(performance.timeOrigin + performance.now()));`,
    { eval: true },
  );
  try {
    for (let i = 0; i < 20; i++) {
      const sentAt = performance.now();
      const stamp = await new Promise<number>((resolve) => {
        worker.once("message", resolve);
        worker.postMessage(null);
      });
      const answeredAt = performance.now();
      const at = stamp - performance.timeOrigin;
      // A tolerance for the clocks' rounding only (timeOrigin is a float of epoch milliseconds).
      assert.ok(at >= sentAt - 0.05 && at <= answeredAt + 0.05, `stamp ${at.toFixed(3)} outside [${sentAt.toFixed(3)}, ${answeredAt.toFixed(3)}]`);
    }
  } finally {
    await worker.terminate();
  }
});

test("a stamp is held within the round trip, and a missing one falls back", () => {
  const now = sharedClockMs() - performance.timeOrigin;
  assert.is(onThisThread(performance.timeOrigin + now, now - 1, now + 1), now);
  assert.is(onThisThread(performance.timeOrigin + now - 50, now - 1, now + 1), now - 1);
  assert.is(onThisThread(performance.timeOrigin + now + 50, now - 1, now + 1), now + 1);
  assert.is(onThisThread(undefined, 1, 2), 2);
  assert.is(onThisThread(undefined, 1, 2, 1.5), 1.5);
  assert.is(onThisThread(Number.NaN, 1, 2), 2);
});

test.run();
