/**
 * Turns the text of cluster.yaml into a validated {@link ClusterConfig}, or one `ConfigError`
 * listing every problem at its line and column. The YAML is parsed into a document that keeps
 * node ranges, so schema errors (which only know a JSON path) can be pointed back at the exact
 * key or value the user has to fix.
 *
 * @example
 * ```ts
 * const config = parseClusterConfig(text, "cluster.yaml", { modules: new Set(["Counter"]) });
 * ```
 * @module
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import { validators } from "../../schemas/validators.ts";
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLError,
} from "./yaml.ts";
import type { ClusterConfig, NodeSpec } from "../../schemas/cluster.schema.ts";
import { type ConfigIssue, ConfigError } from "../errors.ts";

/** Options of {@link parseClusterConfig}. */
export interface ParseOptions {
  /**
   * Module names available in the processes folder; when given, every process's module must be
   * one of them. Left out when the folder is not known (e.g. a config shown by a remote peer).
   * @default undefined (modules are not checked)
   */
  modules?: ReadonlySet<string>;
}

// Precompiled when built (schemas/validators.ts), with `verbose`: each error carries its schema
// and data, which the messages need (allowed fields, the offending value, the limits).
const validate = (await validators("cluster")).cluster as ValidateFunction<ClusterConfig>;

const exampleUrl = "http://127.0.0.1:7101";
const nameHint = 'Use letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters';

/**
 * Parses, validates and fills in the defaults of cluster.yaml.
 *
 * Throws one `ConfigError` whose `issues` hold every problem found, sorted by position; `file`
 * is only used to label the issues.
 *
 * @example
 * ```ts
 * const config = parseClusterConfig(
 *   "cluster: { name: demo, secret: s }\nnodes: { alpha: { url: http://127.0.0.1:7101 } }\n",
 *   "cluster.yaml",
 * );
 * config.processes; // {} (defaulted)
 * ```
 */
export function parseClusterConfig(text: string, file: string, options: ParseOptions = {}): ClusterConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const ctx: Context = { doc, lineCounter, file, issues: [] };

  for (const error of doc.errors) ctx.issues.push(yamlIssue(ctx, text, error));
  if (ctx.issues.length === 0) checkAliases(ctx);
  if (ctx.issues.length > 0) fail(ctx);

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    ctx.issues.push({ file, line: 1, col: 1, message: "Config is empty", hint: "Declare cluster:, nodes: and processes:" });
    fail(ctx);
  }
  if (!isMap(doc.contents)) {
    ctx.issues.push({
      file,
      line: 1,
      col: 1,
      message: `Config must be a mapping, got ${isSeq(doc.contents) ? "a list" : "a single value"}`,
      hint: "Start with cluster:, nodes: and processes: at the top level",
    });
    fail(ctx);
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Only alias explosions get here: syntax and unresolved aliases were reported above.
    ctx.issues.push({ file, line: 1, col: 1, message: `Cannot read config: ${errorText(error)}`, hint: "Use fewer aliases" });
    fail(ctx);
  }
  // `processes:` with every entry commented out is a natural way to say "none".
  if (isRecord(data) && data.processes === null) delete data.processes;

  if (!validate(data)) {
    for (const error of validate.errors ?? []) {
      const issue = schemaIssue(ctx, error);
      if (issue) ctx.issues.push(issue);
    }
    fail(ctx);
  }

  checkReferences(ctx, data, options);
  if (ctx.issues.length > 0) fail(ctx);
  return data;
}

interface Context {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  file: string;
  issues: ConfigIssue[];
}

