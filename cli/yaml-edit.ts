/**
 * Edits of cluster.yaml that keep the user's file as they wrote it: comments, blank lines, key
 * order, alignment and quoting stay byte-identical outside the entry being edited.
 *
 * The yaml Document API locates what to change (it keeps every node's source range); the change
 * itself is spliced into the original text. Re-stringifying the whole document (`String(doc)`)
 * would normalise spacing the user chose, such as aligned values and aligned trailing comments.
 *
 * @example
 * ```ts
 * const text = await readFile("cluster.yaml", "utf8");
 * await writeConfigText("cluster.yaml", setProcessNode(text, "counter", "beta"));
 * ```
 * @module
 */
import { randomUUID } from "../daemon/builtins/crypto.ts";
// Synchronous file calls, as in file-lock.ts: a few small local files, each call microseconds on
// this thread instead of a round trip through libuv's thread pool.
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { isMap, isScalar, LineCounter, type Node, type Pair, parseDocument, Scalar, type YAMLMap } from "../daemon/config/yaml.ts";
import { modulePattern, namePattern } from "../schemas/cluster.schema.ts";
import { ConfigError, FerryError, isFerryError } from "../daemon/errors.ts";
import type { LoadedConfig } from "../daemon/config/load.ts";
import { withFileLock } from "./file-lock.ts";

/** A process entry for {@link addProcess}. */
export interface NewProcess {
  module: string;
  /** @default [] */
  args?: readonly string[];
  /** @default the node with the fewest processes in the file ({@link defaultNode}) */
  node?: string;
}

/**
 * Points process `name` at `node` (the edit behind `ferry migrate`). Only the value of its
 * `node:` key changes, keeping its quoting style; unchanged text when it is already there.
 *
 * @example
 * ```ts
 * setProcessNode("...\n  counter:\n    module: Counter\n    node: alpha\n", "counter", "beta");
 * // "...\n  counter:\n    module: Counter\n    node: beta\n"
 * ```
 */
export function setProcessNode(text: string, name: string, node: string): string {
  const file = open(text);
  requireNode(file, node);
  const entry = requireProcess(file, name);
  if (!isMap(entry.value)) throw notAMapping(name);
  const pair = findPair(entry.value, "node");
  if (!pair) return appendPair(file, entry.value, `node: ${renderScalar(node)}`);
  const value = pair.value;
  if (!isScalar(value) || !value.range) throw notAMapping(name);
  if (value.value === node) return text;
  const [start, end] = value.range;
  if (start === end) return splice(text, start, end, ` ${renderScalar(node)}`); // `node:` with no value
  return splice(text, start, end, renderScalar(node, value.type));
}

/**
 * Adds process `name` at the end of `processes:`, in the style of its neighbours: a block
 * mapping (`module:`, `args:`, `node:` lines) or a one-line flow mapping
 * `{ module: X, args: [], node: alpha }`. Creates `processes:` when the file has none.
 *
 * @example
 * ```ts
 * addProcess(text, "sorter", { module: "AlphabetSorter", args: ["in.txt"], node: "beta" });
 * // ...
 * //   sorter:
 * //     module: AlphabetSorter
 * //     args: [in.txt]
 * //     node: beta
 * ```
 */
