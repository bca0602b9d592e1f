// The CLI's HTTP client against a stand-in server (no daemon): what it sends, and how every kind
// of failure becomes a FerryError that names the node.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { ClusterClient, NodeClient } from "../../cli/client.ts";
import type { ClusterConfig } from "../../schemas/cluster.schema.ts";
import { isFerryError } from "../../daemon/errors.ts";
import { rejection } from "../helpers/assert.ts";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const servers: Server[] = [];

async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closedUrl(): Promise<string> {
  return new Promise((resolve) => {
    const server = createTcpServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

function config(nodes: Record<string, string>): ClusterConfig {
  return {
    cluster: { name: "t", secret: "s" },
    nodes: Object.fromEntries(Object.entries(nodes).map(([name, url]) => [name, { url }])),
    processes: {},
  } as ClusterConfig;
}

test.after.each(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("post() sends the message as JSON to /v1/<type> with the secret, and returns the answer", async () => {
  let seen: { method?: string; url?: string; auth?: string; type?: string; body?: unknown } = {};
  const url = await serve((req, body, res) => {
    seen = { method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers["content-type"], body: JSON.parse(body) };
    json(res, 200, { value: 42, text: "42", node: "alpha" });
  });
  const answer = await new NodeClient("alpha", url + "/", "s3cret").post("call", { name: "counter", method: "get", args: [] });
  assert.equal(answer, { value: 42, text: "42", node: "alpha" });
  assert.equal(seen, { method: "POST", url: "/v1/call", auth: "Bearer s3cret", type: "application/json", body: { name: "counter", method: "get", args: [] } });
});

test("a node that cannot be reached is an `unreachable` error naming the node and its URL", async () => {
  const url = await closedUrl();
  const error = await rejection(new NodeClient("beta", url, "s").post("status", {}));
  assert.is(error.code, "unreachable");
  assert.is(error.message, `Cannot reach node "beta" at ${url}`);
  assert.is(error.hint, "is its daemon running? start it with `ferry up`");
});

test("401 is an `unauthorized` error pointing at the secret", async () => {
  const url = await serve((_req, _body, res) => json(res, 401, { error: { code: "unauthorized", message: "Missing or wrong secret" } }));
  const error = await rejection(new NodeClient("alpha", url, "wrong").post("ps", {}));
  assert.is(error.code, "unauthorized");
  assert.match(error.message, /^Node "alpha" at http:\/\/127\.0\.0\.1:\d+ refused the cluster secret/);
  assert.is(error.hint, "check cluster.secret or FERRY_SECRET");
});

test("an error body becomes a FerryError with its code, message and hint", async () => {
  const url = await serve((_req, _body, res) =>
    json(res, 404, { error: { code: "process_not_found", message: 'Node "alpha" does not hold "x"', hint: "see ferry ps" } })
  );
  const error = await rejection(new NodeClient("alpha", url, "s").post("call", { name: "x", method: "get" }));
  assert.equal([error.code, error.message, error.hint], ["process_not_found", 'Node "alpha" does not hold "x"', "see ferry ps"]);
});

test("a non-JSON failure is an `internal` error with the HTTP status", async () => {
  const url = await serve((_req, _body, res) => {
    res.writeHead(502);
    res.end("Bad gateway");
  });
  const error = await rejection(new NodeClient("alpha", url, "s").post("status", {}));
  assert.is(error.code, "internal");
  assert.match(error.message, /answered HTTP 502$/);
});

test("a node that does not answer in time is a `timeout` error", async () => {
  const url = await serve(() => {/* never answers */});
  const error = await rejection(new NodeClient("alpha", url, "s").post("status", {}, { timeoutMs: 100 }));
  assert.is(error.code, "timeout");
  assert.match(error.message, /did not answer "status" within 100 ms$/);
});

test("events() yields the NDJSON events, across chunk boundaries, skipping torn lines", async () => {
  let path = "";
  const url = await serve((req, _body, res) => {
    path = req.url ?? "";
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.write('{"seq":1,"time":"2025-01-01T00:00:00.000Z","node":"alpha","type":"started","process":"c"}\n{"seq":2,"ti');
    setTimeout(() => {
      res.write('me":"2025-01-01T00:00:01.000Z","node":"alpha","type":"suspended","process":"c"}\nnot json\n');
      res.end('{"seq":3,"time":"2025-01-01T00:00:02.000Z","node":"alpha","type":"resumed"}');
    }, 20);
  });
  const seen: string[] = [];
  for await (const event of new NodeClient("alpha", url, "s").events(false)) seen.push(`${event.seq}:${event.type}`);
  assert.equal(seen, ["1:started", "2:suspended", "3:resumed"]);
  assert.is(path, "/v1/events");
});

test("events(true) follows until the signal aborts, then ends quietly", async () => {
  const url = await serve((req, _body, res) => {
    assert.is(req.url, "/v1/events?follow=1");
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.write('{"seq":1,"time":"2025-01-01T00:00:00.000Z","node":"alpha","type":"started"}\n');
  });
  const stop = new AbortController();
  const seen: number[] = [];
  for await (const event of new NodeClient("alpha", url, "s").events(true, stop.signal)) {
    seen.push(event.seq);
    stop.abort();
  }
  assert.equal(seen, [1]);
});

test("fanOut() answers per node, in cluster.yaml order, with errors instead of throwing", async () => {
  const up = await serve((_req, _body, res) => json(res, 200, []));
  const down = await closedUrl();
  const results = await new ClusterClient({ config: config({ alpha: up, beta: down }), secret: "s" }).fanOut("ps", {});
  assert.equal(results.map((r) => [r.node, r.ok]), [["alpha", true], ["beta", false]]);
  const beta = results[1];
  assert.ok(beta && !beta.ok && beta.error.code === "unreachable");
});

test("node() of an unknown name lists the known nodes", async () => {
  const cluster = new ClusterClient({ config: config({ alpha: "http://127.0.0.1:1", beta: "http://127.0.0.1:2" }), secret: "s" });
  let caught: unknown;
  try {
    cluster.node("gamma");
  } catch (error) {
    caught = error;
  }
  assert.ok(isFerryError(caught));
  assert.is(caught.userMessage, 'No node named "gamma" in cluster.yaml (known nodes: alpha, beta)');
});

test("locate() finds the holder, ignoring a node that only prepares an incoming hand-off", async () => {
  const holder = await serve((_req, _body, res) => json(res, 200, { holds: true, generation: 3, state: "running" }));
  const preparing = await serve((_req, _body, res) => json(res, 200, { holds: true, generation: 4, state: "starting", inDoubt: true }));
  const other = await serve((_req, _body, res) => json(res, 200, { holds: false }));
  const cluster = new ClusterClient({ config: config({ a: other, b: preparing, c: holder, d: await closedUrl() }), secret: "s" });
  assert.equal(await cluster.locate("counter"), { node: "c", generation: 3, state: "running" });
});

test("locate() is null when no reachable node holds it, and throws when no node answers", async () => {
  const other = await serve((_req, _body, res) => json(res, 200, { holds: false }));
  const down = await closedUrl();
  assert.is(await new ClusterClient({ config: config({ a: other, b: down }), secret: "s" }).locate("x"), null);
  const error = await rejection(new ClusterClient({ config: config({ a: down }), secret: "s" }).locate("x"));
  assert.is(error.code, "unreachable");
});

test.run();
