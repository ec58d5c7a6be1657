// The static import graph of the repository's TypeScript, for tests/architecture_test.ts.
//
// A small scanner reads each file's import and export declarations: comments, string and
// template literals and regular expression literals are skipped, so an import in a JSDoc example
// or in the text of a generated script is not one. It records `import … from "…"`, side-effect
// `import "…"`, `export … from "…"` and `import("…")` with a string literal. Type-only edges are
// `import type` / `export type`, an import or re-export whose named bindings are all marked
// `type` (Deno erases those: this project does not set verbatimModuleSyntax), and `typeof
// import("…")`. An import of a value binding used only as a type counts as a load: the graph
// errs on the side of loading more, never less.

/** How a module refers to another. */
export interface ImportRecord {
  /** The specifier as written. */
  specifier: string;
  /** `import("…")`: loaded when the call runs, not when the importing module loads. */
  dynamic: boolean;
  /** Erased from the JavaScript: never loaded at run time. */
  typeOnly: boolean;
  /** 1-based line of the specifier. */
  line: number;
}

type Token =
  | { kind: "name"; text: string; line: number }
  | { kind: "string"; text: string; line: number }
  | { kind: "punct"; text: string; line: number }
  | { kind: "other"; text: string; line: number };

const REGEX_AFTER_NAMES = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/** The tokens of `source` that declarations are made of; literals other than strings are opaque. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const n = source.length;
  const advanceTo = (end: number) => {
    for (; i < end; i++) if (source[i] === "\n") line++;
  };
  const regexAllowed = () => {
    const last = tokens.at(-1);
    if (last === undefined) return true;
    if (last.kind === "punct") return !")]".includes(last.text);
    if (last.kind === "name") return REGEX_AFTER_NAMES.has(last.text);
    return false;
  };
  /** The end (exclusive) of the quoted string starting at `start`. */
  const stringEnd = (start: number): number => {
    const quote = source[start];
    let j = start + 1;
    while (j < n && source[j] !== quote && source[j] !== "\n") j += source[j] === "\\" ? 2 : 1;
    return j + 1;
  };
  /** The end (exclusive) of the template literal starting at `start`, `${…}` included. */
  const templateEnd = (start: number): number => {
    let j = start + 1;
    while (j < n && source[j] !== "`") {
      if (source[j] === "\\") j += 2;
      else if (source[j] === "$" && source[j + 1] === "{") j = braceEnd(j + 2);
      else j++;
    }
    return j + 1;
  };
  /** The end (exclusive) of the regular expression literal starting at `start`, flags included. */
  const regexEnd = (start: number): number => {
    let j = start + 1;
    let inClass = false;
    while (j < n && source[j] !== "\n" && (inClass || source[j] !== "/")) {
      if (source[j] === "\\") j++;
      else if (source[j] === "[") inClass = true;
      else if (source[j] === "]") inClass = false;
      j++;
    }
    j++;
    while (j < n && /[a-z]/i.test(source[j])) j++;
    return j;
  };
  /** Whether a `/` at `at` in a `${…}` expression begins a regular expression: not after a value. */
  const regexMayStart = (at: number): boolean => {
    let k = at - 1;
    while (k >= 0 && /\s/.test(source[k])) k--;
    return k < 0 || "(,=:[!&|?{};+-*%<>~^".includes(source[k]);
  };
  /** The end (exclusive) of a `${…}` expression whose body starts at `start`. */
  const braceEnd = (start: number): number => {
    let depth = 1;
    let j = start;
    while (j < n && depth > 0) {
      const c = source[j];
      if (c === "'" || c === '"') j = stringEnd(j);
      else if (c === "`") j = templateEnd(j);
      else if (c === "/" && source[j + 1] === "/") j = endOf(source.indexOf("\n", j), 0);
      else if (c === "/" && source[j + 1] === "*") j = endOf(source.indexOf("*/", j + 2), 2);
      else if (c === "/" && regexMayStart(j)) j = regexEnd(j);
      else {
        if (c === "{") depth++;
        else if (c === "}") depth--;
        j++;
      }
    }
    return j;
  };
  /** Just past a match found at `at` (`length` long), or the end of the source for none. */
  const endOf = (at: number, length: number) => at === -1 ? n : at + length;
  while (i < n) {
    const c = source[i];
    const start = i;
    if (c === "\n" || c === " " || c === "\t" || c === "\r") {
      advanceTo(i + 1);
    } else if (c === "/" && source[i + 1] === "/") {
      advanceTo(endOf(source.indexOf("\n", i), 0));
    } else if (c === "/" && source[i + 1] === "*") {
      advanceTo(endOf(source.indexOf("*/", i + 2), 2));
    } else if (c === "'" || c === '"') {
      const end = Math.min(stringEnd(i), n);
      const startLine = line;
      advanceTo(end);
      tokens.push({
        kind: "string",
        text: unquote(source.slice(start + 1, end - 1)),
        line: startLine,
      });
    } else if (c === "`") {
      const startLine = line;
      advanceTo(Math.min(templateEnd(i), n));
      tokens.push({ kind: "other", text: "`", line: startLine });
    } else if (c === "/" && regexAllowed()) {
      tokens.push({ kind: "other", text: "/re/", line });
      advanceTo(regexEnd(i));
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(source[j])) j++;
      tokens.push({ kind: "name", text: source.slice(i, j), line });
      advanceTo(j);
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(source[j])) j++;
      tokens.push({ kind: "other", text: source.slice(i, j), line });
      advanceTo(j);
    } else {
      tokens.push({ kind: "punct", text: c, line });
      advanceTo(i + 1);
    }
  }
  return tokens;
}

