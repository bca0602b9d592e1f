// The supervisor of `ferry up`, with small stand-in programs instead of daemons.
import { test } from "uvu";
import * as assert from "uvu/assert";
import process from "node:process";
import { Supervisor, type ChildSpec } from "../../cli/supervisor.ts";

// The stand-ins are Node programs, also when this file runs under Deno (whose execPath is deno).
const node = "Deno" in globalThis ? "node" : process.execPath;

function script(name: string, code: string): ChildSpec {
  return { name, command: node, args: ["-e", code] };
}

function collect() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, options: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("Supervisor prefixes each child's output lines with its name, aligned", async () => {
  const io = collect();
  const supervisor = new Supervisor([script("a", "console.log('one\\ntwo'); console.error('oops')"), script("beta", "process.stdout.write('partial')")], io.options);
  supervisor.start();
  await supervisor.done;
  assert.equal(io.out.sort(), ["[a]    one", "[a]    two", "[beta] partial"]);
  assert.ok(io.err.includes("[a]    oops"));
});

test("Supervisor does not restart a child that exits with status 0 (asked to stop), and is then done", async () => {
  const io = collect();
  const supervisor = new Supervisor([script("alpha", "process.exit(0)")], io.options);
  supervisor.start();
  await supervisor.done;
  assert.equal(io.err, ['ferry up: node "alpha" stopped']);
});

test("Supervisor restarts a crashing child with doubling backoff, saying so", async () => {
  const io = collect();
  const supervisor = new Supervisor([script("alpha", "process.exit(3)")], { ...io.options, initialBackoffMs: 20, maxBackoffMs: 50 });
  supervisor.start();
  await until(() => io.err.length >= 4, "four restarts");
  await supervisor.stop();
  assert.equal(io.err.slice(0, 4), [
    'ferry up: node "alpha" exited with status 3; restarting in 20 ms',
    'ferry up: node "alpha" exited with status 3; restarting in 40 ms',
    'ferry up: node "alpha" exited with status 3; restarting in 50 ms',
    'ferry up: node "alpha" exited with status 3; restarting in 50 ms',
  ]);
});

test("Supervisor reports a program that cannot be started and keeps retrying it", async () => {
  const io = collect();
  const supervisor = new Supervisor([{ name: "ghost", command: "/nonexistent/ferry-daemon", args: [] }], { ...io.options, initialBackoffMs: 10 });
  supervisor.start();
  await until(() => io.err.length >= 2, "two attempts");
  await supervisor.stop();
  assert.match(io.err[0] ?? "", /^ferry up: node "ghost" could not be started \(.*ENOENT.*\); restarting in 10 ms$/);
});

test("stop() sends SIGTERM, waits for the children, and does not restart them", async () => {
  const io = collect();
  const child = "process.on('SIGTERM', () => { console.log('graceful'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);";
  const supervisor = new Supervisor([script("a", child), script("b", child)], io.options);
  supervisor.start();
  await until(() => io.out.filter((l) => l.endsWith("ready")).length === 2, "both children ready");
  await supervisor.stop();
  assert.equal(io.out.filter((l) => l.endsWith("graceful")).length, 2);
  assert.equal(io.err, []);
});

test("stop() kills a child that ignores SIGTERM once the grace period is over", async () => {
  const io = collect();
  const stubborn = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);";
  const supervisor = new Supervisor([script("a", stubborn)], { ...io.options, killAfterMs: 200 });
  supervisor.start();
  await until(() => io.out.length === 1, "child ready");
  const started = Date.now();
  await supervisor.stop();
  assert.ok(Date.now() - started >= 150, "waited for the grace period");
  assert.equal(io.err, ['ferry up: node "a" did not stop within 200 ms; killing it']);
});

test.run();