export function addProcess(text: string, name: string, spec: NewProcess): string {
  if (!new RegExp(namePattern).test(name)) {
    throw new FerryError("bad_request", `Invalid process name "${name}"`, {
      hint: 'use letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters',
    });
  }
  if (!new RegExp(modulePattern).test(spec.module)) {
    throw new FerryError("bad_request", `Invalid module name "${spec.module}"`, {
      hint: "use the file name in the processes folder without its extension",
    });
  }
  const file = open(text);
  const node = spec.node ?? defaultNodeOf(file);
  requireNode(file, node);
  const processes = sectionOf(file, "processes");
  if (processes && isMap(processes.value) && findPair(processes.value, name)) {
    throw new FerryError("conflict", `Process "${name}" already exists in cluster.yaml`, {
      hint: `move it with \`ferry migrate ${name} <node>\` or remove it with \`ferry rm ${name}\``,
    });
  }
  const fields: [string, string][] = [
    ["module", renderScalar(spec.module)],
    ["args", `[${(spec.args ?? []).map((a) => renderScalar(a)).join(", ")}]`],
    ["node", renderScalar(node)],
  ];
  const flow = `{ ${fields.map(([k, v]) => `${k}: ${v}`).join(", ")} }`;
  const key = renderScalar(name);

  // No `processes:` at all: a new section at the end, indented like `nodes:`.
  if (!processes) {
    const indent = indentOf(file, sectionOf(file, "nodes")?.value ?? null) ?? 2;
    const lines = [`processes:`, ...blockEntry(key, fields, indent, indent * 2)];
    const sep = text === "" || text.endsWith("\n") ? "" : "\n";
    return `${text}${sep}${lines.join("\n")}\n`;
  }

  const map = processes.value;
  if (isMap(map) && map.items.length > 0) {
    if (map.flow) {
      const last = map.items[map.items.length - 1] as Pair;
      return splice(text, endOf(last), endOf(last), `, ${key}: ${flow}`);
    }
    const first = map.items[0] as Pair;
    const indent = indentOf(file, map) ?? 2;
    if (isMap(first.value) && first.value.flow) return appendLines(file, map, [`${" ".repeat(indent)}${key}: ${flow}`]);
    const inner = isMap(first.value) && !first.value.flow ? indentOf(file, first.value) : undefined;
    return appendLines(file, map, blockEntry(key, fields, indent, inner ?? indent + Math.max(indent, 2)));
  }

  // `processes:` with no entries (empty, `~`, `{}`, or only comments): drop the empty value and
  // start the block right after the `processes:` line, keeping any comment on that line.
  let edited = text;
  if ((isScalar(map) || isMap(map)) && map.range && map.range[0] !== map.range[1]) {
    let from = map.range[0];
    while (from > 0 && (text[from - 1] === " " || text[from - 1] === "\t")) from--;
    edited = splice(text, from, map.range[1], "");
  }
  const keyStart = (processes.key as Node).range?.[0] ?? 0;
  const at = lineEnd(edited, keyStart);
  const indent = indentOf(file, sectionOf(file, "nodes")?.value ?? null) ?? 2;
  return splice(edited, at, at, "\n" + blockEntry(key, fields, indent, indent * 2).join("\n"));
}

/**
 * Removes process `name`: its key line through the last line of its value, with the comments on
 * those lines, comments indented inside the entry, and the comment lines directly above its key
 * (at the key's indentation, no blank line between), which describe it. Everything else stays.
 *
 * @example
 * ```ts
 * removeProcess(text, "sorter"); // text without the sorter: block
 * ```
 */
export function removeProcess(text: string, name: string): string {
  const file = open(text);
  const entry = requireProcess(file, name);
  const map = sectionOf(file, "processes")?.value as YAMLMap;
  const index = map.items.indexOf(entry);
  const start = (entry.key as Node).range?.[0] ?? 0;

  if (map.flow) {
    if (map.items.length === 1 && map.range) return splice(text, map.range[0], map.range[1], "{}");
    const end = endOf(entry);
    const after = /^\s*,[ \t]*/.exec(text.slice(end));
    if (after) return splice(text, start, end + after[0].length, "");
    const before = /,\s*$/.exec(text.slice(0, start));
    return splice(text, before ? start - before[0].length : start, end, "");
  }

  // Comment lines right above the key, at its indentation, describe the entry: they go with it.
  const keyCol = file.lines.linePos(start).col - 1;
  let from = lineStart(text, start);
  while (from > 0) {
    const above = lineStart(text, from - 1);
    const line = lineAt(text, above);
    if (!line.trimStart().startsWith("#") || line.length - line.trimStart().length !== keyCol) break;
    from = above;
  }
  let to = entryEnd(file, entry);
  to = to < text.length ? to + 1 : to;
  // Keep the spacing between entries regular: removing an entry between two blank lines, or the
  // first of several entries, would otherwise leave a doubled or a leading blank line.
  const prevBlank = from > 0 && isBlank(lineAt(text, lineStart(text, from - 1)));
  const nextBlank = to < text.length && isBlank(lineAt(text, to));
  if (nextBlank && (prevBlank || (index === 0 && map.items.length > 1))) to = lineEnd(text, to) + 1;
  return splice(text, from, Math.min(to, text.length), "");
}

