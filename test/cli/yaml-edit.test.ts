import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { isFerryError } from "../../daemon/errors.ts";
import {
  addProcess,
  defaultNode,
  editConfigFile,
  removeProcess,
  setProcessNode,
  writeConfigText,
} from "../../cli/yaml-edit.ts";

// A file as people write them: aligned values and comments, a commented-out entry, blank lines
// between entries, comments inside entries, quotes, a footer.
const original = `# Ferry demo cluster
cluster:
  name: demo
  secret: change-me          # shared by all daemons and the CLI; FERRY_SECRET overrides

nodes:                       # every node's daemon address
  alpha: { url: http://127.0.0.1:7101 }
  beta:  { url: http://127.0.0.1:7102 }
  gamma: { url: http://127.0.0.1:7103, runtime: deno }

processes:                   # name -> placement; the name is the process's identity
  counter:
    module: Counter          # processes/Counter.ts (or .js), default-exported class
    args: []
    node: alpha              # edit this to migrate

  # sorts a file, line by line
  sorter:
    module: AlphabetSorter
    args: [data/input.txt, data/output.txt]
    node: "beta"
    # limits: { memoryMb: 64 }

  web: { module: Web, args: ["8080"], node: alpha }   # one-liner
# old:
#   module: Legacy

# end of file
`;

/** The FerryError `fn` throws; fails the test when it does not throw one. */
function failure(fn: () => unknown): { code: string; message: string; hint: string | undefined } {
  try {
    fn();
  } catch (error) {
    assert.ok(isFerryError(error), `expected a FerryError, got ${String(error)}`);
    return error;
  }
  assert.unreachable("did not throw");
  throw new Error("unreachable");
}

function processesOf(text: string): Record<string, { module: string; args?: string[]; node?: string }> {
  return (parse(text) as { processes: Record<string, { module: string; args?: string[]; node?: string }> }).processes;
}

// --- setProcessNode ------------------------------------------------------------------------------

test("setProcessNode() changes only the node value, keeping the aligned comment after it", () => {
  const edited = setProcessNode(original, "counter", "beta");
  assert.is(edited, original.replace("    node: alpha              # edit this", "    node: beta              # edit this"));
});

test("setProcessNode() keeps the quoting style of the value it replaces", () => {
  assert.is(setProcessNode(original, "sorter", "gamma"), original.replace('node: "beta"', 'node: "gamma"'));
});

test("setProcessNode() edits a one-line flow entry in place", () => {
  const edited = setProcessNode(original, "web", "gamma");
  assert.is(edited, original.replace('web: { module: Web, args: ["8080"], node: alpha }', 'web: { module: Web, args: ["8080"], node: gamma }'));
});

test("setProcessNode() returns the text unchanged when the process is already on that node", () => {
  assert.is(setProcessNode(original, "counter", "alpha"), original);
});

test("setProcessNode() adds a node key to an entry that has none, block or flow", () => {
  const text = "nodes: { a: { url: http://x:1 }, b: { url: http://y:1 } }\nprocesses:\n  p: { module: P }\n  q:\n    module: Q   # q\n";
  assert.is(setProcessNode(text, "p", "b"), text.replace("p: { module: P }", "p: { module: P, node: b }"));
  assert.is(setProcessNode(text, "q", "b"), text + "    node: b\n");
});

test("setProcessNode() refuses an unknown process, listing the known ones", () => {
  const error = failure(() => setProcessNode(original, "nope", "beta"));
  assert.is(error.code, "process_not_found");
  assert.is(error.message, 'No process named "nope" in cluster.yaml');
  assert.is(error.hint, "known processes: counter, sorter, web");
});

test("setProcessNode() refuses an unknown node, listing the known ones", () => {
  const error = failure(() => setProcessNode(original, "counter", "delta"));
  assert.is(error.code, "not_found");
  assert.is(error.message, 'No node named "delta" in cluster.yaml');
  assert.is(error.hint, "known nodes: alpha, beta, gamma");
});

test("setProcessNode() refuses a file with YAML syntax errors instead of guessing", () => {
  const error = failure(() => setProcessNode("nodes: { a: [\nprocesses:\n", "p", "a"));
  assert.is(error.code, "config_invalid");
  assert.match(error.message, /line \d+, column \d+/);
});

// --- addProcess ----------------------------------------------------------------------------------

test("addProcess() appends a block entry after the last process, before the trailing comments", () => {
  const edited = addProcess(original, "tally", { module: "Tally", args: ["x.txt"], node: "gamma" });
  const expected = original.replace(
    '   # one-liner\n# old:',
    "   # one-liner\n  tally:\n    module: Tally\n    args: [x.txt]\n    node: gamma\n# old:",
  );
  assert.is(edited, expected);
});

