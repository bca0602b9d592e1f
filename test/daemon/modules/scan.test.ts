import { test } from "uvu";
import * as assert from "uvu/assert";
import { scanImports } from "../../../daemon/modules/scan.ts";

const specifiers = (source: string) => scanImports(source).map((r) => `${r.dynamic ? "dynamic" : "static"} ${r.specifier}`);

test("scanImports() finds every form of static import and re-export", () => {
  const source = [
    `import a from "./a.ts";`,
    `import type { T } from './types.ts';`,
    `import * as ns from "./ns.ts"`,
    `import { "odd name" as odd, b } from "./b.ts" with { type: "json" };`,
    `import "./side.ts";`,
    `import from from "./from.ts";`,
    `import c, { d } from "./cd.ts";`,
    `export * from "./star.ts";`,
    `export * as all from "./all.ts";`,
    `export { e } from "./e.ts";`,
    `export type { F } from "./f.ts";`,
  ].join("\n");
  assert.equal(specifiers(source), [
    "static ./a.ts", "static ./types.ts", "static ./ns.ts", "static ./b.ts", "static ./side.ts", "static ./from.ts",
    "static ./cd.ts", "static ./star.ts", "static ./all.ts", "static ./e.ts", "static ./f.ts",
  ]);
});

test("scanImports() finds literal dynamic imports, also inside template substitutions, and no others", () => {
  const source = [
    "const a = await import('./a.ts');",
    "const b = await import(`./b.ts`);",
    "const c = `${await import(\"./c.ts\")}`;",
    "const d = await import('./d.ts', { with: {} });",
    "const e = await import('./e' + suffix);",
    "const f = await import(name);",
    "type G = typeof import(\"./g.ts\");",
  ].join("\n");
  assert.equal(specifiers(source), ["dynamic ./a.ts", "dynamic ./b.ts", "dynamic ./c.ts", "dynamic ./d.ts", "dynamic ./g.ts"]);
});

test("scanImports() ignores imports in comments, strings, templates and regular expressions, and look-alikes", () => {
  const source = [
    "#!/usr/bin/env node",
    `// import "./comment.ts"`,
    `/* export * from "./block.ts" */`,
    `const s = "import './string.ts'";`,
    "const t = `import('./template.ts')`;",
    `const r = /import "x"/g.test(s) ? 1 / 2 / 3 : 0;`,
    `obj.import("./property.ts");`,
    `const o = { import: "./key.ts" };`,
    `const u = import.meta.url;`,
    `export { local };`,
    `export default class X { import() { return "./method.ts"; } }`,
    `import real from "./real.ts";`,
  ].join("\n");
  assert.equal(specifiers(source), ["static ./real.ts"]);
});

test("scanImports() gives the position of each specifier's literal, quotes included", () => {
  const source = `import x from "./x.ts";\nconst y = import('./y.ts');\n`;
  const refs = scanImports(source);
  assert.equal(refs.map((r) => source.slice(r.start, r.end)), [`"./x.ts"`, `'./y.ts'`]);
});

test("scanImports() decodes escapes in specifiers", () => {
  assert.equal(specifiers(`import "./\\u0061.ts";`), ["static ./a.ts"]);
});

test.run();