function unquote(body: string): string {
  return body.replace(/\\(.)/g, "$1");
}

/**
 * Whether the named bindings between `{` at `open` and its `}` are all marked `type` (and there
 * is at least one). Returns the index after the `}` too.
 */
function namedBindings(tokens: Token[], open: number): { end: number; allTypes: boolean } {
  let j = open + 1;
  let count = 0;
  let typed = 0;
  let atStart = true;
  for (; j < tokens.length && tokens[j].text !== "}"; j++) {
    const t = tokens[j];
    if (t.text === ",") {
      atStart = true;
      continue;
    }
    if (atStart) {
      count++;
      const next = tokens[j + 1];
      // `type A`, `type A as B`; not `type` alone, `type as B` (bindings named "type").
      if (
        t.text === "type" && next?.kind === "name" &&
        !(next.text === "as" && tokens[j + 2]?.kind === "name" && tokens[j + 3]?.text !== "as")
      ) {
        typed++;
      }
      atStart = false;
    }
  }
  return { end: j + 1, allTypes: count > 0 && typed === count };
}

/** The `from "…"` string at `j`, if there is one. */
function fromString(tokens: Token[], j: number): Token | null {
  return tokens[j]?.text === "from" && tokens[j + 1]?.kind === "string" ? tokens[j + 1] : null;
}

/**
 * The import and re-export declarations and the literal `import("…")` calls of a TypeScript
 * source, in order.
 */
export function scanImports(source: string): ImportRecord[] {
  const tokens = tokenize(source);
  const records: ImportRecord[] = [];
  const add = (spec: Token, dynamic: boolean, typeOnly: boolean) =>
    records.push({ specifier: spec.text, dynamic, typeOnly, line: spec.line });
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "name" || (t.text !== "import" && t.text !== "export")) continue;
    if (tokens[i - 1]?.text === ".") continue; // a property named import or export
    const next = tokens[i + 1];
    if (t.text === "import" && next?.text === "(") {
      const spec = tokens[i + 2];
      const close = tokens[i + 3]?.text;
      if (spec?.kind === "string" && (close === ")" || close === ",")) {
        add(spec, true, tokens[i - 1]?.text === "typeof");
      }
      continue;
    }
    if (t.text === "import" && next?.kind === "string") {
      add(next, false, false);
      continue;
    }
    if (next === undefined || next.text === ".") continue; // import.meta
    // import [type] [default[,]] [* as ns | {…}] from "…"; export [type] (* [as ns] | {…}) from "…".
    // Anything else (`import x = require(…)`, `export const`, `export { a }`) imports nothing.
    let j = i + 1;
    let typeOnly = false;
    if (next.text === "type" && !(t.text === "import" && fromString(tokens, j + 1))) {
      typeOnly = true; // (`import type from "…"` imports a default binding named type)
      j++;
    }
    let hasDefault = false;
    if (
      t.text === "import" && tokens[j]?.kind === "name" &&
      (tokens[j + 1]?.text === "," || tokens[j + 1]?.text === "from")
    ) {
      hasDefault = true;
      j += tokens[j + 1].text === "," ? 2 : 1;
    }
    let allTypes = false;
    if (tokens[j]?.text === "*") {
      j += tokens[j + 1]?.text === "as" ? 3 : 1;
    } else if (tokens[j]?.text === "{") {
      const named = namedBindings(tokens, j);
      allTypes = named.allTypes && !hasDefault;
      j = named.end;
    } else if (!hasDefault) continue;
    const spec = fromString(tokens, j);
    if (spec !== null) add(spec, false, typeOnly || allTypes);
  }
  return records;
}

