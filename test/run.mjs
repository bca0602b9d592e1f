#!/usr/bin/env node
// Builds dist/, then runs the type check and every test/**/*.test.ts file, each in its own Node process (uvu per
// file, so a crash in one file cannot hide the others), a few files at a time, and ends with the
// plain summary line CI reads: `N passed, N failed`.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { availableParallelism } from "node:os";

const root = new URL("..", import.meta.url).pathname;
const filter = process.argv[2];
const parallel = Number(process.env.FERRY_TEST_JOBS ?? Math.max(2, availableParallelism()));

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, NODE_DISABLE_COLORS: "1", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code, signal) => resolve({ code: code ?? 1, signal, output }));
  });
}

/** Reads uvu's per-file totals; a file that crashed before printing them counts as one failure. */
function countOf(result) {
  const total = /Total:\s+(\d+)/.exec(result.output);
  const passed = /Passed:\s+(\d+)/.exec(result.output);
  const skipped = /Skipped:\s+(\d+)/.exec(result.output);
  if (!total || !passed) return { passed: 0, failed: 1 };
  const failed = Number(total[1]) - Number(passed[1]) - Number(skipped?.[1] ?? 0);
  return { passed: Number(passed[1]), failed: failed > 0 || result.code !== 0 ? Math.max(failed, 1) : 0 };
}

let passed = 0;
let failed = 0;
const started = Date.now();

// The CLI and the daemons the tests start run the built JavaScript: build it from these sources.
const build = await run(process.execPath, [join(root, "scripts/build.mjs"), "--quiet"]);
if (build.code !== 0) {
  console.log("FAIL build\n" + build.output);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

if (!filter) {
  const tsc = await run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."]);
  if (tsc.code === 0) {
    passed++;
    console.log("ok   typecheck");
  } else {
    failed++;
    console.log("FAIL typecheck\n" + tsc.output);
  }
}

const files = findTests(join(root, "test")).filter((f) => !filter || f.includes(filter));
const queue = [...files];
async function worker() {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const t0 = Date.now();
    const result = await run(process.execPath, ["--import", "tsx", file]);
    const c = countOf(result);
    passed += c.passed;
    failed += c.failed;
    const name = relative(root, file);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (c.failed) console.log(`FAIL ${name} (${secs}s)\n${result.output}`);
    else console.log(`ok   ${name}: ${c.passed} passed (${secs}s)`);
  }
}
await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));

console.log(`\ntook ${((Date.now() - started) / 1000).toFixed(1)}s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
