// PlainHeaders stands in for the web Headers on Node until undici is loaded: every operation
// must read the same as on a real Headers, and the web classes must still take it.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { newHeaders, PlainHeaders } from "../../../daemon/api/plain-headers.ts";

const isDeno = "Deno" in globalThis;
/** Node's major version (0 on Deno). */
const nodeMajor = isDeno ? 0 : Number(process.versions.node.split(".")[0]);
const repo = fileURLToPath(new URL("../../..", import.meta.url));

/** Runs `ops` on a PlainHeaders and on a web Headers, and returns both views. */
function both(ops: (h: Headers) => void): { plain: unknown; web: unknown } {
  const view = (h: Headers) => ({ entries: [...h], cookies: h.getSetCookie(), keys: [...h.keys()], values: [...h.values()] });
  const plain = new PlainHeaders() as unknown as Headers;
  const web = new Headers();
  ops(plain);
  ops(web);
  return { plain: view(plain), web: view(web) };
}

test("names are case-insensitive, repeated values combine, iteration is sorted by name", () => {
  const { plain, web } = both((h) => {
    h.append("X-B", "2");
    h.append("x-a", " 1 ");
    h.append("X-A", "3");
    h.set("Content-Type", "application/json");
    h.delete("x-missing");
  });
  assert.equal(plain, web);
  const h = new PlainHeaders([["Accept", "text/plain"]]);
  assert.is(h.get("ACCEPT"), "text/plain");
  assert.is(h.has("accept"), true);
  assert.is(h.get("absent"), null);
});

test("Set-Cookie values stay apart in iteration and getSetCookie(), and combine in get()", () => {
  const ops = (h: Headers) => {
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2");
    h.append("Vary", "Origin");
  };
  const { plain, web } = both(ops);
  assert.equal(plain, web);
  const h = new PlainHeaders() as unknown as Headers;
  ops(h);
  assert.is(h.get("set-cookie"), "a=1, b=2");
  h.set("set-cookie", "c=3");
  assert.equal(h.getSetCookie(), ["c=3"]);
  h.delete("Set-Cookie");
  assert.equal(h.getSetCookie(), []);
});

test("a bad name or value is refused with a TypeError, as by Headers", () => {
  for (const bad of [() => new PlainHeaders({ "bad name": "x" }), () => new PlainHeaders().set("x-a", "line\nbreak"), () => new PlainHeaders([["only-name"]] as unknown as [string, string][])]) {
    assert.throws(bad, (error: unknown) => error instanceof TypeError);
  }
});

test("forEach() hands value, name and the headers themselves, in sorted order", () => {
  const h = new PlainHeaders({ b: "2", a: "1" }) as unknown as Headers;
  const seen: string[] = [];
  h.forEach((value, name, parent) => {
    assert.is(parent, h);
    seen.push(`${name}=${value}`);
  });
  assert.equal(seen, ["a=1", "b=2"]);
});

test("the web Request and Response take it as their headers", async () => {
  const h = new PlainHeaders({ "x-a": "1" }) as unknown as Headers;
  assert.is(new Response("x", { headers: h }).headers.get("x-a"), "1");
  assert.is(new Request("http://127.0.0.1/", { headers: h }).headers.get("x-a"), "1");
  // From Node 22 on, where the global cannot be watched, it is linked once it made its web object.
  if (nodeMajor >= 22) (h as unknown as { web(): Headers }).web();
  // On Deno it stays unlinked: Deno's classes would read a Headers' hidden list.
  assert.is(h instanceof Headers, !isDeno, "on Node, linked to Headers once the global was read");
});

test("on Node the lazy web classes answer before the fetch implementation is loaded, and are instanceof once it is", () => {
  if (isDeno) {
    // Nothing to load on Deno: handlers get its own Headers.
    const h = newHeaders({ "x-a": "1" });
    assert.ok(h instanceof Headers && !(h instanceof PlainHeaders));
    return;
  }
  // A fresh process: this one may have loaded undici already.
  const script = `
    const { PlainHeaders } = await import("./daemon/api/plain-headers.ts");
    const { jsonResponse, isResponse, bufferedParts } = await import("./daemon/api/lazy-response.ts");
    const loaded = () => process.moduleLoadList.includes("NativeModule internal/deps/undici/undici");
    const h = new PlainHeaders({ "x-a": "1" });
    const res = jsonResponse({ ok: true });
    res.headers.set("x-b", "2");
    const before = { loaded: loaded(), get: h.get("x-a"), status: res.status, isResponse: isResponse(res), parts: bufferedParts(res).headers };
    const json = await res.json(); // a member the buffered answer forwards to the web object it makes
    // Node 20 links on the first read of the global; from 22 on, on the first web object made.
    if (${nodeMajor} >= 22) h.web();
    const after = { loaded: loaded(), json, response: res instanceof Response, headers: h instanceof Headers, plainIsResponse: isResponse({ status: 200 }) };
    console.log(JSON.stringify({ before, after }));
  `;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repo, encoding: "utf8" });
  assert.is(run.status, 0, run.stderr);
  const { before, after } = JSON.parse(run.stdout);
  assert.equal(before, { loaded: false, get: "1", status: 200, isResponse: true, parts: { "content-type": "application/json", "x-b": "2" } });
  assert.equal(after, { loaded: true, json: { ok: true }, response: true, headers: true, plainIsResponse: false });
});

test.run();
