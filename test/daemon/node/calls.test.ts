// callProcess() for a call that waited at a hand-off's gate: it is forwarded to the node the
// process moved to, with the caller's call id, and once without it to a peer of an older release.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:http";
import { callProcess, type CallTarget } from "../../../daemon/node/calls.ts";
import { ManagedProcess } from "../../../daemon/node/process.ts";
import { failureOf, FerryError } from "../../../daemon/errors.ts";
import { ApiClient } from "../../../daemon/api/client.ts";

let servers: Server[] = [];

test.after.each(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/** A peer on 127.0.0.1 that answers forwarded calls with `answer`, or with the FerryError it throws, as a daemon does. */
async function peerAnswering(answer: (body: Record<string, unknown>) => unknown, forwarded: Record<string, unknown>[]): Promise<ApiClient> {
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      assert.is(req.url, "/v1/call");
      const body = JSON.parse(text) as Record<string, unknown>;
      forwarded.push(body);
      let status = 200;
      let reply: unknown;
      try {
        reply = answer(body);
      } catch (error) {
        const failure = error as FerryError;
        status = failureOf(failure.code).http;
        reply = { error: { code: failure.code, message: failure.message } };
      }
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return new ApiClient("beta", `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`, "s");
}

/** A process on "alpha" whose gate is closed, and a real client of a peer "beta" that answers forwarded calls with `answer`. */
async function movingTarget(answer: (body: Record<string, unknown>) => unknown): Promise<{ target: CallTarget; process: ManagedProcess; forwarded: Record<string, unknown>[] }> {
  const process = new ManagedProcess({ name: "x", module: "X", args: [], generation: 1, migrations: 0, lastDowntimeMs: null });
  process.closeGate();
  const forwarded: Record<string, unknown>[] = [];
  const peer = await peerAnswering(answer, forwarded);
  const target: CallTarget = {
    node: "alpha",
    get: (name) => (name === "x" ? process : undefined),
    peer: (node) => (node === "beta" ? peer : undefined),
    request: () => Promise.reject(new Error("the call ran on the node it left")),
  };
  return { target, process, forwarded };
}

test("a call waiting at the gate is forwarded with its call id to the node the process moved to", async () => {
  const { target, process, forwarded } = await movingTarget(() => ({ value: 1, text: "1", node: "beta" }));
  const answer = callProcess(target, "x", "note", ["a"], 5_000, "call-0001");
  process.openGate({ movedTo: "beta" });
  assert.equal(await answer, { value: 1, text: "1", node: "beta" });
  assert.is(forwarded.length, 1);
  assert.is(forwarded[0]!.callId, "call-0001");
  assert.equal(forwarded[0]!.args, ["a"]);
});

test("a peer of an older release that refuses call ids gets the forwarded call once more without the id", async () => {
  const { target, process, forwarded } = await movingTarget((body) => {
    if ("callId" in body) throw new FerryError("bad_request", 'Invalid "call" request: unknown field "callId"');
    return { value: 2, text: "2", node: "beta" };
  });
  const answer = callProcess(target, "x", "note", [], 5_000, "call-0002");
  process.openGate({ movedTo: "beta" });
  assert.is((await answer).value, 2);
  assert.is(forwarded.length, 2);
  assert.not.ok("callId" in forwarded[1]!);
});

test("any other refusal of a forwarded call is the caller's answer, not retried", async () => {
  const { target, process, forwarded } = await movingTarget(() => {
    throw new FerryError("method_not_found", 'Process "x" has no method "nope"');
  });
  const answer = callProcess(target, "x", "nope", [], 5_000, "call-0003").then(() => undefined, (error: unknown) => error);
  process.openGate({ movedTo: "beta" });
  const error = await answer;
  assert.instance(error, FerryError);
  assert.is((error as FerryError).code, "method_not_found");
  assert.is(forwarded.length, 1);
});

test.run();
