// GET /healthz and GET /metrics of real daemons (and of an assembled node while it stops).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SECRET, TestCluster, until } from "../helpers/cluster.ts";
import { InProcessCluster } from "../helpers/in-process.ts";

interface Series {
  type: Map<string, string>;
  samples: Map<string, number>;
}

/** A tiny Prometheus text parser: every line is a HELP, a TYPE or `name{labels} value`; throws on anything else. */
function parsePrometheus(text: string): Series {
  const type = new Map<string, string>();
  const samples = new Map<string, number>();
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  for (const line of text.trimEnd().split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(meta[3]!), line);
        type.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/.exec(line);
    assert.ok(sample, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    samples.set(`${sample![1]}${sample![2] ?? ""}`, Number(sample![3] === "+Inf" ? Infinity : sample![3]));
  }
  return { type, samples };
}

test("healthz answers 200 serving without the secret and names no process; metrics need the bearer secret and count a migration", async () => {
  const c = await TestCluster.create({ nodes: ["alpha", "beta"], modules: ["Tally"], processes: { tally: "module: Tally, node: alpha" } });
  try {
    await c.start("alpha");
    await c.start("beta");
    await c.waitRunningOn("tally", "alpha");

    const health = await fetch(`${c.url("alpha")}/healthz`);
    assert.is(health.status, 200);
    const body = await health.text();
    assert.equal(JSON.parse(body), { status: "serving" });
    assert.not.match(body, /tally/);

    const refused = await fetch(`${c.url("alpha")}/metrics`);
    assert.is(refused.status, 401);
    assert.not.match(await refused.text(), /ferry_/);
    const wrong = await fetch(`${c.url("alpha")}/metrics`, { headers: { authorization: "Bearer nope" } });
    assert.is(wrong.status, 401);
    await wrong.body?.cancel();

    const scrape = async (node: string) => {
      const res = await fetch(`${c.url(node)}/metrics`, { headers: { authorization: `Bearer ${SECRET}` } });
      assert.is(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      return parsePrometheus(await res.text());
    };
    const before = await scrape("alpha");
    for (const name of before.type.keys()) assert.match(name, /^ferry_/);
    assert.is(before.type.get("ferry_handoff_downtime_seconds"), "histogram");
    assert.is(before.type.get("ferry_journal_fsync_seconds"), "histogram");
    assert.is(before.samples.get('ferry_processes{state="running"}'), 1);
    assert.is(before.samples.get("ferry_handoffs_committed_total"), 0);
    assert.ok((before.samples.get("ferry_journal_fsync_seconds_count") ?? 0) > 0, "the journal's fsyncs are timed");
    assert.ok((before.samples.get("ferry_daemon_resident_memory_bytes") ?? 0) > 0);
    assert.ok([...before.samples.keys()].some((k) => /^ferry_module_info\{module="Tally",version="[0-9a-f]+"\}$/.test(k)), "module versions are listed");

    const moved = await c.cli(["migrate", "tally", "beta"]);
    assert.is(moved.code, 0, moved.stderr);
    const source = await until(async () => {
      const s = await scrape("alpha");
      return s.samples.get("ferry_handoffs_committed_total") === 1 ? s : undefined;
    }, "alpha to count the committed hand-off");
    assert.is(source.samples.get("ferry_handoffs_started_total"), 1);
    assert.is(source.samples.get("ferry_handoffs_rolled_back_total"), 0);
    assert.is(source.samples.get("ferry_handoff_bytes_count"), 1);
    assert.is(source.samples.get('ferry_processes{state="running"}'), 0);
    const destination = await scrape("beta");
    assert.is(destination.samples.get("ferry_handoff_downtime_seconds_count"), 1);
    assert.is(destination.samples.get('ferry_handoff_downtime_seconds_bucket{le="+Inf"}'), 1);
    assert.is(destination.samples.get('ferry_processes{state="running"}'), 1);
  } finally {
    await c.close();
  }
});

test("healthz answers 503 stopping once the node began to stop", async () => {
  const c = await InProcessCluster.create({ nodes: ["alpha"], modules: ["Tally"], processes: { tally: "module: Tally, node: alpha" } });
  try {
    const node = await c.start("alpha");
    const serving = await node.handler(new Request(`${c.url("alpha")}/healthz`));
    assert.is(serving.status, 200);
    const stopping = node.stop();
    const res = await node.handler(new Request(`${c.url("alpha")}/healthz`));
    assert.is(res.status, 503);
    assert.equal(await res.json(), { status: "stopping" });
    await stopping;
  } finally {
    await c.close();
  }
});

test.run();