/**
 * The node a new process goes to when none is named: the one with the fewest processes in the
 * file, the first declared on a tie.
 *
 * @example
 * ```ts
 * defaultNode("nodes: { alpha: {url: http://a:1}, beta: {url: http://b:1} }\nprocesses: { x: { module: X, node: alpha } }\n");
 * // "beta"
 * ```
 */
export function defaultNode(text: string): string {
  return defaultNodeOf(open(text));
}

/**
 * Replaces the config file with `text` after validating it with the daemon's own loader; a text
 * with problems is not written and its `ConfigError` is thrown (positions refer to `file`). The
 * write is atomic (temporary file in the same folder, then rename), so a daemon watching the file
 * never reads half of it, and made under the file's lock (see {@link editConfigFile}).
 *
 * @example
 * ```ts
 * const loaded = await writeConfigText("cluster.yaml", removeProcess(text, "sorter"));
 * ```
 */
export async function writeConfigText(file: string, text: string): Promise<LoadedConfig> {
  return await withFileLock(file, () => replaceConfig(file, text, undefined));
}

/**
 * Reads the config file, applies `edit` and writes the result with {@link writeConfigText}, all
 * under the file's lock (`.cluster.yaml.lock` next to it), so that several `ferry` commands
 * editing at once take turns and each edit applies to the text the previous one wrote. An editor
 * knows nothing of the lock: if the file changed on disk meanwhile, the edit is applied again to
 * the new text rather than overwriting that change.
 *
 * @example
 * ```ts
 * await editConfigFile("cluster.yaml", (text) => setProcessNode(text, "counter", "beta"));
 * ```
 */
export async function editConfigFile(file: string, edit: (text: string) => string): Promise<{ changed: boolean; text: string }> {
  return await withFileLock(file, async () => {
    for (let attempt = 0; ; attempt++) {
      const before = await readConfig(file);
      const after = edit(before);
      if (after === before) return { changed: false, text: before };
      try {
        await replaceConfig(file, after, before);
        return { changed: true, text: after };
      } catch (error) {
        if (!(error instanceof ConcurrentEdit) || attempt >= 4) throw error;
      }
    }
  });
}

// --- Writing -----------------------------------------------------------------------------------

class ConcurrentEdit extends Error {}

async function readConfig(file: string): Promise<string> {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new FerryError("config_not_found", `Cannot read "${file}": ${(error as Error).message}`, {
      hint: "pass --config <file> or set FERRY_CONFIG",
      cause: error,
    });
  }
}

