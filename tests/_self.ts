// Helpers of the updater's self-update tests: real code-split bundles of ms11-update built from a
// copy of this source tree with another version in deno.json (and, for some tests, a patch: a
// candidate that crashes at start, or a newer state schema), their tar.gz archives as a
// publisher ships them, and runs of a bundle at a launcher's path.
import assert from "node:assert/strict";
import { SHIPPED_V8_FLAGS, type World } from "./_e2e.ts";
import { type DenoRun, runDeno } from "./_helpers.ts";
import { bundleSplit } from "../tools/bundle_split.ts";

const PROJECT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What a build of an updater bundle is. */
export interface BuiltUpdater {
  /** Its version. */
  version: string;
  /** The folder holding main.js and its chunks. */
  dir: string;
  /** The names of its files (main.js first). */
  files: string[];
  /** A .tar.gz of the folder, as `release --updater` publishes it. */
  archive: string;
}

/** A source patch: a file of the copied tree and how its text changes. */
export type SourcePatch = { file: string; edit: (text: string) => string };

/**
 * Build ms11-update `version` as a code-split bundle in `${dir}/updater-<version><tag>/`, from a
 * copy of this tree with `patches` applied (each must change its file).
 */
export async function buildUpdater(
  dir: string,
  version: string,
  options: { patches?: SourcePatch[]; tag?: string } = {},
): Promise<BuiltUpdater> {
  const name = `updater-${version}${options.tag ?? ""}`;
  const src = await patchedTree(`${dir}/${name}-src`, version, options.patches ?? []);
  const out = `${dir}/${name}`;
  await bundleSplit(out, { cwd: src });
  await Deno.remove(src, { recursive: true });
  const files = (await Array.fromAsync(Deno.readDir(out))).map((e) => e.name)
    .filter((n) => n !== "main.js").sort();
  const archive = `${dir}/${name}.tar.gz`;
  const tar = await new Deno.Command("tar", {
    args: ["-czf", archive, "-C", out, "main.js", ...files],
    stderr: "piped",
  }).output();
  assert.ok(tar.success, new TextDecoder().decode(tar.stderr));
  return { version, dir: out, files: ["main.js", ...files], archive };
}

/**
 * Build ms11-update `version` as a compiled executable (`deno task compile`'s command line) at
 * `${dir}/ms11-update-<version><tag>`; needs Deno's runtime (`DENORT_BIN`, or its download).
 */
export async function compileUpdater(
  dir: string,
  version: string,
  options: { patches?: SourcePatch[]; tag?: string } = {},
): Promise<string> {
  const name = `ms11-update-${version}${options.tag ?? ""}`;
  const src = await patchedTree(`${dir}/${name}-src`, version, options.patches ?? []);
  const task = JSON.parse(await Deno.readTextFile(`${src}/deno.json`)).tasks.compile as string;
  // The task's own arguments, with the output put here.
  const args = task.split(/\s+/).slice(1).map((a, i, all) =>
    all[i - 1] === "-o" ? `${dir}/${name}` : a
  );
  await denoIn(src, args);
  await Deno.remove(src, { recursive: true });
  return `${dir}/${name}`;
}

/** A copy of this tree at `src` (what a build reads), at `version`, with `patches` applied. */
async function patchedTree(src: string, version: string, extra: SourcePatch[]): Promise<string> {
  await Deno.mkdir(src, { recursive: true });
  for (
    const entry of [
      "main.ts",
      "deno.json",
      "deno.lock",
      "cli",
      "lib",
      "dashboard",
      "tools",
      "config",
    ]
  ) {
    await copyTree(`${PROJECT}/${entry}`, `${src}/${entry}`);
  }
  await Deno.symlink(`${PROJECT}/node_modules`, `${src}/node_modules`);
  const patches: SourcePatch[] = [
    { file: "deno.json", edit: (t) => t.replace(/"version": "[^"]+"/, `"version": "${version}"`) },
    ...extra,
  ];
  for (const patch of patches) {
    const path = `${src}/${patch.file}`;
    const before = await Deno.readTextFile(path);
    const after = patch.edit(before);
    assert.notEqual(after, before, `the patch of ${patch.file} changes it`);
    await Deno.writeTextFile(path, after);
  }
  return src;
}

async function denoIn(cwd: string, args: string[]): Promise<void> {
  const built = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(built.success, `deno ${args.join(" ")}: ${new TextDecoder().decode(built.stderr)}`);
}

async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.lstat(from);
  if (info.isDirectory) {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  } else if (info.isFile) await Deno.copyFile(from, to);
}

/** Put a built updater at `bin` (its main.js and chunks), as an installer would. */
export async function installUpdater(built: BuiltUpdater, bin: string): Promise<string> {
  await Deno.mkdir(bin, { recursive: true });
  for (const name of built.files) await Deno.copyFile(`${built.dir}/${name}`, `${bin}/${name}`);
  return `${bin}/main.js`;
}

/** Run the bundle `entry` as a launcher does (`deno run -A --no-config` with the V8 flags). */
export function runBundle(
  entry: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<DenoRun> {
  return runDeno(
    ["run", "-A", "--no-config", "--quiet", ...SHIPPED_V8_FLAGS, entry, ...args],
    options,
  );
}

/** A patch of main.ts: `apply` and `run` exit with code 70 before they do anything. */
export const CRASH_AT_START: SourcePatch = {
  file: "main.ts",
  edit: (t) =>
    t.replace(
      "export async function main(args: string[]): Promise<number> {\n",
      'export async function main(args: string[]): Promise<number> {\n  if (args[0] === "apply" || args[0] === "run") {\n    console.error("crashed at start");\n    return 70;\n  }\n',
    ),
};

/** A patch of a state module: its schema constant one higher (a newer updater's state). */
export function newerSchema(file: string, constant: string): SourcePatch {
  return {
    file,
    edit: (t) =>
      t.replace(
        new RegExp(`export const ${constant} = (\\d+);`),
        (_, n) => `export const ${constant} = ${Number(n) + 1};`,
      ),
  };
}

/**
 * A patch of lib/self/launch.ts: a candidate on trial does its part (`apply` applies, rewriting
 * the install's state) and then exits with code 70 instead of reporting its start.
 */
export const CRASH_BEFORE_REPORT: SourcePatch = {
  file: "lib/self/launch.ts",
  edit: (t) =>
    t.replace(
      "  const report = envGet(TRIAL_ENV);\n  if (report === undefined) return;\n",
      '  const report = envGet(TRIAL_ENV);\n  if (report === undefined) return;\n  console.error("crashed after its migration");\n  Deno.exit(70);\n',
    ),
};

/** A request the guarded server answered. */
export interface Seen {
  path: string;
  authorization: string | null;
  status: number;
}

/**
 * A release server in front of the world's that answers 401 (asking for a bearer token) to any
 * request for an updater file without `Authorization: Bearer <token>`; every request is recorded.
 */
export function guardedServer(
  world: World,
  token: string,
): { url: string; seen: Seen[] } & AsyncDisposable {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const authorization = req.headers.get("authorization");
    if (url.pathname.includes("/updater/") && authorization !== `Bearer ${token}`) {
      seen.push({ path: url.pathname, authorization, status: 401 });
      return new Response("no\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="updater"' },
      });
    }
    const headers = new Headers(req.headers);
    headers.delete("authorization");
    const response = await fetch(`${world.server.url}${url.pathname}`, {
      method: req.method,
      headers,
    });
    seen.push({ path: url.pathname, authorization, status: response.status });
    return response;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
