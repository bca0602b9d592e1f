import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseClusterConfig } from "../../../daemon/config/parse.ts";
import { type ConfigIssue, ConfigError, formatIssue, isFerryError } from "../../../daemon/errors.ts";

const modules = new Set(["Counter", "AlphabetSorter"]);

/** The issues a config produces; fails the test when it parses. */
function issuesOf(text: string, options: { modules?: ReadonlySet<string> } = { modules }): ConfigIssue[] {
  try {
    parseClusterConfig(text, "cluster.yaml", options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.issues;
  }
  assert.unreachable("config was accepted");
  return [];
}

/** Asserts the config has exactly one issue, at line:col, whose message contains `message`. */
function onlyIssue(text: string, line: number, col: number, message: string, options?: { modules?: ReadonlySet<string> }): ConfigIssue {
  const issues = issuesOf(text, options);
  assert.is(issues.length, 1, `expected one issue, got:\n${issues.map(formatIssue).join("\n")}`);
  const issue = issues[0]!;
  assert.ok(issue.message.includes(message), `message ${JSON.stringify(issue.message)} lacks ${JSON.stringify(message)}`);
  assert.equal([issue.line, issue.col], [line, col], formatIssue(issue));
  assert.is(issue.file, "cluster.yaml");
  return issue;
}

const head = `cluster:
  name: demo
  secret: change-me
nodes:
  alpha: { url: http://127.0.0.1:7101 }
  beta: { url: http://127.0.0.1:7102 }
`;

test("parseClusterConfig() fills the defaults of a good config", () => {
  const config = parseClusterConfig(`${head}processes:\n  counter:\n    module: Counter\n    node: alpha\n`, "cluster.yaml", { modules });
  assert.equal(config.cluster, {
    name: "demo",
    secret: "change-me",
    dataDir: ".ferry",
    processesDir: "processes",
    checkpointIntervalMs: 5000,
    suspendDeadlineMs: 5000,
    handoffTimeoutMs: 30000,
    callTimeoutMs: 10000,
    executors: 2,
    executorMemoryMb: 1024,
    stallMs: 5000,
    maxTransferMb: 1024,
    tlsCheckIntervalMs: 60000,
    balancer: { policy: "receiver-initiated", intervalMs: 1000, minStayMs: 5000, minDifference: 2, goneAfterMs: 5000 },
    insecure: false,
    logs: { maxFileBytes: 1048576, files: 3 },
  });
  assert.equal(config.nodes.alpha, { url: "http://127.0.0.1:7101", runtime: "node" });
  assert.equal(config.processes.counter, { module: "Counter", node: "alpha", args: [], upgrade: "auto" });
});

test("parseClusterConfig() keeps given values and treats a missing or empty processes section as none", () => {
  const text = `cluster: { name: demo, secret: s, executors: 4, dataDir: /var/ferry }
nodes:
  alpha: { url: "https://node-a.example:8443", runtime: deno, tls: { cert: a.pem, key: a.key } }
processes:
`;
  const config = parseClusterConfig(text, "cluster.yaml");
  assert.is(config.cluster.executors, 4);
  assert.is(config.cluster.dataDir, "/var/ferry");
  assert.is(config.nodes.alpha?.runtime, "deno");
  assert.equal(config.processes, {});
  assert.equal(parseClusterConfig(head, "cluster.yaml").processes, {});
});

test("parseClusterConfig() does not check modules when none are given", () => {
  const config = parseClusterConfig(`${head}processes:\n  x: { module: Anything, node: beta, args: [a, "1"] }\n`, "cluster.yaml");
  assert.equal(config.processes.x?.args, ["a", "1"]);
});

test("parseClusterConfig() reports a YAML syntax error at its position", () => {
  const issue = onlyIssue(`${head}processes:\n  counter: { module: Counter, node: alpha\n`, 9, 1, "YAML syntax error");
  assert.ok(issue.hint);
});

test("parseClusterConfig() reports an unclosed quote", () => {
  onlyIssue(`cluster:\n  name: "demo\n  secret: s\n`, 4, 1, 'YAML syntax error: missing closing "quote');
});

test("parseClusterConfig() rejects tab indentation", () => {
  const issue = onlyIssue(`cluster:\n\tname: demo\n`, 2, 1, "Tabs are not allowed as indentation");
  assert.is(issue.hint, "Indent with spaces");
});

test("parseClusterConfig() rejects a duplicate process name", () => {
  onlyIssue(`${head}processes:\n  counter: { module: Counter, node: alpha }\n  counter: { module: Counter, node: beta }\n`, 9, 3, 'Duplicate key "counter"');
});

test("parseClusterConfig() rejects more than one YAML document", () => {
  onlyIssue(`${head}---\nprocesses: {}\n`, 7, 1, "single YAML document");
});

test("parseClusterConfig() reports an empty file at 1:1", () => {
  onlyIssue("", 1, 1, "Config is empty");
  onlyIssue("# nothing yet\n\n", 1, 1, "Config is empty");
});

test("parseClusterConfig() reports a document that is not a mapping at 1:1", () => {
  onlyIssue("- alpha\n- beta\n", 1, 1, "Config must be a mapping, got a list");
  onlyIssue("just text\n", 1, 1, "Config must be a mapping, got a single value");
});

test("parseClusterConfig() points at an unknown field with line and column", () => {
  const issue = onlyIssue(`${head}processes:\n  counter:\n    module: Counter\n    nodee: alpha\n`, 10, 5, 'Unknown field "nodee" in cluster.yaml at processes.counter');
  assert.is(issue.hint, "Allowed: module, args, node, limits, upgrade, maxDowntimeMs, strict");
});

test("parseClusterConfig() points at unknown fields at every level", () => {
  const text = `cluster:
  name: demo
  secret: s
  secrett: t
nodes:
  alpha: { url: http://127.0.0.1:7101, port: 1 }
processes:
  counter: { module: Counter, node: alpha, limits: { memoryMB: 64 } }
extra: true
`;
  const issues = issuesOf(text);
  assert.equal(
    issues.map((i) => [i.line, i.col, i.message]),
    [
      [4, 3, 'Unknown field "secrett" in cluster.yaml at cluster'],
      [6, 40, 'Unknown field "port" in cluster.yaml at nodes.alpha'],
      [8, 54, 'Unknown field "memoryMB" in cluster.yaml at processes.counter.limits'],
      [9, 1, 'Unknown field "extra" in cluster.yaml at the top level'],
    ],
  );
  assert.is(issues[1]?.hint, "Allowed: url, listen, tls, runtime");
  assert.is(issues[3]?.hint, "Allowed: cluster, nodes, processes");
});

test("parseClusterConfig() reports a missing cluster section", () => {
  const issue = onlyIssue(`# demo\nnodes:\n  alpha: { url: http://127.0.0.1:7101 }\n`, 2, 1, 'Missing "cluster" section');
  assert.ok(issue.hint?.includes("secret"));
});

test("parseClusterConfig() reports a missing secret at the cluster key", () => {
  onlyIssue(`cluster:\n  name: demo\nnodes:\n  alpha: { url: http://127.0.0.1:7101 }\n`, 1, 1, 'Cluster has no "secret"');
});

test("parseClusterConfig() reports missing and empty nodes", () => {
  onlyIssue(`cluster: { name: demo, secret: s }\n`, 1, 1, 'Missing "nodes" section');
  onlyIssue(`cluster: { name: demo, secret: s }\nnodes: {}\n`, 2, 8, "No nodes declared");
});

test("parseClusterConfig() reports a node without url at the node's key", () => {
  onlyIssue(`cluster: { name: demo, secret: s }\nnodes:\n  alpha: { runtime: node }\n`, 3, 3, 'Node "alpha" has no "url"');
});

test("parseClusterConfig() rejects a URL that is not http", () => {
  const issue = onlyIssue(
    `cluster: { name: demo, secret: s }\nnodes:\n  alpha: { url: "ftp://x" }\n`,
    3,
    17,
    'Field "url" of node "alpha" must be a URL like http://127.0.0.1:7101, got "ftp://x"',
  );
  assert.ok(issue.hint);
});

test("parseClusterConfig() rejects an unknown runtime", () => {
  const issue = onlyIssue(
    `cluster: { name: demo, secret: s }\nnodes:\n  alpha:\n    url: http://127.0.0.1:7101\n    runtime: bun\n`,
    5,
    14,
    'Unknown runtime "bun" for node "alpha"',
  );
  assert.is(issue.hint, "Use node or deno");
});

test("parseClusterConfig() rejects values of the wrong type", () => {
  const text = `cluster:
  name: demo
  secret: 1234
  executors: many
nodes:
  alpha: http://127.0.0.1:7101
`;
  const issues = issuesOf(text);
  assert.equal(
    issues.map((i) => [i.line, i.col, i.message]),
    [
      [3, 11, 'Field "secret" of cluster must be a string, got 1234'],
      [4, 14, 'Field "executors" of cluster must be a whole number, got "many"'],
      [6, 10, 'Node "alpha" must be a mapping, got "http://127.0.0.1:7101"'],
    ],
  );
  assert.is(issues[0]?.hint, 'Quote it: "1234"');
});

test("parseClusterConfig() rejects args that are not strings", () => {
  const issue = onlyIssue(`${head}processes:\n  counter: { module: Counter, node: alpha, args: [a, 2] }\n`, 8, 54, 'Field "args[1]" of process "counter" must be a string, got 2');
  assert.is(issue.hint, 'Quote it: "2"');
  onlyIssue(`${head}processes:\n  counter: { module: Counter, node: alpha, args: file.txt }\n`, 8, 50, 'Field "args" of process "counter" must be a list, got "file.txt"');
});

test("parseClusterConfig() rejects negative and too small intervals", () => {
  const text = `cluster:\n  name: demo\n  secret: s\n  checkpointIntervalMs: -5\n  suspendDeadlineMs: 0\nnodes:\n  alpha: { url: http://127.0.0.1:7101 }\n`;
  const issues = issuesOf(text);
  assert.equal(
    issues.map((i) => [i.line, i.col, i.message]),
    [
      [4, 25, 'Field "checkpointIntervalMs" of cluster must be at least 100, got -5'],
      [5, 22, 'Field "suspendDeadlineMs" of cluster must be at least 10, got 0'],
    ],
  );
  assert.is(issues[0]?.hint, "Use a value from 100 to 3600000");
});

test("parseClusterConfig() rejects an empty secret", () => {
  onlyIssue(`cluster: { name: demo, secret: "" }\nnodes:\n  alpha: { url: http://127.0.0.1:7101 }\n`, 1, 32, 'Field "secret" of cluster must not be empty');
});

test("parseClusterConfig() rejects bad process and node names at the key", () => {
  const issue = onlyIssue(`${head}processes:\n  "my counter": { module: Counter, node: alpha }\n`, 8, 3, 'Invalid process name "my counter"');
  assert.ok(issue.hint?.includes("letters, digits"));
  onlyIssue(`cluster: { name: demo, secret: s }\nnodes:\n  -alpha: { url: http://127.0.0.1:7101 }\n`, 3, 3, 'Invalid node name "-alpha"');
});

test("parseClusterConfig() rejects a bad module name", () => {
  onlyIssue(`${head}processes:\n  counter: { module: "processes/Counter.ts", node: alpha }\n`, 8, 22, 'Invalid module name "processes/Counter.ts" for process "counter"');
});

test("parseClusterConfig() rejects a process placed on an unknown node", () => {
  const issue = onlyIssue(`${head}processes:\n  counter:\n    module: Counter\n    node: gamma\n`, 10, 11, 'Unknown node "gamma" for process "counter"');
  assert.is(issue.hint, "Known nodes: alpha, beta");
});

test("parseClusterConfig() accepts a process without a node (the balancer places it)", () => {
  const config = parseClusterConfig(`${head}processes:\n  counter:\n    module: Counter\n`, "cluster.yaml");
  assert.is(config.processes.counter?.node, undefined);
  assert.is(config.cluster.balancer.policy, "receiver-initiated");
});

test("parseClusterConfig() rejects a process without a module", () => {
  onlyIssue(`${head}processes:\n  counter: { node: alpha }\n`, 8, 3, 'Process "counter" has no "module"');
});

test("parseClusterConfig() rejects a module missing from the processes folder", () => {
  const issue = onlyIssue(`${head}processes:\n  x:\n    module: Foo\n    node: beta\n`, 9, 13, 'Unknown module "Foo" for process "x"');
  assert.is(issue.hint, "No processes/Foo.ts or .js; known modules: AlphabetSorter, Counter");
  const cased = onlyIssue(`${head}processes:\n  x: { module: counter, node: beta }\n`, 8, 16, 'Unknown module "counter"');
  assert.ok(cased.hint?.includes('did you mean "Counter"?'));
});

test("parseClusterConfig() rejects two nodes with the same URL", () => {
  const text = `cluster: { name: demo, secret: s }
nodes:
  alpha: { url: http://127.0.0.1:7101 }
  beta: { url: http://127.0.0.1:7101 }
  gamma: { url: "http://localhost:7101/" }
`;
  const issues = issuesOf(text);
  assert.equal(
    issues.map((i) => [i.line, i.col, i.message]),
    [
      [4, 16, 'Node "beta" has the same URL as node "alpha": "http://127.0.0.1:7101"'],
      [5, 17, 'Node "gamma" has the same URL as node "alpha": "http://localhost:7101/"'],
    ],
  );
});

test("parseClusterConfig() rejects an alias to an unknown anchor", () => {
  onlyIssue(`${head}processes:\n  counter: { module: Counter, node: *main }\n`, 8, 37, 'Unknown alias "*main"');
});

test("parseClusterConfig() follows aliases when locating an error", () => {
  const text = `cluster: { name: demo, secret: s }
nodes:
  alpha: &node { url: http://127.0.0.1:7101, runtime: bun }
  beta: { url: http://127.0.0.1:7102 }
`;
  onlyIssue(text, 3, 55, 'Unknown runtime "bun" for node "alpha"');
});

test("parseClusterConfig() reports every issue at once, sorted by position, in one ConfigError", () => {
  const text = `processes:
  counter: { module: Counter, node: alpha, extra: 1 }
nodes:
  alpha: { url: http://127.0.0.1:7101, runtime: bun }
`;
  let caught: unknown;
  try {
    parseClusterConfig(text, "conf/cluster.yaml");
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError);
  assert.ok(isFerryError(caught));
  assert.is(caught.code, "config_invalid");
  assert.equal(caught.issues.map((i) => `${i.line}:${i.col}`), ["1:1", "2:44", "4:49"]);
  assert.ok(caught.issues.every((i) => i.file === "conf/cluster.yaml"));
  assert.ok(caught.message.startsWith("conf/cluster.yaml:1:1: "), caught.message);
});

test.run();
