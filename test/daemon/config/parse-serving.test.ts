// What cluster.yaml says about how a node serves: `https://` URLs with their certificate files,
// the CA or pinned fingerprint clients check, a listen address apart from the URL, and the
// explicit opt-out of the off-loopback checks. Mistakes are reported at their line and column.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseClusterConfig } from "../../../daemon/config/parse.ts";
import { type ConfigIssue, ConfigError, formatIssue } from "../../../daemon/errors.ts";

const FINGERPRINT = "29:F1:BA:56:D4:56:25:E2:E5:C1:61:98:01:6C:21:9C:1B:39:7F:71:3B:52:B6:53:2C:42:54:04:A4:7F:1B:85";

function config(nodes: string, cluster = ""): string {
  return `cluster:\n  name: demo\n  secret: a-long-enough-secret\n${cluster}nodes:\n${nodes}`;
}

function onlyIssue(text: string, line: number, col: number, message: string): ConfigIssue {
  let issues: ConfigIssue[] = [];
  try {
    parseClusterConfig(text, "cluster.yaml");
    assert.unreachable("config was accepted");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    issues = error.issues;
  }
  assert.is(issues.length, 1, `expected one issue, got:\n${issues.map(formatIssue).join("\n")}`);
  const issue = issues[0]!;
  assert.ok(issue.message.includes(message), `message ${JSON.stringify(issue.message)} lacks ${JSON.stringify(message)}`);
  assert.equal([issue.line, issue.col], [line, col], formatIssue(issue));
  return issue;
}

test("parseClusterConfig() accepts https nodes with certificate files, a listen address, a CA, a pin and insecure", () => {
  const parsed = parseClusterConfig(
    config(
      `  alpha: { url: https://10.0.0.5:7101, listen: "0.0.0.0:7101", tls: { cert: certs/alpha.pem, key: certs/alpha.key } }\n` +
        `  beta: { url: https://beta.lan:7102, listen: "[::]:7102", tls: { cert: b.pem, key: b.key, fingerprint: "${FINGERPRINT}" } }\n` +
        `  gamma: { url: http://127.0.0.1:7103, listen: localhost }\n`,
      "  tls: { ca: certs/ca.pem }\n  insecure: true\n",
    ),
    "cluster.yaml",
  );
  assert.equal(parsed.nodes.alpha, { url: "https://10.0.0.5:7101", listen: "0.0.0.0:7101", tls: { cert: "certs/alpha.pem", key: "certs/alpha.key" }, runtime: "node" });
  assert.is(parsed.nodes.beta?.tls?.fingerprint, FINGERPRINT);
  assert.is(parsed.nodes.gamma?.listen, "localhost");
  assert.equal(parsed.cluster.tls, { ca: "certs/ca.pem" });
  assert.is(parsed.cluster.insecure, true);
});

test("parseClusterConfig() defaults insecure to false and leaves tls out when not given", () => {
  const parsed = parseClusterConfig(config("  alpha: { url: http://127.0.0.1:7101 }\n"), "cluster.yaml");
  assert.is(parsed.cluster.insecure, false);
  assert.is(parsed.cluster.tls, undefined);
  assert.is(parsed.nodes.alpha?.tls, undefined);
});

test("parseClusterConfig() points at an https URL whose node has no tls files", () => {
  const issue = onlyIssue(config("  alpha: { url: http://127.0.0.1:7101 }\n  beta:\n    url: https://127.0.0.1:7102\n"), 7, 10, 'Node "beta" has an https:// URL but no "tls"');
  assert.match(issue.hint ?? "", /cert: <file>, key: <file>/);
});

test("parseClusterConfig() points at tls on a node whose URL is plain http", () => {
  const issue = onlyIssue(config("  alpha:\n    url: http://127.0.0.1:7101\n    tls: { cert: a.pem, key: a.key }\n"), 7, 5, 'Node "alpha" has "tls" but an http:// URL');
  assert.match(issue.hint ?? "", /https:\/\//);
});

test("parseClusterConfig() points at a tls entry without its key file", () => {
  const issue = onlyIssue(config("  alpha:\n    url: https://127.0.0.1:7101\n    tls:\n      cert: a.pem\n"), 7, 5, 'Node "alpha" has no "tls.key"');
  assert.match(issue.hint ?? "", /private key file/);
});

test("parseClusterConfig() points at an unknown field inside tls", () => {
  onlyIssue(config("  alpha: { url: https://127.0.0.1:7101, tls: { cert: a.pem, key: a.key, ca: c.pem } }\n"), 5, 73, 'Unknown field "ca"');
  onlyIssue(config("  alpha: { url: http://127.0.0.1:7101 }\n", "  tls: { ca: c.pem, fingerprint: x }\n"), 4, 21, 'Unknown field "fingerprint"');
});

test("parseClusterConfig() rejects a fingerprint that is not a SHA-256 in hex, saying how to print one", () => {
  const issue = onlyIssue(
    config(`  alpha: { url: https://127.0.0.1:7101, tls: { cert: a.pem, key: a.key, fingerprint: "${FINGERPRINT.slice(3)}" } }\n`),
    5,
    86,
    'Field "fingerprint" of tls of node "alpha" must be a SHA-256 fingerprint',
  );
  assert.match(issue.hint ?? "", /openssl x509 .* -fingerprint -sha256/);
  // The same digest without colons, in lower case, is fine.
  const bare = FINGERPRINT.replaceAll(":", "").toLowerCase();
  parseClusterConfig(config(`  alpha: { url: https://127.0.0.1:7101, tls: { cert: a.pem, key: a.key, fingerprint: ${bare} } }\n`), "cluster.yaml");
});

test("parseClusterConfig() rejects a listen address that is not host:port, and a port out of range", () => {
  onlyIssue(config("  alpha: { url: http://127.0.0.1:7101, listen: 'http://0.0.0.0:7101' }\n"), 5, 48, 'Field "listen" of node "alpha" must be an address like 0.0.0.0:7101');
  onlyIssue(config("  alpha: { url: http://127.0.0.1:7101, listen: '::1:7101' }\n"), 5, 48, "must be an address like");
  onlyIssue(config("  alpha: { url: http://127.0.0.1:7101, listen: '0.0.0.0:70000' }\n"), 5, 48, 'Port 70000 of "listen" of node "alpha" is out of range');
});

test("parseClusterConfig() rejects an insecure that is not true or false", () => {
  onlyIssue(config("  alpha: { url: http://127.0.0.1:7101 }\n", "  insecure: yes-please\n"), 4, 13, 'Field "insecure" of cluster must be true or false');
});

test.run();
