// callAnywhere() against real HTTP servers on 127.0.0.1 that answer the daemon API the way a
// node holding a moving process does: which answers are retried, and what it says when it gives up.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:http";
import { callAnywhere } from "../../cli/commands/call.ts";
import { ClusterClient } from "../../cli/client.ts";
import { parseClusterConfig } from "../../daemon/config/parse.ts";
import { rejection } from "../helpers/assert.ts";

/** One fake node: `holds()` answers locate, `call()` answers call (given its body) with a status and a body. */
interface FakeNode {
  holds: () => boolean;
  call: (request: Record<string, unknown>) => { status: number; body: unknown };
  calls: number;
  /** Answer locate this much later (a slow node). */
  locateDelayMs?: number;
}

let servers: Server[] = [];

test.after.each(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

async function serve(node: FakeNode): Promise<string> {
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      let answer: { status: number; body: unknown };
      if (req.url === "/v1/locate") {
        answer = { status: 200, body: node.holds() ? { holds: true, generation: 1, state: "running" } : { holds: false } };
      } else if (req.url === "/v1/call") {
        node.calls++;
        answer = node.call(JSON.parse(text) as Record<string, unknown>);
      } else {
        answer = { status: 404, body: { error: { code: "not_found", message: `No route ${req.url}` } } };
      }
      const send = () => {
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.body));
      };
      if (req.url === "/v1/locate" && node.locateDelayMs) setTimeout(send, node.locateDelayMs);
      else send();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

async function clusterOf(nodes: Record<string, FakeNode>): Promise<ClusterClient> {
  const specs: Record<string, { url: string }> = {};
  for (const [name, node] of Object.entries(nodes)) specs[name] = { url: await serve(node) };
  const config = parseClusterConfig(JSON.stringify({ cluster: { name: "test", secret: "s" }, nodes: specs }), "cluster.yaml");
  return new ClusterClient({ config, secret: "s" });
}

const moving = { status: 503, body: { error: { code: "unavailable", message: 'Process "x" is moving to "beta"' } } };
const ok = (node: string) => ({ status: 200, body: { value: 7, text: "7", node } });

test("callAnywhere() retries while the holder answers a retryable error, then returns the answer", async () => {
  const alpha: FakeNode = { holds: () => true, call: () => (alpha.calls <= 3 ? moving : ok("alpha")), calls: 0 };
  const cluster = await clusterOf({ alpha });
  const response = await callAnywhere(cluster, "x", "get", [], 10_000, ["x"]);
  assert.equal(response, { value: 7, text: "7", node: "alpha" });
  assert.is(alpha.calls, 4);
});

test("callAnywhere() sends one call id with every retry, wherever the process is", async () => {
  let moved = false;
  const ids: unknown[] = [];
  const alpha: FakeNode = { holds: () => !moved, call: (request) => (ids.push(request.callId), alpha.calls === 2 && (moved = true), moving), calls: 0 };
  const beta: FakeNode = { holds: () => moved, call: (request) => (ids.push(request.callId), ok("beta")), calls: 0 };
  await callAnywhere(await clusterOf({ alpha, beta }), "x", "get", [], 10_000, ["x"]);
  assert.is(ids.length, 3);
  assert.type(ids[0], "string");
  assert.ok((ids[0] as string).length >= 8, "the call id is too short to be unique");
  assert.equal(new Set(ids).size, 1, `the retries carried different ids: ${ids.join(", ")}`);
  const next: unknown[] = [];
  const gamma: FakeNode = { holds: () => true, call: (request) => (next.push(request.callId), ok("gamma")), calls: 0 };
  await callAnywhere(await clusterOf({ gamma }), "x", "get", [], 10_000, ["x"]);
  assert.is.not(next[0], ids[0], "two calls shared an id");
});

test("callAnywhere() calls a node of an older release, which refuses call ids, once without the id", async () => {
  const refused = { status: 400, body: { error: { code: "bad_request", message: 'Invalid "call" request: unknown field "callId"' } } };
  const alpha: FakeNode = { holds: () => true, call: (request) => ("callId" in request ? refused : ok("alpha")), calls: 0 };
  const response = await callAnywhere(await clusterOf({ alpha }), "x", "get", [], 10_000, ["x"]);
  assert.is(response.node, "alpha");
  assert.is(alpha.calls, 2);
});

test("callAnywhere() follows the process to the node that holds it next", async () => {
  let moved = false;
  const alpha: FakeNode = { holds: () => !moved, call: () => ((moved = true), moving), calls: 0 };
  const beta: FakeNode = { holds: () => moved, call: () => ok("beta"), calls: 0 };
  const response = await callAnywhere(await clusterOf({ alpha, beta }), "x", "get", [], 10_000, ["x"]);
  assert.is(response.node, "beta");
  assert.is(alpha.calls, 1);
});

test("callAnywhere() gives up at its deadline saying the process kept moving, with the last answer", async () => {
  let holder = "alpha";
  const flip = (to: string) => () => ((holder = to), moving);
  const alpha: FakeNode = { holds: () => holder === "alpha", call: flip("beta"), calls: 0 };
  const beta: FakeNode = { holds: () => holder === "beta", call: flip("alpha"), calls: 0 };
  const error = await rejection(callAnywhere(await clusterOf({ alpha, beta }), "x", "get", [], 500, ["x"]));
  assert.is(error.code, "timeout");
  assert.is(error.message, 'Process "x" kept moving between nodes ("alpha", "beta") for 500 ms; last answer: Process "x" is moving to "beta"');
  assert.ok(alpha.calls > 1 && beta.calls > 1);
});

test("callAnywhere() at its deadline reports the holder's last answer, not the look it cut short", async () => {
  const alpha: FakeNode = { holds: () => true, call: () => moving, calls: 0, locateDelayMs: 150 };
  const error = await rejection(callAnywhere(await clusterOf({ alpha }), "x", "get", [], 400, ["x"]));
  assert.is(error.code, "timeout");
  assert.is(error.message, 'Process "x" on node "alpha" did not take the call within 400 ms; last answer: Process "x" is moving to "beta"');
});

test("callAnywhere() takes an answer that retrying cannot change as final, at once", async () => {
  const failed = { status: 422, body: { error: { code: "method_failed", message: 'Method "get" of "x" threw: kaboom' } } };
  const alpha: FakeNode = { holds: () => true, call: () => failed, calls: 0 };
  const error = await rejection(callAnywhere(await clusterOf({ alpha }), "x", "get", [], 10_000, ["x"]));
  assert.is(error.code, "method_failed");
  assert.is(error.message, 'Method "get" of "x" threw: kaboom');
  assert.is(alpha.calls, 1);
});

test("callAnywhere() of a name cluster.yaml does not declare fails at once when no node holds it", async () => {
  const alpha: FakeNode = { holds: () => false, call: () => ok("alpha"), calls: 0 };
  const error = await rejection(callAnywhere(await clusterOf({ alpha }), "ghost", "get", [], 10_000, ["x"]));
  assert.is(error.code, "process_not_found");
  assert.is(error.message, 'No process named "ghost" in cluster.yaml');
  assert.is(error.hint, "known processes: x");
});

test.run();
