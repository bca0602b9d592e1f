/**
 * Finds the module specifiers a JavaScript or TypeScript source imports — static `import`,
 * `export … from` and literal dynamic `import("…")` — with their positions, so a bundle can
 * follow them and a receiving node can rewrite the ones that leave the bundle. A small lexer
 * rather than a parser: it only has to tell code from comments, strings, templates and regular
 * expressions, and it must run unchanged on Node and Deno with no compiler at hand.
 *
 * @example
 * ```ts
 * scanImports(`import { a } from "./a.ts"; const b = await import("./b.ts");`);
 * // [{ specifier: "./a.ts", start: 18, end: 26, dynamic: false }, { specifier: "./b.ts", ..., dynamic: true }]
 * ```
 * @module
 */

/** One imported specifier and where its string literal (quotes included) sits in the source. */
export interface ImportRef {
  specifier: string;
  start: number;
  end: number;
  /** `import("…")` rather than a static import or re-export. */
  dynamic: boolean;
}

type Kind = "name" | "string" | "template" | "number" | "regex" | "punct";

interface Token {
  kind: Kind;
  text: string;
  start: number;
  end: number;
  /** Strings and templates without substitutions: the decoded value. */
  value?: string;
}

/**
 * The specifiers `source` imports, in source order.
 *
 * @example
 * ```ts
 * scanImports('export * from "./lib.ts"').map((r) => r.specifier); // ["./lib.ts"]
 * ```
 */
export function scanImports(source: string): ImportRef[] {
  const tokens = tokenize(source);
  const refs: ImportRef[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind !== "name" || (token.text !== "import" && token.text !== "export")) continue;
    // `x.import(…)`, `x?.import`: a property, not the keyword.
    if (tokens[i - 1]?.text === ".") continue;
    const next = tokens[i + 1];
    if (!next) break;
    if (token.text === "import") {
      if (next.text === "(") {
        const arg = tokens[i + 2];
        const close = tokens[i + 3];
        if (arg && isLiteral(arg) && (close?.text === ")" || close?.text === ",")) refs.push(refOf(arg, true));
        continue;
      }
      if (next.text === ".") continue; // import.meta
      if (isLiteral(next) && next.kind === "string") {
        refs.push(refOf(next, false));
        continue;
      }
    } else if (!(next.text === "*" || next.text === "{" || (next.text === "type" && (tokens[i + 2]?.text === "{" || tokens[i + 2]?.text === "*")))) {
      continue; // export const/default/class…: exports nothing from elsewhere
    }
    const from = fromClause(tokens, i + 1);
    if (from && !refs.some((r) => r.start === from.start)) refs.push(refOf(from, false));
  }
  return refs;
}

/**
 * Walks an import or export clause (`x, { a as b, "c d" as e }`, `* as ns`, `type { T }`) and
 * returns the string after its `from`, or undefined when the tokens are not such a clause.
 */
function fromClause(tokens: Token[], first: number): Token | undefined {
  let depth = 0;
  let names = 0;
  for (let j = first; j < tokens.length && j < first + 10_000; j++) {
    const t = tokens[j]!;
    if (depth === 0 && t.kind === "name" && t.text === "from") {
      const spec = tokens[j + 1];
      if (spec?.kind === "string") return spec;
    }
    if (t.text === "{") depth++;
    else if (t.text === "}") {
      if (--depth < 0) return undefined;
      // A list closed: only `from` may follow (`export { a }` alone exports local names).
      if (depth === 0 && !(tokens[j + 1]?.kind === "name" && tokens[j + 1]!.text === "from")) return undefined;
    } else if (t.kind === "name") {
      // At most `type * as ns`, `defer x, * as ns`: more names mean this was no clause.
      if (depth === 0 && ++names > 5) return undefined;
    } else if (t.text === "," || t.text === "*") continue;
    else if (t.kind === "string" && depth > 0) continue; // `{ "arbitrary name" as x }`
    else return undefined;
  }
  return undefined;
}

function isLiteral(token: Token): boolean {
  return (token.kind === "string" || token.kind === "template") && token.value !== undefined;
}

function refOf(token: Token, dynamic: boolean): ImportRef {
  return { specifier: token.value!, start: token.start, end: token.end, dynamic };
}

