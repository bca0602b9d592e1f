import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isLocalUrl, NODE_DAEMON_FLAGS, nodeDaemonEnv } from "../../cli/daemon-command.ts";
import { repo } from "../helpers/cluster.ts";

test("a node URL on loopback, in any spelling, is local", () => {
  for (const url of ["http://127.0.0.1:7101", "http://127.4.5.6:7101", "http://localhost:7101", "http://LOCALHOST.:7101", "http://alpha.localhost:7101", "http://[::1]:7101", "http://[::ffff:127.0.0.1]:7101", "https://[0:0:0:0:0:0:0:1]:7101"]) {
    assert.ok(isLocalUrl(url), url);
  }
});

test("this machine's host name is local; another address and a broken URL are not", () => {
  assert.ok(isLocalUrl(`http://${hostname()}:7101`));
  assert.not.ok(isLocalUrl("http://192.0.2.7:7101"), "a documentation address no machine has");
  assert.not.ok(isLocalUrl("http://[2001:db8::7]:7101"));
  assert.not.ok(isLocalUrl("not a url"));
});

test("the container image starts its daemon the way ferry up does", () => {
  const dockerfile = readFileSync(join(repo, "Dockerfile"), "utf8");
  assert.ok(dockerfile.includes(`exec node ${NODE_DAEMON_FLAGS.join(" ")} /opt/ferry/dist/cli/main.js daemon`), "Dockerfile's CMD has other V8 flags than NODE_DAEMON_FLAGS");
  // The defaults, not whatever this test run's environment sets.
  const own = process.env.MALLOC_ARENA_MAX;
  delete process.env.MALLOC_ARENA_MAX;
  try {
    for (const [name, value] of Object.entries(nodeDaemonEnv())) assert.match(dockerfile, new RegExp(`^ENV ${name}=${value}$`, "m"));
  } finally {
    if (own !== undefined) process.env.MALLOC_ARENA_MAX = own;
  }
});

test.run();
