// httpTransport().open() against a real node:http server on loopback: an answer announced small
// enough is read whole before open() resolves; a longer one streams; either breaking off fails.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { httpTransport } from "../../../daemon/api/transport.ts";

const patterned = (n: number) => new Uint8Array(n).map((_, i) => i % 251);

async function withServer(answer: (path: string, res: import("node:http").ServerResponse) => void, body: (base: string) => Promise<void>): Promise<void> {
  const server: Server = createServer((req, res) => answer(req.url ?? "/", res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function drain(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk.slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.byteLength));
  return out;
}

const answerWith = (bytes: Uint8Array) => (_path: string, res: import("node:http").ServerResponse) => {
  res.writeHead(200, { "content-length": String(bytes.byteLength), "x-meta": "m" });
  // Two writes, so that the body arrives in more than one piece.
  res.write(bytes.subarray(0, bytes.byteLength >> 1));
  setImmediate(() => res.end(bytes.subarray(bytes.byteLength >> 1)));
};

test("open() reads an answer announced within collectBelow whole before it resolves", async () => {
  const sent = patterned(40_000);
  await withServer(answerWith(sent), async (base) => {
    const answer = await httpTransport().open({ method: "POST", url: `${base}/x`, headers: {}, body: "{}", timeoutMs: 10_000, maxBytes: 1 << 20, collectBelow: 64 * 1024 });
    assert.is(answer.status, 200);
    assert.is(answer.headers.get("x-meta"), "m");
    assert.ok(answer.bytes, "the whole body came with the answer");
    assert.equal(answer.bytes, sent);
    assert.equal(await drain(answer.body), sent, "the body yields the same bytes");
  });
});

test("open() streams an answer announced longer than collectBelow", async () => {
  const sent = patterned(200_000);
  await withServer(answerWith(sent), async (base) => {
    const answer = await httpTransport().open({ method: "POST", url: `${base}/x`, headers: {}, body: "{}", timeoutMs: 10_000, maxBytes: 1 << 20, collectBelow: 64 * 1024 });
    assert.is(answer.bytes, undefined);
    assert.is(answer.length, sent.byteLength);
    assert.equal(await drain(answer.body), sent);
  });
});

test("open() fails when an answer it collects breaks off before its announced length", async () => {
  await withServer(
    (_path, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write(patterned(10));
      setImmediate(() => res.destroy());
    },
    async (base) => {
      const outcome = await httpTransport()
        .open({ method: "POST", url: `${base}/x`, headers: {}, body: "{}", timeoutMs: 10_000, maxBytes: 1 << 20, collectBelow: 64 * 1024 })
        .then(
          () => "resolved",
          (error: Error) => error.message,
        );
      assert.match(outcome, /broke off after 10 of 1000 bytes/);
    },
  );
});

test("open() fails with its timeout when an answer it collects stalls", async () => {
  await withServer(
    (_path, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write(patterned(10)); // and nothing more
    },
    async (base) => {
      const outcome = await httpTransport()
        .open({ method: "POST", url: `${base}/x`, headers: {}, body: "{}", timeoutMs: 200, maxBytes: 1 << 20, collectBelow: 64 * 1024 })
        .then(
          () => "resolved",
          (error: Error) => `${error.name}: ${error.message}`,
        );
      assert.is(outcome, "TimeoutError: no answer within 200 ms");
    },
  );
});

test.run();
