import { test } from "uvu";
import * as assert from "uvu/assert";
import { Trace } from "../../daemon/trace.ts";

test("a full trace drops its oldest marks and still lists a process's marks oldest first", () => {
  const trace = new Trace("alpha", 4);
  for (let i = 0; i < 10; i++) trace.mark("handoff", `step ${i}`, i % 2 ? "odd" : "even");
  assert.equal(trace.of("even").map((m) => m.step), ["step 6", "step 8"]);
  assert.equal(trace.of("odd").map((m) => m.step), ["step 7", "step 9"]);
  trace.clear();
  trace.mark("api", "again", "even");
  assert.equal(trace.of("even").map((m) => m.step), ["again"]);
});

test.run();
