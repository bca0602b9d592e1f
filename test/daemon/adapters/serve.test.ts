// The platform's HTTP server against real sockets on 127.0.0.1: the limits that bound what an
// unauthenticated client can hold (headers, body, idle time, connection count), the unread body
// of a refused request, and ordinary traffic. Run by Node it tests the Node adapter; run by Deno
// (test/integration/deno-unit.test.ts) the Deno one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { currentPlatform } from "../../../daemon/adapters/mod.ts";
import type { Server, ServeOptions } from "../../../daemon/adapters/mod.ts";
import { openRaw, within } from "./raw-socket.ts";
import { jsonResponse } from "../../../daemon/api/lazy-response.ts";
import type { RawClient } from "./raw-socket.ts";

const SECRET = "adapter-secret";
const AUTH = `Authorization: Bearer ${SECRET}\r\n`;
const WAIT = 15_000;
const MiB = 1024 * 1024;

interface Seen {
  requests: string[];
  bodyErrors: string[];
  aborted: string[];
}

/** Checks the secret before touching the body, as the daemon's API handler does. */
function testHandler(seen: Seen): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    seen.requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.get("authorization") !== `Bearer ${SECRET}`) {
      return Response.json({ error: { code: "unauthorized", message: "Missing or wrong cluster secret" } }, { status: 401 });
    }
    if (url.pathname === "/echo") {
      try {
        const text = await req.text();
        return Response.json({ bytes: text.length, head: text.slice(0, 40) });
      } catch (error) {
        seen.bodyErrors.push(String((error as { code?: unknown }).code ?? error));
        return Response.json({ error: { code: "internal", message: "body failed" } }, { status: 500 });
      }
    }
    if (url.pathname === "/buffered") {
      // A buffered answer whose headers change after it was made, as the CORS step does.
      const res = jsonResponse({ request: req instanceof Request, method: req.method });
      res.headers.set("x-added", "after");
      return res;
    }
    if (url.pathname === "/stream-echo") {
      // The body as a web stream: the members the request does not hold itself come from a web Request.
      const text = await new Response(req.body).text();
      return Response.json({ bytes: text.length, used: req.bodyUsed });
    }
    if (url.pathname === "/bytes-echo") {
      const bytes = new Uint8Array(await req.arrayBuffer());
      return Response.json({ bytes: bytes.length, first: bytes[0], last: bytes[bytes.length - 1], used: req.bodyUsed });
    }
    if (url.pathname === "/big") return new Response(patterned(Number(url.searchParams.get("bytes"))));
    if (url.pathname === "/follow") {
      req.signal.addEventListener("abort", () => seen.aborted.push(url.pathname), { once: true });
      // One line now, then nothing until the client goes away.
      return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("hello\n")) }));
    }
    return Response.json({ error: { code: "not_found" } }, { status: 404 });
  };
}

/** `bytes` bytes, byte i being i % 251, sent in 64 KiB chunks. */
function patterned(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      const n = Math.min(64 * 1024, bytes - sent);
      if (n <= 0) return c.close();
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = (sent + i) % 251;
      sent += n;
      c.enqueue(chunk);
    },
  });
}

async function withServer(limits: Omit<ServeOptions, "hostname" | "port">, body: (server: Server, seen: Seen) => Promise<void>): Promise<void> {
  const seen: Seen = { requests: [], bodyErrors: [], aborted: [] };
  const platform = await currentPlatform();
  const server = await platform.serve(testHandler(seen), { hostname: "127.0.0.1", port: 0, ...limits });
  try {
    await body(server, seen);
  } finally {
    await server.close();
  }
}