test("addProcess() writes a one-line flow entry when the neighbours are flow mappings", () => {
  const text = "nodes:\n  a: { url: http://x:1 }\nprocesses:\n  p: { module: P, node: a }   # first\n# tail\n";
  assert.is(
    addProcess(text, "q", { module: "Q", args: [], node: "a" }),
    "nodes:\n  a: { url: http://x:1 }\nprocesses:\n  p: { module: P, node: a }   # first\n  q: { module: Q, args: [], node: a }\n# tail\n",
  );
});

test("addProcess() follows the indentation of the existing entries", () => {
  const text = "nodes:\n    a: { url: http://x:1 }\nprocesses:\n    p:\n        module: P\n        node: a\n";
  assert.is(addProcess(text, "q", { module: "Q", node: "a" }), text + "    q:\n        module: Q\n        args: []\n        node: a\n");
});

test("addProcess() quotes args that YAML would not read back as the same strings", () => {
  const args = ["10", "true", "a, b", "x: y", "# not a comment", "", "naïve", "line\nbreak", "data/in.txt", "-v"];
  const edited = addProcess(original, "odd", { module: "Counter", args, node: "alpha" });
  assert.equal(processesOf(edited).odd, { module: "Counter", args, node: "alpha" });
  assert.ok(edited.includes('args: ["10", "true", "a, b", "x: y", "# not a comment", "", "naïve", "line\\nbreak", data/in.txt, -v]'));
});

test("addProcess() creates the processes section when the file has none", () => {
  const text = "cluster: { name: c, secret: s }\nnodes:\n  a: { url: http://x:1 }   # only node";
  assert.is(addProcess(text, "p", { module: "P" }), text + "\nprocesses:\n  p:\n    module: P\n    args: []\n    node: a\n");
});

test("addProcess() fills a processes section that holds only comments, keeping them", () => {
  const text = "nodes:\n  a: { url: http://x:1 }\nprocesses:   # none yet\n  # p: { module: P }\n# end\n";
  assert.is(
    addProcess(text, "q", { module: "Q" }),
    "nodes:\n  a: { url: http://x:1 }\nprocesses:   # none yet\n  q:\n    module: Q\n    args: []\n    node: a\n  # p: { module: P }\n# end\n",
  );
});

test("addProcess() turns an empty `processes: {}` into a block", () => {
  const text = "nodes:\n  a: { url: http://x:1 }\nprocesses: {}\n";
  assert.is(addProcess(text, "q", { module: "Q" }), "nodes:\n  a: { url: http://x:1 }\nprocesses:\n  q:\n    module: Q\n    args: []\n    node: a\n");
});

test("addProcess() without a node picks the node with the fewest processes, first on a tie", () => {
  assert.is(defaultNode(original), "gamma");
  assert.is(processesOf(addProcess(original, "p", { module: "P" })).p?.node, "gamma");
  assert.is(defaultNode("nodes: { a: { url: http://x:1 }, b: { url: http://y:1 } }\n"), "a");
});

test("addProcess() refuses a name that already exists", () => {
  const error = failure(() => addProcess(original, "sorter", { module: "X", node: "alpha" }));
  assert.is(error.code, "conflict");
  assert.is(error.message, 'Process "sorter" already exists in cluster.yaml');
  assert.match(error.hint ?? "", /ferry migrate sorter <node>/);
});

test("addProcess() refuses an unknown node and invalid names", () => {
  assert.is(failure(() => addProcess(original, "p", { module: "P", node: "delta" })).hint, "known nodes: alpha, beta, gamma");
  assert.is(failure(() => addProcess(original, "bad name", { module: "P" })).code, "bad_request");
  assert.is(failure(() => addProcess(original, "p", { module: "../evil" })).code, "bad_request");
});

// --- removeProcess -------------------------------------------------------------------------------

test("removeProcess() removes the entry's lines, its comments included, and nothing else", () => {
  const entry = '  # sorts a file, line by line\n  sorter:\n    module: AlphabetSorter\n    args: [data/input.txt, data/output.txt]\n    node: "beta"\n    # limits: { memoryMb: 64 }\n\n';
  assert.ok(original.includes(entry));
  assert.is(removeProcess(original, "sorter"), original.replace(entry, ""));
});

test("removeProcess() of the first entry leaves no blank line at the top of the section", () => {
  const entry = "  counter:\n    module: Counter          # processes/Counter.ts (or .js), default-exported class\n    args: []\n    node: alpha              # edit this to migrate\n\n";
  assert.is(removeProcess(original, "counter"), original.replace(entry, ""));
});

