import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient } from "../../../daemon/api/client.ts";
import { handlerTransport } from "../../../daemon/api/transport.ts";
import { isFerryError } from "../../../daemon/errors.ts";
import { ferryInstallRoot } from "../../../daemon/modules/cache.ts";
import { ModuleRegistry, type PeerBundle } from "../../../daemon/modules/registry.ts";
import { loadProcessClass } from "../../../daemon/modules/inspect.ts";
import { responses } from "../../../schemas/api.schema.ts";
import { InProcessCluster } from "../../helpers/in-process.ts";
import { SECRET } from "../../helpers/cluster.ts";
import { rejection } from "../../helpers/assert.ts";
import { Ajv } from "ajv";

let cluster: InProcessCluster;
let scratch = "";
const origin = "http://alpha.test";

test.before.each(async () => {
  cluster = await InProcessCluster.create({ nodes: ["alpha"], modules: [] });
  scratch = mkdtempSync(join(tmpdir(), "ferry-fetch-"));
});

test.after.each(async () => {
  await cluster.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Node alpha, real (its own module registry over its processes folder), reached through its handler. */
async function alpha() {
  const assembled = await cluster.start("alpha");
  const handler = assembled.handler;
  const client = new ApiClient("alpha", origin, SECRET, handlerTransport(new Map([[origin, handler]])));
  const registry = new ModuleRegistry({
    processesDir: join(cluster.dir, "processes"),
    cacheDir: join(scratch, "alpha-view"),
    installRoot: ferryInstallRoot(),
    fetchBundle: async () => undefined,
  });
  return { registry, handler, client };
}

/** How a node asks a peer for a version: a 404 means the peer lacks it. */
function fetchFrom(client: ApiClient): (hash: string) => Promise<PeerBundle | undefined> {
  return async (hash) => {
    try {
      return { peer: client.name, bundle: await client.post("module.fetch", { hash }) };
    } catch (error) {
      if (isFerryError(error) && error.code === "module_not_found") return undefined;
      throw error;
    }
  };
}

test("module.fetch answers a version this node has, and another node loads it from there", async () => {
  writeFileSync(join(cluster.dir, "processes/Echo.ts"), `import { twice } from "./echo-lib.ts";\nexport default class Echo { say(a: string[]) { return twice(a[0]!); } }\n`);
  writeFileSync(join(cluster.dir, "processes/echo-lib.ts"), "export const twice = (s: string) => s + s;\n");
  const { registry, client } = await alpha();
  const hash = (await registry.local("Echo"))!.hash;
  const answer = await client.post("module.fetch", { hash });
  assert.ok(new Ajv({ strict: false }).validate(responses["module.fetch"], answer), "the answer does not fit its schema");
  assert.equal(Object.keys(answer.files).sort(), ["Echo.ts", "echo-lib.ts"]);

  const beta = new ModuleRegistry({
    processesDir: join(scratch, "beta-processes"),
    cacheDir: join(scratch, "beta-modules"),
    installRoot: ferryInstallRoot(),
    fetchBundle: fetchFrom(client),
  });
  const { path, version } = await beta.resolve("Echo", hash);
  const Echo = await loadProcessClass(path, version);
  assert.is((new Echo([]) as { say(a: string[]): string }).say(["ab"]), "abab");
});

test("module.fetch of a version this node lacks is a 404 module_not_found", async () => {
  const { handler, client } = await alpha();
  const hash = "0f".repeat(32);
  const response = await handler(new Request(`${origin}/v1/module.fetch`, {
    method: "POST",
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    body: JSON.stringify({ hash }),
  }));
  assert.is(response.status, 404);
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, "module_not_found");
  assert.match(body.error.message, `"0f0f0f0f0f0f" on node "alpha"`);
  assert.is(await fetchFrom(client)(hash), undefined);
});

test("module.fetch refuses a malformed hash and a missing secret", async () => {
  const { client, handler } = await alpha();
  assert.is((await rejection(client.post("module.fetch", { hash: "../../etc/passwd" }))).code, "bad_request");
  const stranger = new ApiClient("alpha", origin, "wrong", handlerTransport(new Map([[origin, handler]])));
  assert.is((await rejection(stranger.post("module.fetch", { hash: "0f".repeat(32) }))).code, "unauthorized");
});

test.run();
