// The platform's server over HTTPS against real sockets on 127.0.0.1, with certificates made by
// openssl for the test: ordinary traffic, and the limits that bound an unauthenticated client
// (a connection that never completes the handshake, headers sent too slowly, the connection
// cap) hold over TLS as over plain HTTP. Run by Node it tests the Node adapter; run by Deno
// (test/integration/deno-unit.test.ts) the Deno one.
import { suite } from "../../helpers/suite.ts";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectTls } from "node:tls";
import type { TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { currentPlatform } from "../../../daemon/adapters/mod.ts";
import type { Server, ServeOptions } from "../../../daemon/adapters/mod.ts";
import { ApiClient } from "../../../daemon/api/client.ts";
import { httpTransport } from "../../../daemon/api/transport.ts";
import { makeTestPki, pemOf, type TestPki } from "../../helpers/certs.ts";
import { openRaw, within } from "./raw-socket.ts";

const test = suite("serve-tls");

const SECRET = "adapter-secret";
const WAIT = 15_000;
const MiB = 1024 * 1024;

const tmp = mkdtempSync(join(tmpdir(), "ferry-serve-tls-"));
let pki: TestPki;

test.before(async () => {
  pki = await makeTestPki(join(tmp, "certs"));
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

async function handler(req: Request): Promise<Response> {
  if (req.headers.get("authorization") !== `Bearer ${SECRET}`) return Response.json({ error: { code: "unauthorized", message: "no" } }, { status: 401 });
  const url = new URL(req.url);
  if (url.pathname === "/v1/ps") return Response.json({ scheme: url.protocol, body: await req.text() });
  // A snapshot-like answer: 4 MiB streamed in 1 MiB chunks.
  let sent = 0;
  return new Response(new ReadableStream({
    pull(c) {
      if (sent++ === 4) return c.close();
      c.enqueue(new Uint8Array(MiB).fill(sent));
    },
  }));
}

async function withTlsServer(limits: Omit<ServeOptions, "hostname" | "port" | "tls">, body: (server: Server) => Promise<void>): Promise<void> {
  const platform = await currentPlatform();
  const server = await platform.serve(handler, { hostname: "127.0.0.1", port: 0, tls: pemOf(pki.server), ...limits });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** A TLS connection trusting the test CA, resolved once the handshake is done. */
function openTls(port: number): Promise<{ socket: TLSSocket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: "127.0.0.1", port, ca: readFileSync(pki.ca, "utf8") });
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("secureConnect", () => resolve({ socket, closed }));
    socket.once("error", reject);
  });
}

test("serve() with tls answers HTTPS requests through the transport, JSON and a streamed body", () =>
  withTlsServer({}, async (server) => {
    const transport = httpTransport({ tls: { ca: { pem: readFileSync(pki.ca, "utf8"), file: "ca.pem" }, peers: new Map() } });
    const client = new ApiClient("alpha", `https://127.0.0.1:${server.port}`, SECRET, transport);
    const answer = (await client.post("ps", {})) as unknown as { scheme: string; body: string };
    assert.equal(answer, { scheme: "https:", body: "{}" });
    const { bytes } = await client.postForBytes("handoff.begin", { name: "x", generation: 0, to: "b", handoffId: "h-0000001" }, { timeoutMs: WAIT, maxBytes: 8 * MiB });
    assert.is(bytes.byteLength, 4 * MiB);
    assert.ok(bytes.every((b, i) => b === Math.floor(i / MiB) + 1), "every byte arrives in order");
  }));

test("serve() with tls closes a connection that never starts the TLS handshake after headersTimeoutMs", () =>
  withTlsServer({ headersTimeoutMs: 300 }, async (server) => {
    const silent = await openRaw(server.port);
    await within(silent.closed, WAIT, "the silent connection to close");
    assert.is(silent.received(), "");
  }));

test("serve() with tls closes a client still sending its headers after headersTimeoutMs", () =>
  withTlsServer({ headersTimeoutMs: 300 }, async (server) => {
    const { socket, closed } = await openTls(server.port);
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
    socket.write("GET /v1/ps HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const timer = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 50);
    try {
      await within(closed, WAIT, "the slow-header connection to close");
    } finally {
      clearInterval(timer);
    }
    assert.not.match(received, /HTTP\/1\.1 200/);
  }));

test("serve() with tls closes a connection beyond maxConnections", () =>
  withTlsServer({ maxConnections: 1, idleTimeoutMs: 60_000 }, async (server) => {
    const held = await openTls(server.port);
    held.socket.write(`POST /v1/ps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${SECRET}\r\nContent-Length: 2\r\n\r\n{}`);
    let received = "";
    await within(new Promise<void>((resolve) => held.socket.on("data", (d: Buffer) => (received += d.toString(), /"body":"\{\}"/.test(received) && resolve()))), WAIT, "the first connection to be served");
    const extra = await openRaw(server.port);
    await within(extra.closed, WAIT, "the connection over the cap to be closed");
    assert.is(extra.received(), "");
    assert.not.ok(held.socket.destroyed, "the connection within the cap stays open");
    held.socket.destroy();
  }));

test.run();
