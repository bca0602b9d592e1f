// A lazy answer is an ordinary Response to everyone but the server adapter, which writes its
// parts as they are: status, headers (including any set after it was made) and body, whole or
// as its stream gives it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bufferedParts, bufferedResponse, cancelBody, emptyResponse, isResponse, jsonResponse, streamedParts, streamResponse } from "../../../daemon/api/lazy-response.ts";

function streamOf(...chunks: string[]): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

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

test("streamResponse() hands the adapter its stream and headers as given, Content-Length included", () => {
  const { stream } = streamOf("a", "b");
  const res = streamResponse(stream, { status: 206, headers: { "content-length": "2", "x-meta": "{}" } });
  assert.is(bufferedParts(res), undefined, "not a buffered answer");
  const parts = streamedParts(res);
  assert.ok(parts);
  assert.is(parts.body, stream, "the stream itself");
  assert.is(parts.status, 206);
  assert.equal(parts.headers, { "content-length": "2", "x-meta": "{}", "content-type": "application/octet-stream" });
  assert.is(streamedParts(jsonResponse({})), undefined);
});

test("a streamed answer read as a Response gives its stream's bytes, once", async () => {
  const { stream } = streamOf('{"a":', "1}");
  const res = streamResponse(stream, { headers: { "content-type": "application/json" } });
  assert.ok(isResponse(res));
  assert.ok(res instanceof Response);
  assert.equal(await res.json(), { a: 1 });
  assert.is(res.bodyUsed, true);
  assert.is(streamedParts(res), undefined, "once its web object exists, the adapter reads that");
});

test("cancelBody() stops a streamed answer's source, and leaves a buffered one alone", async () => {
  const { stream, cancelled } = streamOf("x");
  cancelBody(streamResponse(stream));
  await Promise.resolve();
  assert.is(cancelled(), true);
  const buffered = jsonResponse({ a: 1 });
  cancelBody(buffered);
  assert.equal(await buffered.json(), { a: 1 });
});

test("emptyResponse() has no body and no Content-Length of its own (a 204 must not carry one)", async () => {
  const res = emptyResponse({ status: 204, headers: { vary: "Origin" } });
  assert.is(res.status, 204);
  const parts = streamedParts(res);
  assert.equal(parts?.headers, { vary: "Origin" });
  assert.is(res.body, null, "as a web object, it has a null body");
  assert.is(await res.text(), "");
});

test.run();
