import { test } from "uvu";
import * as assert from "uvu/assert";
import { ApiClient } from "../../../daemon/api/client.ts";
import { handlerTransport } from "../../../daemon/api/transport.ts";
import { errorResponse } from "../../../daemon/api/handler.ts";
import { FerryError } from "../../../daemon/errors.ts";
import { rejection } from "../../helpers/assert.ts";


const origin = "http://alpha.test:7101";

test("post() over an in-process transport reaches the handler with the secret and returns its JSON", async () => {
  const seen: Array<[string, string | null, unknown]> = [];
  const transport = handlerTransport(new Map([[origin, async (req: Request) => {
    seen.push([new URL(req.url).pathname, req.headers.get("authorization"), await req.json()]);
    return Response.json({ holds: true, generation: 3, state: "running" });
  }]]));
  const client = new ApiClient("alpha", origin, "s3cret", transport);
  assert.equal(await client.post("locate", { name: "counter" }), { holds: true, generation: 3, state: "running" });
  assert.equal(seen, [["/v1/locate", "Bearer s3cret", { name: "counter" }]]);
});

test("an error answer becomes a FerryError with the daemon's code, hint and retryability", async () => {
  const transport = handlerTransport(new Map([[origin, async () => errorResponse(new FerryError("unavailable", 'Process "x" is starting', { hint: "try again" }))]]));
  const error = await rejection(new ApiClient("alpha", origin, "s", transport).post("call", { name: "x", method: "get" }));
  assert.equal([error.code, error.message, error.hint, error.retryable], ["unavailable", 'Process "x" is starting', "try again", true]);
});

test("an explicit retryable: false from the daemon wins over the code's default", async () => {
  const transport = handlerTransport(new Map([[origin, async () => errorResponse(new FerryError("conflict", "went elsewhere", { retryable: false }))]]));
  const error = await rejection(new ApiClient("alpha", origin, "s", transport).post("ps", {}));
  assert.equal([error.code, error.retryable], ["conflict", false]);
});

test("an unknown error code from a peer is internal, not trusted", async () => {
  const transport = handlerTransport(new Map([[origin, async () => Response.json({ error: { code: "made_up", message: "?" } }, { status: 500 })]]));
  const error = await rejection(new ApiClient("alpha", origin, "s", transport).post("ps", {}));
  assert.is(error.code, "internal");
});

test("a node missing from the transport is unreachable (retryable), named with its URL", async () => {
  const error = await rejection(new ApiClient("beta", "http://beta.test:1", "s", handlerTransport(new Map())).post("ps", {}));
  assert.equal([error.code, error.retryable], ["unreachable", true]);
  assert.match(error.message, /Cannot reach node "beta" at http:\/\/beta.test:1/);
});

test("postForBytes() reads a streamed body into one buffer and reports progress", async () => {
  const bytes = new Uint8Array(3 * 65536).map((_, i) => i % 251);
  const transport = handlerTransport(new Map([[origin, async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.subarray(sent, sent + 65536));
        sent += 65536;
      },
    });
    return new Response(body, { headers: { "content-length": String(bytes.byteLength), "ferry-handoff": "{}" } });
  }]]));
  const progress: number[] = [];
  const answer = await new ApiClient("alpha", origin, "s", transport).postForBytes("handoff.begin", { name: "x", generation: 0, to: "beta", handoffId: "h-0000001" }, {
    timeoutMs: 5000,
    maxBytes: 1 << 20,
    onProgress: (received) => progress.push(received),
  });
  assert.equal(answer.bytes, bytes);
  assert.equal(progress, [65536, 131072, 196608]);
  assert.is(answer.headers.get("ferry-handoff"), "{}");
});

test("postForBytes() refuses a body larger than maxBytes before reading it", async () => {
  const transport = handlerTransport(new Map([[origin, async () => new Response(new Uint8Array(10), { headers: { "content-length": "10" } })]]));
  const error = await rejection(new ApiClient("alpha", origin, "s", transport).postForBytes("handoff.begin", { name: "x", generation: 0, to: "b", handoffId: "h-0000001" }, { timeoutMs: 1000, maxBytes: 5 }));
  assert.is(error.code, "payload_too_large");
});

test.run();