function post(path: string, body: string, headers = AUTH): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("serve() disconnects a client still sending its headers, or sending nothing, after headersTimeoutMs", () =>
  withServer({ headersTimeoutMs: 300 }, async (server, seen) => {
    const slow = await openRaw(server.port);
    const silent = await openRaw(server.port);
    slow.socket.write("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    // Never idle, never done: only a deadline on the whole head stops it.
    slow.trickle("X-Slow: 1\r\n", 50);
    await within(slow.closed, WAIT, "the slow-header connection to close");
    await within(silent.closed, WAIT, "the silent connection to close");
    assert.not.match(slow.received(), /HTTP\/1\.1 200/);
    assert.is(silent.received().includes("200"), false);
    assert.equal(seen.requests, []);
  }));

test("serve() answers 408 and closes the connection when the body has not arrived within bodyTimeoutMs", () =>
  withServer({ bodyTimeoutMs: 300 }, async (server, seen) => {
    const client = await openRaw(server.port);
    client.socket.write(`POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Length: 1000\r\n\r\n{"a":`);
    client.trickle("1", 50);
    await within(client.receive(/^HTTP\/1\.1 408/), WAIT, "a 408 answer");
    await within(client.closed, WAIT, "the slow-body connection to close");
    assert.match(client.received(), /"code":"request_timeout"/);
    assert.match(client.received(), /connection: close/i);
    await until(() => seen.bodyErrors.length > 0, "the handler's body read to fail");
    assert.equal(seen.bodyErrors, ["request_timeout"]);
  }));

test("serve() waits for headers and a body sent in pieces within their deadlines", () =>
  withServer({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 }, async (server) => {
    const client = await openRaw(server.port);
    const request = post("/echo", '{"pieces":true}');
    const cut = [request.indexOf("Content-Type"), request.indexOf("\r\n\r\n") + 6];
    client.socket.write(request.slice(0, cut[0]));
    setTimeout(() => client.socket.write(request.slice(cut[0], cut[1])), 100);
    setTimeout(() => client.socket.write(request.slice(cut[1])), 200);
    await within(client.receive(/\{"bytes":15,"head":"\{\\"pieces\\":true\}"\}/), WAIT, "the echo of a request sent in pieces");
    assert.match(client.received(), /^HTTP\/1\.1 200/);
    client.socket.destroy();
  }));

test("serve() closes a connection beyond maxConnections at once and accepts again once one closes", () =>
  withServer({ maxConnections: 2, idleTimeoutMs: 60_000 }, async (server, seen) => {
    const held: RawClient[] = [];
    for (let i = 0; i < 2; i++) {
      const client = await openRaw(server.port);
      client.socket.write(post("/echo", "{}"));
      await within(client.receive(/\{"bytes":2,"head":"\{\}"\}/), WAIT, `kept-alive connection ${i + 1} to be served`);
      held.push(client);
    }
    const extra = await openRaw(server.port);
    extra.socket.write(post("/echo", "{}"));
    await within(extra.closed, WAIT, "the connection over the cap to be closed");
    assert.is(extra.received(), "");
    assert.is(seen.requests.length, 2);
    for (const client of held) assert.not.ok(client.socket.destroyed, "the connections within the cap stay open");

    held[0]!.socket.destroy();
    await held[0]!.closed;
    // The server learns of the close on its own schedule; a new connection is served once it has.
    await until(async () => {
      const client = await openRaw(server.port);
      client.socket.write(post("/echo", "{}", `${AUTH}Connection: close\r\n`));
      const served = await client.receive(/"bytes":2/).then(() => true, () => false);
      client.socket.destroy();
      return served;
    }, "a connection to be served under the cap again");
    held[1]!.socket.destroy();
  }));

test("serve() answers a request with a wrong secret and a large, slowly sent body at once with 401 and closes it", () =>
  withServer({ bodyTimeoutMs: 60_000 }, async (server, seen) => {
    const client = await openRaw(server.port);
    client.socket.on("error", () => {}); // writes after the server closed: EPIPE or ECONNRESET
    client.socket.write(`POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\nContent-Length: ${64 * MiB}\r\n\r\n`);
    // 64 KiB now and 10 KiB a second after: a server that buffers even one MiB of the body
    // before answering answers long after the waits below have given up.
    client.socket.write("x".repeat(64 * 1024));
    client.trickle("x".repeat(1024), 100);
    await within(client.receive(/^HTTP\/1\.1 401/), WAIT, "a 401 answer before the body has arrived");
    await within(client.closed, WAIT, "the refused connection to close long before bodyTimeoutMs");
    assert.match(client.received(), /connection: close/i);
    assert.match(client.received(), /"code":"unauthorized"/);
    assert.equal(seen.requests, ["POST /echo"]);
  }));

test("serve() keeps a connection alive across requests whose bodies were read, then closes it after idleTimeoutMs", () =>
  // Long enough that a second request sent late by a loaded machine still finds the connection.
  withServer({ idleTimeoutMs: 1_500 }, async (server, seen) => {
    const client = await openRaw(server.port);
    client.socket.write(post("/echo", '{"n":1}'));
    await within(client.receive(/"head":"\{\\"n\\":1\}"/), WAIT, "the first answer");
    client.socket.write(post("/echo", '{"n":2}'));
    await within(client.receive(/"head":"\{\\"n\\":2\}"/), WAIT, "the second answer on the same connection");
    await within(client.closed, WAIT, "the idle connection to close");
    assert.is(client.received().match(/HTTP\/1\.1 200/g)?.length, 2);
    assert.not.match(client.received(), /connection: close/i);
    assert.is(seen.requests.length, 2);
  }));

test("serve() answers authenticated JSON and streams a response body of several MiB with the default limits", () =>
  withServer({}, async (server) => {
    const base = `http://127.0.0.1:${server.port}`;
    const json = await fetch(`${base}/echo`, { method: "POST", headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" }, body: JSON.stringify({ type: "ps" }) });
    assert.is(json.status, 200);
    assert.equal(await json.json(), { bytes: 13, head: '{"type":"ps"}' });
    const bytes = 6 * MiB + 123;
    const big = await fetch(`${base}/big?bytes=${bytes}`, { headers: { authorization: `Bearer ${SECRET}` } });
    assert.is(big.status, 200);
    const body = new Uint8Array(await big.arrayBuffer());
    assert.is(body.length, bytes);
    let wrong = -1;
    for (let i = 0; i < body.length && wrong < 0; i++) if (body[i] !== i % 251) wrong = i;
    assert.is(wrong, -1, `byte ${wrong} of the streamed body differs`);
  }));

test("serve() writes a buffered answer in one piece with its length and the headers set after it was made", () =>
  withServer({}, async (server) => {
    const client = await openRaw(server.port);
    client.socket.write(`GET /buffered HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}\r\n`);
    await within(client.receive(/\r\n\r\n\{.*\}/s), WAIT, "the buffered answer");
    const [head, body] = client.received().split("\r\n\r\n") as [string, string];
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(head, /\r\nx-added: after\r\n/i);
    assert.match(head, new RegExp(`\\r\\ncontent-length: ${new TextEncoder().encode(body).length}\\r\\n`, "i"));
    assert.equal(JSON.parse(body), { request: true, method: "GET" });
    client.socket.destroy();
  }));

test("serve() hands the handler a Request whose body reads whole or as a stream", () =>
  withServer({}, async (server) => {
    const base = `http://127.0.0.1:${server.port}`;
    const payload = new Uint8Array(300 * 1024).map((_, i) => i % 251);
    const headers = { authorization: `Bearer ${SECRET}`, "content-type": "application/octet-stream" };
    const whole = await fetch(`${base}/bytes-echo`, { method: "POST", headers, body: payload });
    assert.equal(await whole.json(), { bytes: payload.length, first: 0, last: (payload.length - 1) % 251, used: true });
    const streamed = await fetch(`${base}/stream-echo`, { method: "POST", headers, body: "x".repeat(70_000) });
    assert.equal(await streamed.json(), { bytes: 70_000, used: true });
  }));

test("serve() aborts the request's signal when the client leaves a streaming answer", () =>
  withServer({}, async (server, seen) => {
    const client = await openRaw(server.port);
    client.socket.write(`GET /follow HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}\r\n`);
    await within(client.receive(/hello\n/), WAIT, "the first line of the stream");
    assert.equal(seen.aborted, []);
    client.socket.destroy();
    await until(() => seen.aborted.length > 0, "the request's signal to abort");
    assert.equal(seen.aborted, ["/follow"]);
  }));

test.run();