/** What a specifier names. */
export type TargetKind = "module" | "node" | "npm" | "jsr" | "bare" | "url";

/** One edge of the graph. */
export interface Edge {
  /** The importing module (a path from the repository root). */
  from: string;
  /** A module's path from the repository root, or the external specifier (`node:fs`, `npm:x`). */
  to: string;
  /** What `to` is. */
  kind: TargetKind;
  /** `import("…")`. */
  dynamic: boolean;
  /** Erased at run time. */
  typeOnly: boolean;
  /** Where in `from`. */
  line: number;
}

/** Module path (from the repository root) → its edges. */
export type ImportGraph = Map<string, Edge[]>;

/** `a/b/../c.ts` → `a/c.ts`; null when it leaves the root. */
function normalize(path: string): string | null {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

/** Where `specifier`, written in `from`, leads, with deno.json's `imports` map applied. */
export function resolveSpecifier(
  from: string,
  specifier: string,
  importMap: Record<string, string> = {},
): { to: string; kind: TargetKind } {
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/")) {
    const dir = from.includes("/") ? from.slice(0, from.lastIndexOf("/")) : "";
    const to = normalize(specifier.startsWith("/") ? specifier : `${dir}/${specifier}`);
    return to === null ? { to: specifier, kind: "url" } : { to, kind: "module" };
  }
  for (const [prefix, kind] of [["node:", "node"], ["npm:", "npm"], ["jsr:", "jsr"]] as const) {
    if (specifier.startsWith(prefix)) return { to: specifier, kind };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return { to: specifier, kind: "url" };
  const key = importMap[specifier] !== undefined
    ? specifier
    : Object.keys(importMap).find((k) => k.endsWith("/") && specifier.startsWith(k));
  if (key === undefined) return { to: specifier, kind: "bare" };
  const mapped = importMap[key] + specifier.slice(key.length);
  if (mapped.startsWith("./") || mapped.startsWith("../")) {
    return { to: normalize(mapped) ?? mapped, kind: "module" };
  }
  const target = resolveSpecifier("", mapped);
  return target.kind === "module" ? target : { to: `${specifier} (${mapped})`, kind: target.kind };
}

/** The graph of `sources` (module path from the repository root → its text). */
export function graphOf(
  sources: Record<string, string>,
  importMap: Record<string, string> = {},
): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const [from, source] of Object.entries(sources)) {
    graph.set(
      from,
      scanImports(source).map((record) => ({
        from,
        ...resolveSpecifier(from, record.specifier, importMap),
        dynamic: record.dynamic,
        typeOnly: record.typeOnly,
        line: record.line,
      })),
    );
  }
  return graph;
}

const SKIPPED_DIRS = new Set(["node_modules", "dist"]);

/** The TypeScript files under `root` (dot folders, node_modules and dist left out). */
export async function repositorySources(root: string): Promise<Record<string, string>> {
  const sources: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.name.startsWith(".") || SKIPPED_DIRS.has(entry.name)) continue;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && /\.(ts|tsx|mts)$/.test(entry.name)) {
        sources[path] = await Deno.readTextFile(`${root}/${path}`);
      }
    }
  }
  await walk("");
  return sources;
}