function fail(ctx: Context): never {
  const seen = new Set<string>();
  const issues = ctx.issues
    .filter((i) => {
      const key = `${i.line}:${i.col}:${i.message}`;
      return seen.has(key) ? false : (seen.add(key), true);
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
  throw new ConfigError(issues);
}

function at(ctx: Context, offset: number, message: string, hint?: string): ConfigIssue {
  const { line, col } = ctx.lineCounter.linePos(offset);
  return hint === undefined ? { file: ctx.file, line, col, message } : { file: ctx.file, line, col, message, hint };
}

// --- YAML syntax -------------------------------------------------------------------------------

function yamlIssue(ctx: Context, text: string, error: YAMLError): ConfigIssue {
  const [start, end] = error.pos;
  switch (error.code) {
    case "TAB_AS_INDENT":
      return at(ctx, start, "Tabs are not allowed as indentation in YAML", "Indent with spaces");
    case "DUPLICATE_KEY":
      return at(ctx, start, `Duplicate key "${keyAt(ctx, start) ?? text.slice(start, end)}"`, "Each key may appear once per mapping");
    case "MULTIPLE_DOCS":
      return at(ctx, start, "Config must be a single YAML document", 'Remove the "---" separator');
    default:
      return at(ctx, start, `YAML syntax error: ${sentence(error.message)}`, "Check indentation, quotes and brackets");
  }
}

/** The key starting at `offset`: the error only carries the key's first character. */
function keyAt(ctx: Context, offset: number): string | undefined {
  let found: string | undefined;
  visit(ctx.doc, {
    Pair: (_key, pair) => {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function checkAliases(ctx: Context): void {
  visit(ctx.doc, {
    Alias: (_key, alias) => {
      if (alias.resolve(ctx.doc) === undefined) {
        ctx.issues.push(at(ctx, alias.range?.[0] ?? 0, `Unknown alias "*${alias.source}"`, `Define &${alias.source} before it is used`));
      }
    },
  });
}

// --- Positions ---------------------------------------------------------------------------------

interface Located {
  /** The value at the path, if present. */
  value: Node | null;
  /** The key naming that value in its parent mapping, if any. */
  key: Node | null;
}

/** Walks the document along a JSON path, following aliases; stops at the deepest node found. */
function locate(ctx: Context, path: readonly string[]): Located {
  let value: Node | null = ctx.doc.contents;
  let key: Node | null = null;
  for (const segment of path) {
    const current = resolve(ctx, value);
    if (isMap(current)) {
      const pair = current.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) break;
      key = isScalar(pair.key) ? pair.key : null;
      value = (pair.value as Node | null) ?? null;
    } else if (isSeq(current)) {
      const item = current.items[Number(segment)];
      if (item === undefined) break;
      key = null;
      value = item as Node | null;
    } else {
      break;
    }
  }
  return { value, key };
}

function resolve(ctx: Context, node: Node | null): Node | null {
  return isAlias(node) ? (node.resolve(ctx.doc) ?? null) : node;
}

function startOf(node: Node | null): number | undefined {
  return node?.range?.[0];
}

/** Where a value is; an empty value (`key:` and nothing) has no text of its own, so its key. */
function valueOffset(where: Located): number {
  const empty = isScalar(where.value) && where.value.value === null && where.value.range?.[0] === where.value.range?.[1];
  return (empty ? startOf(where.key) : startOf(where.value)) ?? startOf(where.key) ?? 0;
}

function keyOffset(where: Located): number {
  return startOf(where.key) ?? startOf(where.value) ?? 0;
}

// --- Schema errors -----------------------------------------------------------------------------

function schemaIssue(ctx: Context, error: ErrorObject): ConfigIssue | undefined {
  const path = pointerSegments(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const parentSchema = (error.parentSchema ?? {}) as Record<string, unknown>;

  // A bad key in `nodes:`/`processes:`; ajv reports it twice (the pattern and propertyNames).
  const badName = error.propertyName ?? (error.keyword === "propertyNames" ? String(params.propertyName) : undefined);
  if (badName !== undefined) {
    const kind = path[0] === "nodes" ? "node" : path[0] === "processes" ? "process" : "key";
    return at(ctx, keyOffset(locate(ctx, [...path, badName])), `Invalid ${kind} name "${badName}"`, nameHint);
  }

  const where = locate(ctx, path);
  const subject = subjectOf(path);
  const data: unknown = error.data;

  switch (error.keyword) {
    case "additionalProperties": {
      const field = String(params.additionalProperty);
      const allowed = Object.keys((parentSchema.properties ?? {}) as object);
      const place = path.length === 0 ? "at the top level" : `at ${path.join(".")}`;
      return at(ctx, keyOffset(locate(ctx, [...path, field])), `Unknown field "${field}" in ${baseName(ctx.file)} ${place}`, `Allowed: ${allowed.join(", ")}`);
    }
    case "required": {
      const field = String(params.missingProperty);
      const offset = startOf(where.key) ?? startOf(resolve(ctx, where.value)) ?? 0;
      return at(ctx, offset, ...missingMessage(path, field));
    }
    case "type": {
      const expected = String(params.type);
      return at(ctx, valueOffset(where), `${subject} must be ${article(expected)}, got ${show(data)}`, typeHint(path, expected, data));
    }
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(String);
      if (path.at(-1) === "runtime" && path[0] === "nodes") {
        return at(ctx, valueOffset(where), `Unknown runtime ${show(data)} for node "${path[1]}"`, `Use ${allowed.join(" or ")}`);
      }
      return at(ctx, valueOffset(where), `${subject} must be one of ${allowed.join(", ")}, got ${show(data)}`, `Use ${allowed.join(" or ")}`);
    }
    case "pattern":
      return at(ctx, valueOffset(where), ...patternMessage(path, subject, data));
    case "minimum":
    case "maximum": {
      const word = error.keyword === "minimum" ? "at least" : "at most";
      const range = `Use a value from ${String(parentSchema.minimum ?? "")} to ${String(parentSchema.maximum ?? "")}`;
      return at(ctx, valueOffset(where), `${subject} must be ${word} ${String(params.limit)}, got ${show(data)}`, range);
    }
    case "minLength": {
      const hint = path.at(-1) === "secret" ? "Set a shared secret here, or FERRY_SECRET in the environment" : undefined;
      return at(ctx, valueOffset(where), `${subject} must not be empty`, hint);
    }
    case "minProperties":
      return at(ctx, valueOffset(where), "No nodes declared", `Add one, e.g. nodes: { alpha: { url: ${exampleUrl} } }`);
    default:
      return at(ctx, valueOffset(where), `${subject} ${error.message ?? "is invalid"}`);
  }
}

function pointerSegments(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** `Node "alpha"`, `Field "url" of node "alpha"`, `Field "args[0]" of process "x"`... */
function subjectOf(path: readonly string[]): string {
  const [top, name] = path;
  if (path.length === 2 && top === "nodes") return `Node "${name}"`;
  if (path.length === 2 && top === "processes") return `Process "${name}"`;
  let field = path.at(-1) ?? "";
  let ownerPath = path.slice(0, -1);
  if (/^\d+$/.test(field) && ownerPath.length > 0) {
    field = `${ownerPath.at(-1)}[${field}]`;
    ownerPath = ownerPath.slice(0, -1);
  }
  const owner = ownerOf(ownerPath);
  return owner ? `Field "${field}" of ${owner}` : `Field "${field}"`;
}

function ownerOf(path: readonly string[]): string {
  const [top, name, ...rest] = path;
  if (top === undefined) return "";
  if (top === "cluster" && name === undefined) return "cluster";
  const base = top === "nodes" && name !== undefined ? `node "${name}"` : top === "processes" && name !== undefined ? `process "${name}"` : undefined;
  if (base === undefined) return path.join(".");
  return rest.length === 0 ? base : `${rest.join(".")} of ${base}`;
}

function missingMessage(path: readonly string[], field: string): [string, string] {
  const [top, name] = path;
  if (path.length === 0) {
    return field === "nodes"
      ? ['Missing "nodes" section', `Add nodes: with at least one node, e.g. alpha: { url: ${exampleUrl} }`]
      : [`Missing "${field}" section`, "Add cluster: with name: and secret:"];
  }
  if (top === "cluster" && path.length === 1) {
    return field === "secret"
      ? ['Cluster has no "secret"', "Add secret: <shared secret> under cluster:"]
      : [`Cluster has no "${field}"`, `Add ${field}: under cluster:`];
  }
  if (top === "nodes" && path.length === 2) return [`Node "${name}" has no "${field}"`, `Add ${field}: ${field === "url" ? exampleUrl : "..."}`];
  if (top === "nodes" && path.length === 3 && path[2] === "tls") {
    return [`Node "${name}" has no "tls.${field}"`, `Add ${field}: <${field === "cert" ? "certificate" : "private key"} file (PEM), relative to cluster.yaml> under tls:`];
  }
  if (top === "processes" && path.length === 2) {
    return [`Process "${name}" has no "${field}"`, field === "module" ? "Add module: <file name in the processes folder>" : `Add ${field}:`];
  }
  return [`${subjectOf(path)} has no "${field}"`, `Add ${field}:`];
}

function patternMessage(path: readonly string[], subject: string, data: unknown): [string, string] {
  const field = path.at(-1);
  if (field === "url") {
    return [`${subject} must be a URL like ${exampleUrl}, got ${show(data)}`, "Use http:// or https://, a host and an optional port, no path"];
  }
  if (field === "module") {
    return [`Invalid module name ${show(data)} for process "${path[1]}"`, "Use the file name in the processes folder without its extension"];
  }
  if (field === "node") return [`Invalid node name ${show(data)} for process "${path[1]}"`, nameHint];
  if (field === "listen") {
    return [`${subject} must be an address like 0.0.0.0:7101 or [::]:7101, got ${show(data)}`, "Use host:port (the url stays what peers and the CLI connect to)"];
  }
  if (field === "fingerprint") {
    return [
      `${subject} must be a SHA-256 fingerprint (32 hex pairs separated by colons), got ${show(data)}`,
      "Print it with: openssl x509 -in <cert> -noout -fingerprint -sha256",
    ];
  }
  if (field === "name" && path[0] === "cluster") return [`Invalid cluster name ${show(data)}`, nameHint];
  return [`${subject} has an invalid value ${show(data)}`, "Check the format"];
}

function typeHint(path: readonly string[], expected: string, data: unknown): string {
  if (path.length === 2 && path[0] === "nodes") return `Write it as { url: ${exampleUrl} }`;
  if (path.length === 2 && path[0] === "processes") return "Write it as { module: <Module>, node: <node> }";
  if (expected === "string" && (typeof data === "number" || typeof data === "boolean")) return `Quote it: "${String(data)}"`;
  if (expected === "integer") return "Use a whole number";
  if (expected === "array") return "Write a list like [a, b]";
  if (expected === "object") return "Write a mapping of key: value lines";
  return `Use ${article(expected)}`;
}

function article(type: string): string {
  const names: Record<string, string> = {
    object: "a mapping",
    array: "a list",
    integer: "a whole number",
    number: "a number",
    string: "a string",
    boolean: "true or false",
  };
  return names[type] ?? type;
}

/** The offending value as the user wrote it, quoted when a string. */
function show(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

// --- Cross-field checks ------------------------------------------------------------------------

function checkReferences(ctx: Context, config: ClusterConfig, options: ParseOptions): void {
  const nodeNames = Object.keys(config.nodes);
  const known = nodeNames.join(", ");
  for (const [name, spec] of Object.entries(config.processes)) {
    // A process without `node:` is placed by the balancer.
    if (spec.node !== undefined && !Object.hasOwn(config.nodes, spec.node)) {
      const where = locate(ctx, ["processes", name, "node"]);
      ctx.issues.push(at(ctx, valueOffset(where), `Unknown node "${spec.node}" for process "${name}"`, `Known nodes: ${known}`));
    }
    if (options.modules && !options.modules.has(spec.module)) {
      const where = locate(ctx, ["processes", name, "module"]);
      ctx.issues.push(at(ctx, valueOffset(where), `Unknown module "${spec.module}" for process "${name}"`, moduleHint(config, spec.module, options.modules)));
    }
  }

  for (const [name, spec] of Object.entries(config.nodes)) checkServing(ctx, name, spec);

  const byUrl = new Map<string, string>();
  for (const [name, spec] of Object.entries(config.nodes)) {
    const key = normaliseUrl(spec.url);
    const first = byUrl.get(key);
    if (first === undefined) {
      byUrl.set(key, name);
      continue;
    }
    const where = locate(ctx, ["nodes", name, "url"]);
    ctx.issues.push(at(ctx, valueOffset(where), `Node "${name}" has the same URL as node "${first}": "${spec.url}"`, "Give each node its own host and port"));
  }
}

/** An https URL is served with the node's certificate; a listen port must be one a socket can bind. */
function checkServing(ctx: Context, name: string, spec: NodeSpec): void {
  const https = spec.url.startsWith("https://");
  if (https && spec.tls === undefined) {
    const where = locate(ctx, ["nodes", name, "url"]);
    ctx.issues.push(at(ctx, valueOffset(where), `Node "${name}" has an https:// URL but no "tls"`, "Add tls: { cert: <file>, key: <file> } (PEM files relative to cluster.yaml)"));
  }
  if (!https && spec.tls !== undefined) {
    const where = locate(ctx, ["nodes", name, "tls"]);
    ctx.issues.push(at(ctx, keyOffset(where), `Node "${name}" has "tls" but an http:// URL, so it would be served without TLS`, "Use an https:// URL, or remove tls:"));
  }
  const port = spec.listen === undefined ? undefined : /:([0-9]+)$/.exec(spec.listen)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    const where = locate(ctx, ["nodes", name, "listen"]);
    ctx.issues.push(at(ctx, valueOffset(where), `Port ${port} of "listen" of node "${name}" is out of range`, "Use a port from 1 to 65535"));
  }
}

function moduleHint(config: ClusterConfig, module: string, modules: ReadonlySet<string>): string {
  const dir = config.cluster.processesDir.replace(/\/+$/, "");
  const names = [...modules].sort();
  const sameButCase = names.find((m) => m.toLowerCase() === module.toLowerCase());
  const known = names.length > 0 ? names.join(", ") : "none";
  const base = `No ${dir}/${module}.ts or .js; known modules: ${known}`;
  return sameButCase ? `${base}; did you mean "${sameButCase}"?` : base;
}

/** Two spellings of one listener (localhost vs 127.0.0.1, implicit port) are one address. */
function normaliseUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname === "localhost" || u.hostname === "[::1]" ? "127.0.0.1" : u.hostname;
    const port = u.port || (u.protocol === "https:" ? "443" : "80");
    return `${host}:${port}`;
  } catch {
    return url;
  }
}

// --- Small helpers -----------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function baseName(file: string): string {
  return file.split(/[\\/]/).pop() || file;
}

function sentence(text: string): string {
  const line = text.split("\n")[0] ?? text;
  return line.charAt(0).toLowerCase() + line.slice(1);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
