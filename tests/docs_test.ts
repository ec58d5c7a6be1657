// The documentation standard, checked on the sources: every exported declaration of lib/, cli/,
// dashboard/ and main.ts has a JSDoc with an @example; examples assert with node:assert
// (console.assert never fails a test); an example that cannot run here says why. `deno task test`
// runs the examples (`deno test --doc`), and a check below asks Deno which ones it collects.
import assert from "node:assert/strict";

const PROJECT = new URL("..", import.meta.url).pathname;

/** The folders whose sources are checked, relative to the project. */
const CHECKED = ["lib/", "cli/", "dashboard/"];

/** The single files checked besides those folders' sources. */
const CHECKED_FILES = ["main.ts"];

/**
 * Being rewritten in parallel; remove from this list once they comply. A folder (ending in /)
 * skips everything under it.
 */
const SKIPPED_WHILE_REWRITTEN: string[] = [];

/** One breach of the standard: where, and what. */
interface Problem {
  file: string;
  line: number;
  what: string;
}

const DECLARATION =
  /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(function\*?|class|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/;
const DEFAULT_EXPORT = /^export\s+default\b/;

/** The JSDoc comment (`/** … *\/`) ending just above line `index`, or null. */
function jsdocAbove(lines: string[], index: number): string | null {
  let end = index - 1;
  // Lint directives may sit between a JSDoc and its declaration.
  while (end >= 0 && /^\s*\/\/\s*deno-lint-ignore/.test(lines[end])) end--;
  if (end < 0 || !lines[end].trimEnd().endsWith("*/")) return null;
  let start = end;
  while (start >= 0 && !lines[start].includes("/*")) start--;
  if (start < 0 || !lines[start].trimStart().startsWith("/**")) return null;
  const doc = lines.slice(start, end + 1).join("\n");
  // The module's own documentation is not the first declaration's.
  return /^\s*\*\s*@module\b/m.test(doc) ? null : doc;
}

/** The code blocks of a JSDoc's @example tags: their info string (`ts ignore`) and code. */
function examples(doc: string): { info: string; code: string }[] {
  const text = doc.split("\n").map((line) => line.replace(/^\s*\/?\*+\/?\s?/, "")).join("\n");
  const found: { info: string; code: string }[] = [];
  for (const part of text.split(/^@example\b.*$/m).slice(1)) {
    const body = part.split(/^@\w+/m)[0];
    for (const match of body.matchAll(/^```(.*)\n([\s\S]*?)^```/gm)) {
      found.push({ info: match[1].trim(), code: match[2] });
    }
  }
  return found;
}

/** What in one source file breaches the standard. */
function check(file: string, source: string): Problem[] {
  const problems: Problem[] = [];
  const lines = source.split("\n");
  lines.forEach((text, index) => {
    const declaration = DECLARATION.exec(text);
    if (declaration === null && !DEFAULT_EXPORT.test(text)) return;
    const name = declaration ? `export ${declaration[1]} ${declaration[2]}` : "export default";
    const line = index + 1;
    const doc = jsdocAbove(lines, index);
    if (doc === null) {
      problems.push({ file, line, what: `${name} has no JSDoc` });
      return;
    }
    const blocks = examples(doc);
    if (blocks.length === 0) {
      problems.push({ file, line, what: `${name} has no @example code block` });
    }
    for (const { info, code } of blocks) {
      const [lang, ...flags] = info.split(/\s+/);
      if (lang !== "ts") {
        problems.push({ file, line, what: `an @example of ${name} is not a ts code block` });
      }
      if (flags.includes("ignore")) {
        if (!/^\s*\/\/\s*\S/.test(code)) {
          problems.push({
            file,
            line,
            what: `an ignored @example of ${name} does not say why in a first // comment`,
          });
        }
      } else if (!/from "node:assert(\/strict)?"/.test(code)) {
        problems.push({
          file,
          line,
          what: `an @example of ${name} asserts nothing with node:assert`,
        });
      }
    }
  });
  // console.assert logs and carries on: anywhere in a JSDoc example it checks nothing.
  for (const match of source.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    for (const { code } of examples(match[0])) {
      const line = source.slice(0, match.index).split("\n").length;
      if (code.includes("console.assert")) {
        problems.push({ file, line, what: "an @example uses console.assert, which never fails" });
      }
      // An assertion of a constant checks nothing either.
      if (/\bassert(\.ok)?\(\s*(true|1|"[^"]*")\s*[,)]/.test(code)) {
        problems.push({ file, line, what: "an @example asserts a constant, which never fails" });
      }
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}

/** The .ts files under `dir` (relative to the project), sorted. */
function sources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(`${PROJECT}${dir}`)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) files.push(...sources(`${path}/`));
    else if (entry.isFile && path.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

function skipped(path: string): boolean {
  return SKIPPED_WHILE_REWRITTEN.some((skip) =>
    skip.endsWith("/") ? path.startsWith(skip) : path === skip
  );
}

Deno.test("every export of lib/, cli/, dashboard/ and main.ts has a JSDoc @example that asserts", () => {
  const files = [...CHECKED.flatMap(sources), ...CHECKED_FILES];
  assert.ok(files.length > 40, `only ${files.length} source files found`);
  const problems = files.filter((file) => !skipped(file)).flatMap((file) =>
    check(file, Deno.readTextFileSync(`${PROJECT}${file}`))
  );
  assert.deepEqual(
    problems.map((p) => `${p.file}:${p.line}: ${p.what}`),
    [],
  );
});

Deno.test("the skip list names only files and folders that exist", () => {
  for (const path of SKIPPED_WHILE_REWRITTEN) {
    const info = Deno.statSync(`${PROJECT}${path}`);
    assert.equal(info.isDirectory, path.endsWith("/"), path);
  }
});

/** The words of the one `deno test` command of `deno task test`. */
function taskTestArgs(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${PROJECT}deno.json`));
  const runs = (config.tasks.test as string).split("&&").map((s) => s.trim())
    .filter((s) => s.startsWith("deno test"));
  // One deno test run, whose summary line is the last: .ci/run reads the totals from it.
  assert.equal(runs.length, 1, config.tasks.test);
  return runs[0].split(/\s+/);
}

/** Whether `source` has an example Deno runs (a JSDoc `ts` block not marked `ignore`). */
function hasRunnableExample(source: string): boolean {
  return [...source.matchAll(/\/\*\*[\s\S]*?\*\//g)].some((match) =>
    examples(match[0]).some(({ info }) => !info.split(/\s+/).includes("ignore"))
  );
}

Deno.test("deno task test runs the doc examples of every module and Markdown file", () => {
  const args = taskTestArgs();
  for (const arg of ["--doc", "--parallel", "tests/", ...CHECKED_FILES, "docs/", "README.md"]) {
    assert.ok(args.includes(arg), `deno task test lacks ${arg}: ${args.join(" ")}`);
  }
  assert.equal(args[args.indexOf("--preload") + 1], "tests/_time_bound.ts", args.join(" "));
});

// Naming a folder is not enough: Deno 2.9 collects nothing from a folder that holds a workspace
// member (`deno test --doc dashboard/` finds no test while dashboard/browser/ is one), so the
// examples of every checked source are looked for in what Deno itself extracts for the task's
// command: its debug log names each extracted example (`deno::util::extract… - file:///…#12-17.ts:`;
// the pinned Deno's format: if it changes, every file is reported missing, never none). The outer
// run of the same command has type-checked them all already, so `--no-run` finds them cached.
Deno.test("deno test --doc collects examples from every checked source the task names", async () => {
  const files = [...CHECKED.flatMap(sources), ...CHECKED_FILES].filter((file) =>
    hasRunnableExample(Deno.readTextFileSync(`${PROJECT}${file}`))
  );
  assert.ok(files.length > 40, `only ${files.length} source files with examples found`);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...taskTestArgs().slice(1), "--no-run", "--log-level=debug"],
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.ok(output.success, text.slice(-4000));
  const extracted = /deno::util::extract\S* - file:\/\/(\S+?)#\d+-\d+\.\w+:$/gm;
  const collected = new Set([...text.matchAll(extracted)].map((m) => m[1].slice(PROJECT.length)));
  assert.deepEqual(files.filter((file) => !collected.has(file)), []);
});

Deno.test("the check names each kind of breach, and passes what complies", () => {
  const source = [
    "/**",
    " * Documented.",
    " *",
    " * @example",
    " * ```ts",
    ' * import assert from "node:assert/strict";',
    ' * import { good } from "./x.ts";',
    " * assert.equal(good(), 1);",
    " * ```",
    " */",
    "export function good(): number {",
    "  return 1;",
    "}",
    "",
    "/** No example. */",
    "export async function noExample(): Promise<void> {}",
    "",
    "export const bare = 1;",
    "",
    "/**",
    " * @example",
    " * ```ts",
    ' * import { Lax } from "./x.ts";',
    " * console.assert(new Lax() instanceof Lax);",
    " * assert.ok(true);",
    " * ```",
    " */",
    "export class Lax {}",
    "",
    "/**",
    " * @example",
    " * ```ts ignore",
    ' * await fetch("https://updates.example/stable.json");',
    " * ```",
    " */",
    "export type Unexplained = string;",
    "",
    "/**",
    " * @example",
    " * ```ts ignore",
    " * // Needs a real release server.",
    ' * await fetch("https://updates.example/stable.json");',
    " * ```",
    " */",
    "// deno-lint-ignore no-explicit-any",
    "export interface Explained { x: any }",
    "",
    "/** @example `inline` is not a block */",
    "export default 5;",
  ].join("\n");
  assert.deepEqual(check("x.ts", source).map((p) => `${p.line}: ${p.what}`), [
    "16: export function noExample has no @example code block",
    "18: export const bare has no JSDoc",
    "20: an @example uses console.assert, which never fails",
    "20: an @example asserts a constant, which never fails",
    "28: an @example of export class Lax asserts nothing with node:assert",
    "36: an ignored @example of export type Unexplained does not say why in a first // comment",
    "49: export default has no @example code block",
  ]);
});