/** Keywords after which a `/` starts a regular expression rather than a division. */
const beforeExpression = new Set(["return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await", "extends"]);
const nameStart = /[A-Za-z_$\u0080-\uffff\\]/;
const namePart = /[\w$\u0080-\uffff\\]/;
const numberAt = /(?:0[xXoObB][\da-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)n?/y;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  // Open braces: "{" for blocks and objects, "${" for template substitutions.
  const braces: string[] = [];
  let i = source.startsWith("#!") ? lineEnd(source, 0) : 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v" || c === "\u00a0" || c === "\ufeff" || c === "\u2028" || c === "\u2029") {
      i++;
      continue;
    }
    const start = i;
    if (c === "/" && source[i + 1] === "/") {
      i = lineEnd(source, i);
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const close = source.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      const { end, value } = readString(source, i, c);
      tokens.push({ kind: "string", text: source.slice(start, end), start, end, ...(value === undefined ? {} : { value }) });
      i = end;
      continue;
    }
    if (c === "`" || (c === "}" && braces[braces.length - 1] === "${")) {
      if (c === "}") braces.pop();
      const { end, value, open } = readTemplate(source, i + 1);
      if (open) braces.push("${");
      // Only a whole template without substitutions has a value.
      const whole = c === "`" && !open;
      tokens.push({ kind: "template", text: source.slice(start, end), start, end, ...(whole && value !== undefined ? { value } : {}) });
      i = end;
      continue;
    }
    if (nameStart.test(c)) {
      i++;
      while (i < n && namePart.test(source[i]!)) i++;
      tokens.push({ kind: "name", text: source.slice(start, i), start, end: i });
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "." && /\d/.test(source[i + 1] ?? ""))) {
      numberAt.lastIndex = i;
      const match = numberAt.exec(source);
      i = match && match[0].length > 0 ? i + match[0].length : i + 1;
      tokens.push({ kind: "number", text: source.slice(start, i), start, end: i });
      continue;
    }
    if (c === "/" && regexAllowed(tokens[tokens.length - 1])) {
      i = readRegex(source, i);
      tokens.push({ kind: "regex", text: source.slice(start, i), start, end: i });
      continue;
    }
    if (c === "{") braces.push("{");
    else if (c === "}") braces.pop();
    i++;
    tokens.push({ kind: "punct", text: c, start, end: i });
  }
  return tokens;
}

function regexAllowed(previous: Token | undefined): boolean {
  if (!previous) return true;
  switch (previous.kind) {
    case "name":
      return beforeExpression.has(previous.text);
    case "punct":
      // After `)` or `]` a value ended; after `}` a block usually did, so a statement may follow.
      return previous.text !== ")" && previous.text !== "]";
    default:
      return false;
  }
}

function lineEnd(source: string, from: number): number {
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") return i;
  }
  return source.length;
}

/** A quoted string from its opening quote; `value` is undefined when it is unterminated. */
function readString(source: string, at: number, quote: string): { end: number; value?: string } {
  let value = "";
  for (let i = at + 1; i < source.length; ) {
    const c = source[i]!;
    if (c === quote) return { end: i + 1, value };
    if (c === "\n" || c === "\r") return { end: i };
    if (c === "\\") {
      const { text, next } = readEscape(source, i + 1);
      value += text;
      i = next;
      continue;
    }
    value += c;
    i++;
  }
  return { end: source.length };
}

/** Template text from after "`" or "}" up to and including the closing "`" or "${". */
function readTemplate(source: string, from: number): { end: number; value?: string; open: boolean } {
  let value = "";
  for (let i = from; i < source.length; ) {
    const c = source[i]!;
    if (c === "`") return { end: i + 1, value, open: false };
    if (c === "$" && source[i + 1] === "{") return { end: i + 2, open: true };
    if (c === "\\") {
      const { text, next } = readEscape(source, i + 1);
      value += text;
      i = next;
      continue;
    }
    value += c;
    i++;
  }
  return { end: source.length, open: false };
}

const simpleEscapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", "0": "\0" };

function readEscape(source: string, at: number): { text: string; next: number } {
  const c = source[at] ?? "";
  if (c === "\r") return { text: "", next: source[at + 1] === "\n" ? at + 2 : at + 1 };
  if (c === "\n" || c === "\u2028" || c === "\u2029") return { text: "", next: at + 1 };
  if (c === "x") {
    const hex = source.slice(at + 1, at + 3);
    if (/^[\da-fA-F]{2}$/.test(hex)) return { text: String.fromCharCode(parseInt(hex, 16)), next: at + 3 };
  }
  if (c === "u") {
    const braced = /^\{([\da-fA-F]{1,6})\}/.exec(source.slice(at + 1, at + 10));
    if (braced) return { text: String.fromCodePoint(parseInt(braced[1]!, 16)), next: at + 1 + braced[0].length };
    const hex = source.slice(at + 1, at + 5);
    if (/^[\da-fA-F]{4}$/.test(hex)) return { text: String.fromCharCode(parseInt(hex, 16)), next: at + 5 };
  }
  return { text: simpleEscapes[c] ?? c, next: at + 1 };
}

/** A regular expression literal from its opening slash; returns the offset after its flags. */
function readRegex(source: string, at: number): number {
  let inClass = false;
  let i = at + 1;
  for (; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") i++;
    else if (c === "\n" || c === "\r") return i;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "/") break;
  }
  i++;
  while (i < source.length && namePart.test(source[i]!)) i++;
  return i;
}
