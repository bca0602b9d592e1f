import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatBytes, formatMs, formatUptime, table } from "../../cli/format.ts";
import { formatEvent } from "../../cli/commands/events.ts";
import { describeMigration } from "../../cli/commands/migrate.ts";
import { errorLine, exitStatusOf, UsageError } from "../../cli/exit.ts";
import { ConfigError, FerryError } from "../../daemon/errors.ts";

test("table() aligns columns and does not pad the last one", () => {
  assert.is(table(["A", "BB", "C"], [["xxx", "y", "z"], ["", "yy", ""]]), "A    BB  C\nxxx  y   z\n     yy");
});

test("formatBytes() and formatMs() round to what people read", () => {
  assert.equal([0, 512, 1536, 48_100_000, 2_000_000_000].map(formatBytes), ["0 B", "512 B", "1.5 kB", "48.1 MB", "2.0 GB"]);
  assert.equal([0.348, 1.234, 14.4, 1500, 42_000].map(formatMs), ["0.35 ms", "1.2 ms", "14 ms", "1.5 s", "42 s"]);
  assert.equal([5_000, 720_000, 3_900_000, 190_000_000].map(formatUptime), ["5 s", "12 min", "1 h 5 min", "2 d 4 h"]);
});

test("describeMigration() prints the hand-off as one line, leaving out what is unknown", () => {
  const r = { process: "counter", from: "alpha", to: "beta", ms: 14, downtimeMs: 1.2, bytes: 512, generation: 3 };
  assert.is(describeMigration(r), "counter: alpha → beta in 14 ms (downtime 1.2 ms, 512 B moved)");
  assert.is(describeMigration({ ...r, downtimeMs: null, bytes: null }), "counter: alpha → beta in 14 ms");
});

test("formatEvent() prints time, node, type, process and the details that are present", () => {
  const time = "2025-01-01T10:00:00.000Z";
  assert.is(
    formatEvent({ seq: 1, time, node: "alpha", type: "transferred", process: "counter", from: "alpha", to: "beta", bytes: 512, ms: 3.2, generation: 2 }, 5),
    `${time}  alpha  transferred         counter  alpha → beta, 512 B in 3.2 ms, generation 2`,
  );
  assert.is(
    formatEvent({ seq: 2, time, node: "beta", type: "rolled-back", process: "counter", reason: "destination unreachable" }, 5),
    `${time}  beta   rolled-back         counter  reason: destination unreachable`,
  );
  assert.is(formatEvent({ seq: 3, time, node: "beta", type: "daemon-started" }), `${time}  beta  daemon-started      -`);
});

test("exitStatusOf() maps error codes to the documented exit statuses", () => {
  const status = (code: ConstructorParameters<typeof FerryError>[0]) => exitStatusOf(new FerryError(code, "x"));
  assert.equal(
    [status("config_invalid"), status("unreachable"), status("process_not_found"), status("method_not_found"), status("not_found"), status("timeout"), status("unauthorized"), status("conflict")],
    [2, 3, 4, 4, 4, 5, 6, 7],
  );
  assert.is(exitStatusOf(new ConfigError([{ file: "c.yaml", line: 1, col: 1, message: "m" }])), 2);
  assert.is(exitStatusOf(new UsageError("Unknown argument: x")), 2);
  assert.is(exitStatusOf(new TypeError("bug")), 1);
});

test("a FerryError knows whether retrying may help, from its code or an explicit override", () => {
  assert.is(new FerryError("unreachable", "x").retryable, true);
  assert.is(new FerryError("method_failed", "x").retryable, false);
  assert.is(new FerryError("conflict", "x", { retryable: false }).retryable, false);
});

test("errorLine() is the message and hint; unexpected errors keep their type and suggest --verbose", () => {
  assert.is(errorLine(new FerryError("timeout", "Too slow", { hint: "wait" })), "Too slow (wait)");
  assert.is(errorLine(new TypeError("x is undefined")), "TypeError: x is undefined (run with --verbose for details)");
});

test.run();
