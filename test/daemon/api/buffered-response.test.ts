// A buffered answer is an ordinary Response to everyone but the server adapter, which writes its
// parts as they are: status, headers (including any set after it was made) and body.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bufferedParts, bufferedResponse, jsonResponse } from "../../../daemon/api/buffered-response.ts";

test("jsonResponse() reads as Response.json() would: instanceof, status, ok, content type and body", async () => {
  const res = jsonResponse({ ok: true, n: 3 }, { status: 201 });
  assert.ok(res instanceof Response);
  assert.is(res.status, 201);
  assert.is(res.ok, true);
  assert.is(res.headers.get("content-type"), "application/json");
  assert.is(res.statusText, "", "a member it does not hold itself comes from the web object");
  assert.equal(await res.json(), { ok: true, n: 3 });
  assert.is(res.bodyUsed, true);
  const second = await res.text().then(
    () => "read again",
    (error: unknown) => (error instanceof TypeError ? "refused" : String(error)),
  );
  assert.is(second, "refused", "a body is read once, as with any Response");
});

test("bufferedParts() gives the adapter the body as made and the headers as changed since", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const res = bufferedResponse(bytes, { status: 202, headers: { "x-meta": "{}" } });
  res.headers.set("access-control-allow-origin", "http://a");
  res.headers.append("vary", "Origin");
  const parts = bufferedParts(res);
  assert.ok(parts);
  assert.is(parts.status, 202);
  assert.is(parts.body, bytes, "the bytes themselves, not a copy");
  assert.equal(parts.headers, { "access-control-allow-origin": "http://a", "content-type": "application/octet-stream", vary: "Origin", "x-meta": "{}" });
});

test("once its web object exists (its body may have been read), bufferedParts() leaves it to the stream path", async () => {
  const res = jsonResponse({ a: 1 });
  assert.ok(bufferedParts(res));
  res.headers.set("x-later", "1");
  assert.equal(await res.json(), { a: 1 });
  assert.is(bufferedParts(res), undefined);
  assert.is(res.headers.get("x-later"), "1", "headers set before the web object was made are kept");
});

test("a given Content-Length is left to the body's own length", () => {
  const parts = bufferedParts(bufferedResponse(new Uint8Array(3), { headers: { "Content-Length": "99", "x-a": "1" } }));
  assert.equal(parts?.headers, { "x-a": "1", "content-type": "application/octet-stream" });
});

test("bufferedParts() knows only buffered answers", () => {
  assert.is(bufferedParts(Response.json({ a: 1 })), undefined);
  assert.is(bufferedParts(new Response("text")), undefined);
});

test("a text body defaults to text/plain, and a given content type is kept", async () => {
  assert.is(bufferedResponse("hi").headers.get("content-type"), "text/plain;charset=UTF-8");
  const res = bufferedResponse("# metrics\n", { headers: { "Content-Type": "text/plain; version=0.0.4" } });
  assert.is(res.headers.get("content-type"), "text/plain; version=0.0.4");
  assert.is(await res.clone().text(), "# metrics\n");
});

test.run();
