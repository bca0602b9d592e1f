import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";
import { commandExists, denoFromPackage, isLocalUrl, missingRuntime, NODE_DAEMON_FLAGS, nodeDaemonEnv } from "../../cli/daemon-command.ts";
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

test("a runtime is found as the system would find it: a path that exists, or an executable on PATH", () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-path-"));
  try {
    const [bin, other] = [join(dir, "bin"), join(dir, "other")];
    mkdirSync(bin);
    mkdirSync(other);
    writeFileSync(join(bin, "deno"), "#!/bin/sh\n");
    chmodSync(join(bin, "deno"), 0o755);
    writeFileSync(join(other, "plain"), "not a program\n");
    chmodSync(join(other, "plain"), 0o644);
    assert.ok(commandExists("deno", [other, bin].join(delimiter)));
    assert.not.ok(commandExists("deno", other), "not in any PATH directory");
    assert.not.ok(commandExists("plain", other), "a file without the execute bit is no program");
    assert.ok(commandExists(join(bin, "deno"), ""), "a path is taken as it is");
    assert.not.ok(commandExists(join(other, "deno"), [other, bin].join(delimiter)), "a path is not looked up on PATH");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Ferry installed into a project finds the deno npm package that project installed", () => {
  const project = mkdtempSync(join(tmpdir(), "ferry-project-"));
  try {
    const ferry = join(project, "node_modules", "ferry");
    const deno = join(project, "node_modules", "@deno", `${process.platform}-${process.arch}`, process.platform === "win32" ? "deno.exe" : "deno");
    mkdirSync(ferry, { recursive: true });
    mkdirSync(join(deno, ".."), { recursive: true });
    writeFileSync(deno, "");
    assert.is(denoFromPackage(ferry), deno);
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});

test("a node whose runtime cannot be found is refused in one line that says what to install", () => {
  const problem = missingRuntime("beta", "deno", "deno", "/nonexistent-ferry-dir");
  assert.ok(problem);
  assert.is(problem.code, "not_found");
  assert.is(problem.message, 'Node "beta" runs on Deno (runtime: deno), but no "deno" was found');
  assert.match(problem.hint ?? "", /npm install deno/);
  assert.is(missingRuntime("alpha", "node", process.execPath), undefined);
});

test.run();
