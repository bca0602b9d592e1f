import { test } from "uvu";
import * as assert from "uvu/assert";
import { daemonLog } from "../../daemon/log.ts";

test("a text line reads as pino's JSON line turned into text", async () => {
  const text: string[] = [];
  const json: string[] = [];
  const logText = await daemonLog("alpha", { format: "text", write: (line) => text.push(line) });
  const logJson = await daemonLog("alpha", { format: "json", write: (line) => json.push(line) });
  const message = 'ferry: "quoted" %s 100% é\nsecond line';
  for (const level of ["info", "warn", "error"] as const) {
    logText(level, message);
    logJson(level, message);
  }
  assert.is(text.length, 3);
  assert.is(json.length, 3);
  for (let i = 0; i < 3; i++) {
    const record = JSON.parse(json[i]!) as { level: string; time: string; node: string; msg: string };
    assert.is(record.node, "alpha");
    assert.is(record.msg, message);
    const [, time, level, rest] = /^(\S+) (\S+)\s+([\s\S]*)\n$/.exec(text[i]!)!;
    assert.is(level, record.level.toUpperCase());
    assert.is(rest, message);
    assert.ok(Math.abs(Date.parse(time!) - Date.parse(record.time)) < 1000);
  }
  assert.match(text[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  ferry: /);
});

test.run();