async function replaceConfig(file: string, text: string, expected: string | undefined): Promise<LoadedConfig> {
  const target = resolve(file);
  // Same folder: rename is only atomic within one filesystem, and relative paths in the config
  // (processes/, data dir) resolve the same way while validating.
  const tmp = join(dirname(target), `.${basename(target)}.${randomUUID().slice(0, 8)}.tmp`);
  let loaded: LoadedConfig;
  try {
    // Loaded on first write only: the loader compiles the JSON schema, which the pure edit
    // functions above do not need. The text is checked before anything is written.
    const { loadClusterText } = await import("../daemon/config/load.ts");
    loaded = await loadClusterText(text, tmp);
  } catch (error) {
    throw relabel(error, tmp, file);
  }
  writeFileSync(tmp, text, { encoding: "utf8", flag: "wx" });
  try {
    let mode: number | undefined;
    try {
      mode = statSync(target).mode & 0o7777;
    } catch {
      // No file yet: the new one keeps the default mode.
    }
    if (mode !== undefined) chmodSync(tmp, mode);
    if (expected !== undefined && (await readConfig(file)) !== expected) throw new ConcurrentEdit();
    renameSync(tmp, target);
    return { ...loaded, file: target, text };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Problems of the edited text, which was never written: positions in it would point at lines the
 * user cannot see, so the message says what is wrong and keeps the positioned issues (labelled
 * with the real file) in its cause.
 */
function relabel(error: unknown, tmp: string, file: string): unknown {
  // Checked by shape: the loader may be another module instance (see isFerryError).
  if (!isFerryError(error) || !("issues" in error) || !Array.isArray(error.issues)) return error;
  const issues = (error as ConfigError).issues.map((issue) =>
    resolve(dirname(tmp), issue.file) === tmp || basename(issue.file) === basename(tmp) ? { ...issue, file } : issue
  );
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return new FerryError("config_invalid", `${file} not changed: the edit would make it invalid: ${first?.message ?? "unknown problem"}${more}`, {
    ...(first?.hint === undefined ? {} : { hint: first.hint }),
    cause: new ConfigError(issues, { cause: error }),
  });
}

// --- Reading the document ----------------------------------------------------------------------

interface Parsed {
  text: string;
  contents: YAMLMap | null;
  lines: LineCounter;
}

function open(text: string): Parsed {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const { line, col } = lines.linePos(first.pos[0]);
    throw new FerryError("config_invalid", `Cannot edit cluster.yaml: YAML syntax error at line ${line}, column ${col}`, {
      hint: "fix it first; `ferry validate` shows every problem",
    });
  }
  return { text, contents: isMap(doc.contents) ? doc.contents : null, lines };
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return (map.items as Pair[]).find((p) => isScalar(p.key) && String(p.key.value) === key);
}

function sectionOf(file: Parsed, key: string): Pair | undefined {
  return file.contents ? findPair(file.contents, key) : undefined;
}

function keysOf(file: Parsed, section: string): string[] {
  const value = sectionOf(file, section)?.value;
  return isMap(value) ? (value.items as Pair[]).map((p) => (isScalar(p.key) ? String(p.key.value) : "?")) : [];
}

function requireNode(file: Parsed, node: string): void {
  const nodes = keysOf(file, "nodes");
  if (!nodes.includes(node)) {
    throw new FerryError("not_found", `No node named "${node}" in cluster.yaml`, {
      hint: nodes.length > 0 ? `known nodes: ${nodes.join(", ")}` : "declare it under nodes:",
    });
  }
}

function requireProcess(file: Parsed, name: string): Pair {
  const map = sectionOf(file, "processes")?.value;
  const pair = isMap(map) ? findPair(map, name) : undefined;
  if (pair) return pair;
  const names = keysOf(file, "processes");
  throw new FerryError("process_not_found", `No process named "${name}" in cluster.yaml`, {
    hint: names.length > 0 ? `known processes: ${names.join(", ")}` : "cluster.yaml declares none; add one with `ferry create`",
  });
}

function defaultNodeOf(file: Parsed): string {
  const nodes = keysOf(file, "nodes");
  const counts = new Map(nodes.map((n) => [n, 0]));
  const map = sectionOf(file, "processes")?.value;
  for (const pair of isMap(map) ? (map.items as Pair[]) : []) {
    const node = isMap(pair.value) ? pair.value.get("node") : undefined;
    if (typeof node === "string" && counts.has(node)) counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [node, count] of counts) if (best === undefined || count < (counts.get(best) ?? 0)) best = node;
  if (best === undefined) throw new FerryError("config_invalid", "cluster.yaml declares no nodes", { hint: "add one under nodes:" });
  return best;
}

function notAMapping(name: string): FerryError {
  return new FerryError("config_invalid", `Cannot edit process "${name}": its entry is not a plain mapping`, {
    hint: "write it as module:, args: and node: keys (no aliases)",
  });
}

// --- Positions ---------------------------------------------------------------------------------

/** Column (0-based) of a block mapping's keys. */
function indentOf(file: Parsed, node: unknown): number | undefined {
  if (!isMap(node) || node.flow || node.items.length === 0) return undefined;
  const start = ((node.items[0] as Pair).key as Node).range?.[0];
  return start === undefined ? undefined : file.lines.linePos(start).col - 1;
}

/** End of a pair's own text: its value (or key, when the value is empty), without trailing space. */
function endOf(pair: Pair): number {
  const value = pair.value as Node | null;
  const key = pair.key as Node;
  const end = value?.range && value.range[0] !== value.range[1] ? value.range[1] : (key.range?.[1] ?? 0);
  return end;
}

/**
 * End (offset of the newline) of the last line of a block-mapping entry: the line of its last
 * content, then any following comment lines indented deeper than its key, which belong to it.
 */
function entryEnd(file: Parsed, pair: Pair): number {
  const text = file.text;
  let last = endOf(pair);
  while (last > 0 && /\s/.test(text[last - 1] ?? "")) last--;
  let end = lineEnd(text, Math.max(last - 1, 0));
  const keyCol = file.lines.linePos((pair.key as Node).range?.[0] ?? 0).col - 1;
  while (end < text.length) {
    const next = lineAt(text, end + 1);
    const indent = next.length - next.trimStart().length;
    if (!next.trimStart().startsWith("#") || indent <= keyCol) break;
    end = lineEnd(text, end + 1);
  }
  return end;
}

function appendLines(file: Parsed, map: YAMLMap, lines: string[]): string {
  const at = entryEnd(file, map.items[map.items.length - 1] as Pair);
  return splice(file.text, at, at, "\n" + lines.join("\n"));
}

/** Adds `key: value` (one line) as the last pair of a mapping. */
function appendPair(file: Parsed, map: YAMLMap, line: string): string {
  if (map.flow || map.items.length === 0) {
    if (map.items.length === 0 && map.range) return splice(file.text, map.range[0], map.range[1], `{ ${line} }`);
    const end = endOf(map.items[map.items.length - 1] as Pair);
    return splice(file.text, end, end, `, ${line}`);
  }
  return appendLines(file, map, [`${" ".repeat(indentOf(file, map) ?? 0)}${line}`]);
}

function blockEntry(key: string, fields: [string, string][], indent: number, inner: number): string[] {
  return [`${" ".repeat(indent)}${key}:`, ...fields.map(([k, v]) => `${" ".repeat(inner)}${k}: ${v}`)];
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

function lineEnd(text: string, offset: number): number {
  const end = text.indexOf("\n", offset);
  return end < 0 ? text.length : end;
}

function lineAt(text: string, start: number): string {
  return text.slice(start, lineEnd(text, start));
}

function isBlank(line: string): boolean {
  return line.trim() === "";
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

// --- Scalars -----------------------------------------------------------------------------------

/**
 * A string as a YAML scalar that is valid in block and flow context and reads back as that same
 * string: plain when unambiguous (`alpha`, `data/in.txt`), double-quoted otherwise (`"10"`,
 * `"true"`, `"a, b"`). JSON string syntax is valid YAML double-quoted syntax.
 */
function renderScalar(value: string, style?: Scalar["type"]): string {
  if (style === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  if (style === Scalar.QUOTE_SINGLE) return `'${value.replaceAll("'", "''")}'`;
  if (/^[A-Za-z0-9_./+=-][A-Za-z0-9_./+=@-]*$/.test(value)) {
    const back: unknown = parseDocument(`[${value}]`).toJS();
    if (Array.isArray(back) && back.length === 1 && back[0] === value) return value;
  }
  return JSON.stringify(value);
}
