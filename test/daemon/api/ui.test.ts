import { test } from "uvu";
import * as assert from "uvu/assert";
import { contentSecurityPolicy, uiResponse } from "../../../daemon/api/ui.ts";
import { allowOrigin, nodeOrigins, pageOrigins, preflight } from "../../../daemon/api/cors.ts";

const origins = ["http://127.0.0.1:7101", "http://127.0.0.1:7102"];
const get = (path: string, method = "GET") => uiResponse(new Request(`http://127.0.0.1:7101${path}`, { method }), origins);

test("uiResponse() leaves every path outside /ui to the API", () => {
  assert.is(get("/v1/ps"), undefined);
  assert.is(get("/uix"), undefined);
  assert.is(get("/healthz"), undefined);
});

test("uiResponse() serves index.html at /ui/ and redirects /ui there", async () => {
  const page = await get("/ui/")!;
  assert.is(page.status, 200);
  assert.is(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(await page.text(), /<script type="module" src="app.js">/);
  const redirect = await get("/ui")!;
  assert.is(redirect.status, 308);
  assert.is(redirect.headers.get("location"), "/ui/");
});

test("uiResponse() serves only the page's files, each with its content type and the CSP", async () => {
  for (const [file, type] of [["app.js", "text/javascript"], ["api.js", "text/javascript"], ["view.js", "text/javascript"], ["model.js", "text/javascript"], ["style.css", "text/css"]]) {
    const res = await get(`/ui/${file}`)!;
    assert.is(res.status, 200, file);
    assert.is(res.headers.get("content-type"), `${type}; charset=utf-8`);
    assert.is(res.headers.get("x-content-type-options"), "nosniff");
    assert.is(res.headers.get("content-security-policy"), contentSecurityPolicy(origins));
    assert.ok((await res.arrayBuffer()).byteLength > 0);
  }
  for (const path of ["/ui/cluster.yaml", "/ui/..%2fui.ts", "/ui/index.html/x", "/ui/sub/app.js"]) assert.is((await get(path)!).status, 404, path);
  assert.is((await get("/ui/", "POST")!).status, 405);
  const head = await get("/ui/app.js", "HEAD")!;
  assert.is(head.status, 200);
  assert.is(await head.text(), "");
});

test("contentSecurityPolicy() allows nothing inline or foreign, and requests to the nodes only", () => {
  const csp = contentSecurityPolicy(["http://127.0.0.1:7102"]);
  assert.match(csp, /^default-src 'none'; /);
  assert.match(csp, /script-src 'self';/);
  assert.not.match(csp, /unsafe/);
  assert.match(csp, /connect-src 'self' http:\/\/127\.0\.0\.1:7102;/);
  assert.match(csp, /frame-ancestors 'none'/);
});

test("nodeOrigins() reduces node URLs to their origins", () => {
  assert.equal(nodeOrigins({ a: { url: "http://10.0.0.5:7101/" }, b: { url: "https://b.example:8443/x" }, c: { url: "http://10.0.0.5:7101" } }), ["http://10.0.0.5:7101", "https://b.example:8443"]);
});

test("pageOrigins() counts a node on loopback under each loopback name, with its scheme and port", () => {
  const expected = ["http://127.0.0.1:7101", "http://localhost:7101", "http://[::1]:7101"];
  assert.equal(pageOrigins(nodeOrigins({ a: { url: "http://127.0.0.1:7101/" } })), expected);
  assert.equal(new Set(pageOrigins(["http://localhost:7101"])), new Set(expected));
  assert.equal(new Set(pageOrigins(["https://[::1]:8443"])), new Set(["https://[::1]:8443", "https://localhost:8443", "https://127.0.0.1:8443"]));
  assert.equal(pageOrigins(["http://127.0.0.2"]), ["http://127.0.0.2", "http://localhost", "http://127.0.0.1", "http://[::1]"]);
  assert.equal(pageOrigins(["http://10.0.0.5:7101", "https://b.example:8443"]), ["http://10.0.0.5:7101", "https://b.example:8443"]);
  assert.not.ok(pageOrigins(["http://127.0.0.1:7101"]).includes("http://localhost:7102"), "another port is another server");
});

test("preflight() and allowOrigin() admit the cluster's node origins only", () => {
  const ask = (origin: string, method = "OPTIONS") => new Request("http://127.0.0.1:7102/v1/status", { method, headers: { origin } });
  const ok = preflight(ask("http://127.0.0.1:7101"), origins);
  assert.is(ok.status, 204);
  assert.is(ok.headers.get("access-control-allow-origin"), "http://127.0.0.1:7101");
  assert.match(ok.headers.get("access-control-allow-headers") ?? "", /authorization/);
  assert.is(preflight(ask("http://evil.example"), origins).headers.get("access-control-allow-origin"), null);
  assert.is(allowOrigin(ask("http://127.0.0.1:7101", "POST"), Response.json({}), origins).headers.get("access-control-allow-origin"), "http://127.0.0.1:7101");
  assert.is(allowOrigin(ask("http://evil.example", "POST"), Response.json({}), origins).headers.get("access-control-allow-origin"), null);
});

test.run();