test("removeProcess() of a one-line entry removes that line with its comment", () => {
  assert.is(removeProcess(original, "web"), original.replace('  web: { module: Web, args: ["8080"], node: alpha }   # one-liner\n', ""));
});

test("removeProcess() of the only entry leaves an empty, still valid section", () => {
  const text = "nodes:\n  a: { url: http://x:1 }\nprocesses:\n  p:\n    module: P\n    node: a\n# end\n";
  const edited = removeProcess(text, "p");
  assert.is(edited, "nodes:\n  a: { url: http://x:1 }\nprocesses:\n# end\n");
  assert.is((parse(edited) as { processes: unknown }).processes, null);
});

test("removeProcess() removes an entry from a flow mapping with its comma", () => {
  const text = "processes: { a: { module: A }, b: { module: B }, c: { module: C } }  # all\n";
  assert.is(removeProcess(text, "b"), "processes: { a: { module: A }, c: { module: C } }  # all\n");
  assert.is(removeProcess(text, "c"), "processes: { a: { module: A }, b: { module: B } }  # all\n");
  assert.is(removeProcess("processes: { a: { module: A } }\n", "a"), "processes: {}\n");
});

test("removeProcess() refuses an unknown process", () => {
  const error = failure(() => removeProcess(original, "ghost"));
  assert.is(error.code, "process_not_found");
  assert.is(error.message, 'No process named "ghost" in cluster.yaml');
});

test("addProcess() then removeProcess() gives back the original bytes", () => {
  const added = addProcess(original, "tally", { module: "Tally", args: ["a"], node: "beta" });
  assert.is(removeProcess(added, "tally"), original);
});

// --- Writing the file ----------------------------------------------------------------------------

let dir = "";

async function project(yaml: string): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), "ferry-yaml-edit-"));
  // Without it the modules would load as CommonJS.
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await mkdir(join(dir, "processes"));
  for (const name of ["Counter", "AlphabetSorter", "Web", "Tally"]) {
    await writeFile(join(dir, "processes", `${name}.ts`), `export default class ${name} { constructor(args: string[]) {} async run() {} }\n`);
  }
  const file = join(dir, "cluster.yaml");
  await writeFile(file, yaml);
  return file;
}

test.after.each(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = "";
});

test("writeConfigText() replaces the file with valid text and leaves no temporary file", async () => {
  const file = await project(original);
  const edited = setProcessNode(original, "counter", "gamma");
  const loaded = await writeConfigText(file, edited);
  assert.is(await readFile(file, "utf8"), edited);
  assert.is(loaded.config.processes.counter?.node, "gamma");
  assert.equal(await readdir(dir), ["cluster.yaml", "package.json", "processes"]);
});

test("writeConfigText() refuses text the loader rejects and leaves the file as it was", async () => {
  const file = await project(original);
  const broken = addProcess(original, "ghost", { module: "NoSuchModule", node: "alpha" });
  let caught: unknown;
  try {
    await writeConfigText(file, broken);
  } catch (error) {
    caught = error;
  }
  assert.ok(isFerryError(caught), "throws a FerryError");
  assert.is(caught.code, "config_invalid");
  assert.match(caught.message, /not changed: the edit would make it invalid: Unknown module "NoSuchModule"/);
  assert.not.ok(caught.message.includes("\n"));
  assert.is(await readFile(file, "utf8"), original);
  assert.equal(await readdir(dir), ["cluster.yaml", "package.json", "processes"]);
});

test("editConfigFile() applies an edit to the file on disk and reports whether it changed", async () => {
  const file = await project(original);
  const first = await editConfigFile(file, (text) => removeProcess(text, "web"));
  assert.ok(first.changed);
  assert.is(await readFile(file, "utf8"), removeProcess(original, "web"));
  const again = await editConfigFile(file, (text) => setProcessNode(text, "counter", "alpha"));
  assert.not.ok(again.changed);
});

test("editConfigFile() run many times at once lands every edit and leaves no lock behind", async () => {
  const file = await project(original);
  const names = Array.from({ length: 8 }, (_, i) => `extra${i}`);
  await Promise.all(names.map((name) => editConfigFile(file, (text) => addProcess(text, name, { module: "Tally", node: "beta" }))));
  const processes = processesOf(await readFile(file, "utf8"));
  for (const name of names) assert.equal(processes[name], { module: "Tally", args: [], node: "beta" }, name);
  assert.equal(await readdir(dir), ["cluster.yaml", "package.json", "processes"]);
});

test.run();
