import { suite } from "../helpers/suite.ts";
import * as assert from "uvu/assert";
import { SECRET, TestCluster, until } from "../helpers/cluster.ts";
import { type FerryError, failureOf } from "../../daemon/errors.ts";
import type { ProcessInfo } from "../../schemas/api.schema.ts";

const api = suite("API over loopback");
let c: TestCluster;

api.before(async () => {
  c = await TestCluster.create({ nodes: ["alpha"], processes: { tally: "module: Tally, node: alpha", rich: "module: Rich, node: alpha" } });
  await c.start("alpha");
  await until(async () => (await c.post<ProcessInfo[]>("alpha", "ps", {})).filter((p) => p.state === "running").length === 2, "both running");
});
api.after(async () => c.close());

const failure = async (promise: Promise<unknown>): Promise<FerryError> => {
  try {
    await promise;
  } catch (error) {
    return error as FerryError;
  }
  throw new Error("expected a failure");
};

/** The HTTP status and error code on the wire, for the checks that are about the wire itself. */
async function wire(type: string, body: unknown, secret = SECRET): Promise<[number, string]> {
  const response = await fetch(`${c.url("alpha")}/v1/${type}`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { error?: { code: string } };
  return [response.status, json.error?.code ?? ""];
}

for (const type of ["status", "ps", "call", "reconcile", "locate", "shutdown", "handoff.begin", "handoff.commit", "handoff.abort", "handoff.status"]) {
  api(`${type} answers 401 without the secret and with a wrong one`, async () => {
    for (const secret of ["", "wrong-secret"]) {
      assert.equal(await wire(type, {}, secret), [401, "unauthorized"]);
      const e = await failure(c.post("alpha", type, {}, secret));
      assert.is(e.code, "unauthorized");
    }
  });
}

api("error answers carry the failure table's HTTP status for their code", async () => {
  for (const [type, body] of [["call", { name: "ghost", method: "get" }], ["call", { name: "tally" }], ["call", { name: "tally", method: "boom" }]] as const) {
    const [status, code] = await wire(type, body);
    assert.is(status, failureOf(code as FerryError["code"]).http, `${type} ${JSON.stringify(body)} answered ${status} ${code}`);
  }
  assert.equal(await wire("call", { name: "ghost", method: "get" }), [404, "process_not_found"]);
});

api("the event stream answers 401 without the secret", async () => {
  const response = await fetch(`${c.url("alpha")}/v1/events`);
  assert.is(response.status, 401);
});

api("call returns the method's value", async () => {
  const n = await c.call<number>("alpha", "tally", "note", ["a"]);
  assert.is(n, 1);
  assert.equal(await c.call("alpha", "tally", "history"), ["a"]);
});

api("call renders BigInt as a decimal string in JSON", async () => {
  const r = await c.post<{ value: unknown; text: string }>("alpha", "call", { name: "rich", method: "big_", args: [] });
  assert.is(r.value, (2n ** 70n).toString());
  assert.is(r.text, `${2n ** 70n}n`);
});

api("call on an unknown process is a 404 naming it", async () => {
  const e = await failure(c.post("alpha", "call", { name: "ghost", method: "get" }));
  assert.is(e.code, "process_not_found");
  assert.match(e.message, /"ghost"/);
});

api("call of an unknown method names it and lists the callable ones", async () => {
  const e = await failure(c.post("alpha", "call", { name: "tally", method: "nope" }));
  assert.is(e.code, "method_not_found");
  assert.match(e.message, /no method "nope"/);
  assert.match(e.hint ?? "", /get/);
});

api("a lifecycle hook is not callable", async () => {
  const e = await failure(c.post("alpha", "call", { name: "tally", method: "run" }));
  assert.is(e.code, "method_not_found");
});

api("a method that throws is a clear error and the process keeps running", async () => {
  const e = await failure(c.post("alpha", "call", { name: "tally", method: "boom" }));
  assert.is(e.code, "method_failed");
  assert.match(e.message, /Tally\.boom\(\) threw: kaboom/);
  const p = (await c.post<ProcessInfo[]>("alpha", "ps", {})).find((x) => x.name === "tally");
  assert.is(p?.state, "running");
});

api("a malformed request body is a 400 naming the problem", async () => {
  const e = await failure(c.post("alpha", "call", { name: "tally" }));
  assert.is(e.code, "bad_request");
  assert.match(e.message, /method/);
  const bad = await fetch(`${c.url("alpha")}/v1/ps`, { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: "{nope" });
  assert.is(bad.status, 400);
});

api("an oversized request body is refused with 413", async () => {
  const big = JSON.stringify({ name: "tally", method: "note", args: ["x".repeat(2 * 1024 * 1024)] });
  const response = await fetch(`${c.url("alpha")}/v1/call`, { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: big });
  assert.is(response.status, 413);
});

api("an unknown endpoint is a 404", async () => {
  const e = await failure(c.post("alpha", "nope", {}));
  assert.is(e.code, "not_found");
});

api.run();
