/**
 * Which copy of the YAML library the built code loads: the one-file bundle the build makes, or the
 * package when an install has none.
 * @module
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as yamlPackage from "yaml";
import { repo } from "../../helpers/cluster.ts";

const yaml = suite("yaml loading");

yaml("the built code takes the build's one-file bundle of the library", async () => {
  const bundle = join(repo, "dist/vendor/yaml.js");
  assert.ok(existsSync(bundle), "the build made no dist/vendor/yaml.js");
  const built = await import(pathToFileURL(join(repo, "dist/daemon/config/yaml.js")).href);
  const vendored = await import(pathToFileURL(bundle).href);
  assert.is(built.parseDocument, vendored.parseDocument);
  assert.is.not(built.parseDocument, yamlPackage.parseDocument);
  assert.equal(built.parse("a: [1, {b: two}]"), { a: [1, { b: "two" }] });
});

yaml("a built tree without the bundle loads the library as the sources do (the package; its ES build on Deno)", async () => {
  // Inside the repository, so that the bare specifier still finds node_modules/yaml.
  const tree = mkdtempSync(join(repo, ".yaml-test-"));
  try {
    mkdirSync(join(tree, "daemon/config"), { recursive: true });
    cpSync(join(repo, "dist/daemon/config/yaml.js"), join(tree, "daemon/config/yaml.js"));
    const built = await import(pathToFileURL(join(tree, "daemon/config/yaml.js")).href);
    const sources = await import("../../../daemon/config/yaml.ts");
    assert.is(built.parseDocument, sources.parseDocument);
    assert.is.not(built.parseDocument, (await import(pathToFileURL(join(repo, "dist/vendor/yaml.js")).href)).parseDocument);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});

yaml.run();
