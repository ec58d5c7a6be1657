// docs/ARCHITECTURE.md's module list matches the tree: every source file of the front ends and
// of lib/ is named under its folder in the "Wings" block, and every file the block names exists.
import assert from "node:assert/strict";

const PROJECT = new URL("../", import.meta.url).pathname;
const FOLDERS = ["cli/", "dashboard/", "lib/"];

/** Source files under `dir` (project-relative), recursively. */
function sources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(`${PROJECT}${dir}`)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) found.push(...sources(`${path}/`));
    else if (/\.(ts|js)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

/**
 * The files the block names, as project-relative paths: a line starting at column 0 with a
 * folder (`lib/root/`) sets the folder; names on indented lines (`  state.ts, lock.ts`) are in it.
 */
function namedFiles(markdown: string): Set<string> {
  const start = markdown.indexOf("## Wings");
  const block = markdown.slice(markdown.indexOf("```", start) + 3);
  const lines = block.slice(0, block.indexOf("```")).split("\n");
  const named = new Set<string>();
  let folder = "";
  for (const line of lines) {
    const head = /^([a-z_]+(?:\/[a-z_]+)*\/)\s/.exec(line);
    if (head) folder = head[1];
    const names = line.startsWith("  ")
      ? line.trim().split(/\s{2,}/)[0]
      : head
      ? line.slice(head[1].length).trim().split(/\s{2,}/)[0]
      : "";
    for (const name of names.match(/[\w/]+\.(?:ts|js)/g) ?? []) {
      named.add(name.includes("/") && !line.startsWith("  ") ? name : `${folder}${name}`);
    }
    // Files named in the description column (`_partial.ts`, `config_schema.ts: …`).
    for (const name of line.match(/(?<![\w/.])_?[a-z_]+\.(?:ts|js)(?=[\s,:;)]|$)/g) ?? []) {
      if (folder !== "") named.add(`${folder}${name}`);
    }
  }
  return named;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

Deno.test("docs/ARCHITECTURE.md names every source file of cli/, dashboard/ and lib/", () => {
  const doc = Deno.readTextFileSync(`${PROJECT}docs/ARCHITECTURE.md`);
  const named = namedFiles(doc);
  const tree = FOLDERS.flatMap(sources);
  assert.ok(tree.length > 60, `only ${tree.length} files found`);
  const missing = tree.filter((file) => !named.has(file));
  assert.deepEqual(missing, [], "files the module list does not name");
});

Deno.test("every file docs/ARCHITECTURE.md's module list names exists", () => {
  const doc = Deno.readTextFileSync(`${PROJECT}docs/ARCHITECTURE.md`);
  const stale = [...namedFiles(doc)].filter((file) =>
    FOLDERS.some((f) => file.startsWith(f)) && !isFile(`${PROJECT}${file}`)
  );
  assert.deepEqual(stale, []);
});

Deno.test("the module-list reader sees folders, indented names and names in descriptions", () => {
  const doc = [
    "## Wings",
    "```",
    "main.ts                  entry",
    "lib/net/                 THE NETWORK",
    "  http.ts, url.ts        the session (_attempt.ts: retries)",
    "lib/archive/             ARCHIVES: extract.ts, _tar.ts",
    "```",
  ].join("\n");
  assert.deepEqual(
    [...namedFiles(doc)].sort(),
    [
      "lib/archive/_tar.ts",
      "lib/archive/extract.ts",
      "lib/net/_attempt.ts",
      "lib/net/http.ts",
      "lib/net/url.ts",
    ],
  );
});
