// The code-split bundle, the launcher's form (`deno task bundle:split [OUT_DIR]`, default
// dist/split): `deno bundle --code-splitting` of main.ts, then every lazy import of a chunk
// rewritten so that deno does not read it at start-up.
//
// At start, deno builds the module graph of the entry: it reads and parses every module the
// entry imports, statically or by a dynamic `import("./literal.js")`, whether or not it will
// run. For the bundle that is every chunk (about 60 files, 1.5 MB: commander, the archive
// code, the dashboard), so an idle `apply`, which runs four small chunks, paid for all of them
// (about 27 M instructions of 87 M; docs/ARCHITECTURE.md, "Start-up path"). A dynamic import
// whose specifier is not a literal is resolved when it runs, against the importing chunk's URL
// as a literal one is, so `import(new URL("./apply-X.js", import.meta.url).href)` loads the same
// module, only when it is reached. Checked in tests/bundle_test.ts with `deno info`, which
// shows the graph deno builds at start.

/**
 * `source` (one chunk of a code-split bundle) with every `import("./<chunk>")` of a chunk in
 * `chunks` made lazy for deno's start-up graph: `import(new URL("./<chunk>", import.meta.url).href)`.
 * Other text, and imports of anything else, are left as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deferChunkImports } from "./bundle_split.ts";
 * const out = deferChunkImports('await import("./apply-AB12.js"); import("./x.js")', ["apply-AB12.js"]);
 * assert.equal(
 *   out,
 *   'await import(new URL("./apply-AB12.js", import.meta.url).href); import("./x.js")',
 * );
 * ```
 */
export function deferChunkImports(source: string, chunks: readonly string[]): string {
  const known = new Set(chunks);
  return source.replace(
    /\bimport\("\.\/([\w.-]+\.js)"\)/g,
    (whole, name: string) =>
      known.has(name) ? `import(new URL("./${name}", import.meta.url).href)` : whole,
  );
}

/**
 * Empty `dir` of an earlier bundle's chunks (deno bundle leaves stale ones beside new ones).
 * Refuses a folder that holds anything but .js files: it is not a bundle's.
 */
async function clearBundle(dir: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const other = entries.find((e) => !e.isFile || !e.name.endsWith(".js"));
  if (other) {
    throw new Error(`Not bundling into ${dir}: it holds ${other.name}, which no bundle writes`);
  }
  for (const e of entries) await Deno.remove(`${dir}/${e.name}`);
}

/** Where to bundle, and with which deno. */
export interface BundleSplitOptions {
  /** The project to bundle (its main.ts); default this tree. */
  cwd?: string;
  /** The deno to run; default this one. */
  deno?: string;
}

/**
 * Bundle `cwd`'s main.ts, code-split, into `outDir` and defer its lazy chunk imports
 * ({@link deferChunkImports}). Resolves to the chunk file names written (main.js among them).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { bundleSplit } from "./bundle_split.ts";
 * const files = await bundleSplit("dist/split");
 * assert.ok(files.includes("main.js"));
 * ```
 */
export async function bundleSplit(
  outDir: string,
  options: BundleSplitOptions = {},
): Promise<string[]> {
  const cwd = options.cwd ?? new URL("..", import.meta.url).pathname;
  const dir = outDir.startsWith("/") ? outDir : `${cwd}/${outDir}`;
  await clearBundle(dir);
  const built = await new Deno.Command(options.deno ?? Deno.execPath(), {
    args: ["bundle", "--quiet", "--code-splitting", "--outdir", outDir, "main.ts"],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!built.success) {
    const why = new TextDecoder().decode(built.stderr).trim();
    throw new Error(`deno bundle --code-splitting failed: ${why}`);
  }
  const files = (await Array.fromAsync(Deno.readDir(dir)))
    .filter((e) => e.isFile && e.name.endsWith(".js")).map((e) => e.name).sort();
  for (const name of files) {
    const path = `${dir}/${name}`;
    const text = await Deno.readTextFile(path);
    const deferred = deferChunkImports(text, files);
    if (deferred !== text) await Deno.writeTextFile(path, deferred);
  }
  return files;
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/split";
  try {
    const files = await bundleSplit(out, { cwd: Deno.cwd() });
    console.error(`Bundled main.ts into ${out}/ (${files.length} chunks, lazy imports deferred)`);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exitCode = 1;
  }
}
