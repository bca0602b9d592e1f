import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bundleModule } from "../../../daemon/modules/bundle.ts";
import { hashBundle, shortHash } from "../../../daemon/modules/hash.ts";
import { rejection } from "../../helpers/assert.ts";

let dir = "";

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-bundle-"));
});

test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (path relative to `root` -> text) in the order given. */
function writeTree(root: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const tree = {
  "Main.ts": [
    `import { helper } from "./lib/helper.ts";`,
    `import { TransactionalFileReader } from "../daemon/io/mod.ts";`,
    `import type { ProcessContext } from "ferry/sdk";`,
    `import { readFileSync } from "node:fs";`,
    `export * from "./lib/reexport.ts";`,
    `// import "./lib/commented-out.ts";`,
    `const text = "import('./lib/in-a-string.ts')";`,
    `export default class Main { async run() { await import("./lib/lazy.ts"); } }`,
    "",
  ].join("\n"),
  "lib/helper.ts": `import { back } from "./cycle.ts";\nexport const helper = () => back;\n`,
  "lib/cycle.ts": `import { helper } from "./helper.ts";\nimport "../../outside/thing.ts";\nexport const back = 1;\n`,
  "lib/reexport.ts": "export const r = 1;\n",
  "lib/lazy.ts": "export const lazy = 1;\n",
  "lib/unused.ts": "export const unused = 1;\n",
  "Other.ts": "export default class Other {}\n",
};

test("bundleModule() follows relative imports transitively, through a cycle, and lists what leaves the folder", async () => {
  writeTree(dir, tree);
  const bundle = await bundleModule(dir, "Main");
  assert.is(bundle.module, "Main");
  assert.is(bundle.entry, "Main.ts");
  assert.equal(Object.keys(bundle.files).sort(), ["Main.ts", "lib/cycle.ts", "lib/helper.ts", "lib/lazy.ts", "lib/reexport.ts"]);
  for (const [path, text] of Object.entries(bundle.files)) assert.is(text, readFileSync(join(dir, path), "utf8"), path);
  // Paths relative to the processes folder, whichever file imported them; node: builtins are no news.
  assert.equal(bundle.external, ["../daemon/io/mod.ts", "../outside/thing.ts", "ferry/sdk"]);
  assert.is(bundle.hash, hashBundle(bundle.entry, bundle.files));
});

test("bundleModule() finds the files tsx finds for extensionless, .js and folder specifiers", async () => {
  writeTree(dir, {
    "Main.ts": `import "./plain";\nimport "./compiled.js";\nimport "./folder";\nexport default class Main {}\n`,
    "plain.ts": "export {};\n",
    "compiled.ts": "export {};\n",
    "folder/index.ts": "export {};\n",
  });
  const bundle = await bundleModule(dir, "Main");
  assert.equal(Object.keys(bundle.files).sort(), ["Main.ts", "compiled.ts", "folder/index.ts", "plain.ts"]);
});

test("bundleModule() names the importer and the specifier of a missing file", async () => {
  writeTree(dir, {
    "Main.ts": `import "./lib/a.ts";\nexport default class Main {}\n`,
    "lib/a.ts": `import { gone } from "./gone.ts";\n`,
  });
  const error = await rejection(bundleModule(dir, "Main"));
  assert.is(error.code, "module_invalid");
  assert.match(error.message, `"lib/a.ts" imports "./gone.ts"`);
  assert.match(error.message, /^Cannot bundle module "Main"/);
});

test("bundleModule() of a module that is not there is module_not_found", async () => {
  const error = await rejection(bundleModule(dir, "Nope"));
  assert.is(error.code, "module_not_found");
  assert.match(error.message, `Module "Nope" is not in`);
});

test("the hash is the same wherever and in whatever order the files were written", async () => {
  const first = writeTree(join(dir, "one/processes"), tree);
  const reversed = Object.fromEntries(Object.entries(tree).reverse());
  const second = writeTree(join(dir, "elsewhere/deeper/processes"), reversed);
  const a = await bundleModule(first, "Main");
  const b = await bundleModule(second, "Main");
  assert.is(a.hash, b.hash);
  assert.is(hashBundle("A.ts", { "A.ts": "a", "b.ts": "b" }), hashBundle("A.ts", { "b.ts": "b", "A.ts": "a" }));
  // Pinned (and recomputed from the documented encoding outside JavaScript): the same sources
  // must get the same id on every machine, runtime and Ferry version.
  assert.is(hashBundle("A.ts", { "A.ts": "export default class A {}\n", "lib/b.ts": "é\n" }), "8745abd5e0dca2a1f182ed83779e6b384e739686a371271cbfbe389007b6c4b6");
  assert.is(shortHash(a.hash), a.hash.slice(0, 12));
});

test("the hash changes with any byte of any file, with a file's name and with the entry", async () => {
  const files = { "A.ts": "export default class A {}\n", "lib/b.ts": "export const b = 1;\n" };
  const base = hashBundle("A.ts", files);
  assert.is.not(hashBundle("A.ts", { ...files, "lib/b.ts": "export const b = 2;\n" }), base);
  assert.is.not(hashBundle("A.ts", { ...files, "lib/b.ts": "export const b = 1; \n" }), base);
  assert.is.not(hashBundle("A.ts", { "A.ts": files["A.ts"], "lib/c.ts": files["lib/b.ts"] }), base);
  assert.is.not(hashBundle("lib/b.ts", files), base);
  // Path and text are delimited: moving a byte from one to the other is a different bundle.
  assert.is.not(hashBundle("A.ts", { "A.ts": "x", ab: "c" }), hashBundle("A.ts", { "A.ts": "x", a: "bc" }));

  writeTree(dir, tree);
  const before = await bundleModule(dir, "Main");
  writeFileSync(join(dir, "lib/cycle.ts"), tree["lib/cycle.ts"].replace("back = 1", "back = 2"));
  assert.is.not((await bundleModule(dir, "Main")).hash, before.hash);
});

test.run();
