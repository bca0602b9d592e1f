import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = new URL("../..", import.meta.url).pathname;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Relative imports of a file, type-only ones included: a cycle of types is a cycle of concepts. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+["'](\.[^"']+)["']/g)) out.push(resolve(dirname(file), m[1]!));
  for (const m of text.matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)) out.push(resolve(dirname(file), m[1]!));
  return out;
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "visiting") return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

test("no import cycle among the files of daemon/ and cli/", () => {
  const files = [...sources(join(root, "daemon")), ...sources(join(root, "cli"))];
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const cycle = findCycle(graph);
  assert.is(cycle?.map((f) => relative(root, f)).join(" → "), undefined);
});

test("the daemon never imports the CLI", () => {
  const offenders = sources(join(root, "daemon")).filter((f) => importsOf(f).some((i) => i.startsWith(join(root, "cli"))));
  assert.equal(offenders.map((f) => relative(root, f)), []);
});

test("the cycle finder finds a cycle (so the test above can fail)", () => {
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]);
  assert.equal(findCycle(graph), ["a", "b", "c", "a"]);
});

test.run();
