import { test } from "uvu";
import * as assert from "uvu/assert";
import { execWord, systemdUnit, unitName } from "../../cli/systemd-unit.ts";

const command = { command: "/usr/bin/node", args: ["/opt/ferry/cli/bin.mjs", "daemon", "--node", "alpha", "--config", "/srv/ferry/cluster.yaml"] };
const options = { node: "alpha", cluster: "demo", configFile: "/srv/ferry/cluster.yaml", command };

const lines = (text: string) => text.split("\n");

test("systemdUnit() runs the daemon by absolute paths from the cluster's folder, restarts on failure, stops with SIGTERM", () => {
  const unit = lines(systemdUnit(options));
  assert.ok(unit.includes("ExecStart=/usr/bin/node /opt/ferry/cli/bin.mjs daemon --node alpha --config /srv/ferry/cluster.yaml"));
  assert.ok(unit.includes("WorkingDirectory=/srv/ferry"));
  assert.ok(unit.includes("Restart=on-failure"));
  assert.ok(unit.includes("KillSignal=SIGTERM"));
  assert.ok(unit.includes("TimeoutStopSec=120"));
  assert.ok(unit.includes("WantedBy=multi-user.target"));
  assert.not.ok(unit.some((l) => /npx|FERRY_SECRET=\S/.test(l) && !l.startsWith("#")));
  assert.not.ok(unit.some((l) => l.startsWith("User=")));
});

test("systemdUnit() names the user of a system unit, and a user unit wants default.target", () => {
  assert.ok(lines(systemdUnit({ ...options, runAs: "ferry" })).includes("User=ferry"));
  const user = lines(systemdUnit({ ...options, user: true, runAs: "ferry" }));
  assert.ok(user.includes("WantedBy=default.target"));
  assert.not.ok(user.some((l) => l.startsWith("User=")));
});

test("execWord() quotes what systemd would split and doubles its specifiers", () => {
  assert.is(execWord("/opt/ferry/cli/bin.mjs"), "/opt/ferry/cli/bin.mjs");
  assert.is(execWord("/opt/my ferry/bin.mjs"), '"/opt/my ferry/bin.mjs"');
  assert.is(execWord("50%"), "50%%");
  assert.is(execWord("$HOME"), "$$HOME");
  assert.is(execWord('a"b'), '"a\\"b"');
});

test("systemdUnit() sets the variables the daemon's command line asks for", () => {
  const unit = lines(systemdUnit({ ...options, command: { ...command, env: { MALLOC_ARENA_MAX: "2" } } }));
  assert.ok(unit.includes("Environment=MALLOC_ARENA_MAX=2"));
  assert.not.ok(lines(systemdUnit(options)).some((l) => l.startsWith("Environment=")));
});

test("unitName() is ferry-<node>.service", () => {
  assert.is(unitName("alpha"), "ferry-alpha.service");
});

test.run();
