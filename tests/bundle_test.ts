// The shipped entry point: `deno task bundle` makes one JS file; run it end to end, from a
// folder outside the project, through a whole update cycle, and serve the dashboard from it (its
// page's script, dashboard/browser/app.js, is bundled as text, never read at run time).
import assert from "node:assert/strict";
import { bundleSplit } from "../tools/bundle_split.ts";
import { launch, makeWorld, runCli, SHIPPED_V8_FLAGS, type World } from "./_e2e.ts";

const PROJECT = new URL("..", import.meta.url).pathname;

/** Run `deno bundle` with `args` on main.ts in the project. */
async function bundle(...args: string[]): Promise<void> {
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", ...args, "main.ts"],
    cwd: PROJECT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
}

/**
 * Run `ms11-update dashboard` from the bundle `entry` (in `cwd`, away from the project) and return
 * its page's script elements: their attributes, their text, and the nonce the CSP allows.
 */
async function servedScripts(world: World, entry: string, cwd: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", "--quiet", ...SHIPPED_V8_FLAGS, entry, "dashboard", "--port", "0"],
      ...["--config", world.configPath, "--root", world.root],
    ],
    cwd,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { done, value } = await lines.read();
      if (done) throw new Error(`the dashboard did not start: ${await stderr}`);
      text += value;
    }
    const response = await fetch(text.split("\n")[0], { headers: { accept: "text/html" } });
    assert.equal(response.status, 200);
    const nonce =
      /script-src 'nonce-([\w-]+)'/.exec(response.headers.get("content-security-policy")!)![1];
    const html = await response.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)]
      .map(([, attributes, text]) => ({ attributes, text }));
    return { nonce, scripts };
  } finally {
    child.kill("SIGINT");
    await child.status;
    await lines.cancel();
    await stderr;
  }
}

/** The page's script as the source tree has it. */
const APP_JS = await Deno.readTextFile(`${PROJECT}/dashboard/browser/app.js`);

Deno.test("the single-file bundle runs a full update cycle on its own", async () => {
  await using world = await makeWorld();
  const file = `${world.dir}/ms11-update.js`;
  await bundle("-o", file);
  const away = `${world.dir}/elsewhere`;
  await Deno.mkdir(away);
  const cli = (args: string[]) =>
    runCli([...args, "--config", world.configPath, "--root", world.root], {
      entry: file,
      cwd: away,
    });

  const version = await runCli(["--version"], { entry: file, cwd: away });
  assert.equal(version.code, 0, version.stderr);
  const denoJson = JSON.parse(await Deno.readTextFile(`${PROJECT}/deno.json`));
  assert.equal(version.stdout.trim(), denoJson.version);

  await world.publish("stable", "1.0.0");
  const install = await cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  await world.publish("stable", "1.1.0");
  const update = await cli([]);
  assert.equal(update.code, 0, update.stderr);
  assert.equal(update.stdout, "");
  assert.match(update.stderr, /^Staged 1\.1\.0 from stable \(1\.0\.0 -> 1\.1\.0; /);
  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.equal(await launch(world.root), "MS11 1.1.0");
  const status = JSON.parse((await cli(["status", "--json"])).stdout);
  assert.equal(status.current.version, "1.1.0");
  assert.deepEqual(status.backups.map((b: { version: string }) => b.version), ["1.0.0"]);
  const bad = await cli(["--channel", "nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown channel "nope"/);

  // The dashboard page carries its script (imported as text, so bundled with the code).
  const { nonce, scripts } = await servedScripts(world, file, away);
  assert.deepEqual(scripts, [{ attributes: ` nonce="${nonce}"`, text: APP_JS }]);
});

Deno.test("the code-split bundle (the launcher's form) runs apply and a whole update cycle", async () => {
  await using world = await makeWorld();
  const out = `${world.dir}/split`;
  await bundleSplit(out);
  const cli = (args: string[]) =>
    runCli([...args, "--config", world.configPath, "--root", world.root], {
      entry: `${out}/main.js`,
      cwd: world.dir,
    });
  await world.publish("stable", "1.0.0");
  assert.equal((await cli(["install"])).code, 0);
  const idle = await cli(["apply"]);
  assert.deepEqual([idle.code, idle.stdout, idle.stderr], [0, "", ""]); // silent when idle
  await world.publish("stable", "1.1.0");
  const update = await cli([]);
  assert.equal(update.code, 0, update.stderr);
  // The chunks loaded lazily (swap, smoke test, seal) are found next to main.js.
  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.equal(apply.stderr, "Applied 1.1.0 (was 1.0.0); it is on trial until confirmed\n");
  assert.equal(await launch(world.root), "MS11 1.1.0");
  const { nonce, scripts } = await servedScripts(world, `${out}/main.js`, world.dir);
  assert.deepEqual(scripts, [{ attributes: ` nonce="${nonce}"`, text: APP_JS }]);
});

Deno.test("the executable and main.ts run with the same V8 flags", async () => {
  // docs/PERFORMANCE.md, "Peak memory": no optimizing tiers, a small young generation.
  assert.deepEqual(SHIPPED_V8_FLAGS, ["--v8-flags=--no-opt,--no-maglev,--max-semi-space-size=1"]);
  const shebang = (await Deno.readTextFile(`${PROJECT}/main.ts`)).split("\n")[0];
  assert.equal(shebang, `#!/usr/bin/env -S deno run -A ${SHIPPED_V8_FLAGS.join(" ")}`);
  // Deno accepts them (an unknown V8 flag is an error at start-up).
  const run = await runCli(["--version"]);
  assert.equal(run.code, 0, run.stderr);
});

/** The chunks `entry` loads at module load (static imports, transitively), and what else they import. */
async function staticClosure(
  dir: string,
  entry: string,
): Promise<{ chunks: string[]; other: string[] }> {
  const chunks: string[] = [];
  const other = new Set<string>();
  const visit = async (file: string) => {
    if (chunks.includes(file)) return;
    chunks.push(file);
    const text = await Deno.readTextFile(`${dir}/${file}`);
    // esbuild writes static imports at the top level as `import … from "…"` or `import "…"`.
    for (const m of text.matchAll(/^import\s(?:[^;]*?\sfrom\s*)?"([^"]+)";?$/gms)) {
      if (m[1].startsWith("./")) await visit(m[1].slice(2));
      else other.add(m[1]);
    }
  };
  await visit(entry);
  return { chunks, other: [...other].sort() };
}

Deno.test("the code-split bundle's launcher path loads no node: built-in or package at start-up", async () => {
  // A CommonJS dependency anywhere in the program puts esbuild's `require` shim (which imports
  // node:module) into a chunk every entry shares: Node's module system would then load at every
  // application start. This reads what main.js, and the apply chunk it imports when there is
  // work, load at module load.
  await using world = await makeWorld();
  const out = `${world.dir}/split`;
  await bundleSplit(out);
  const main = await Deno.readTextFile(`${out}/main.js`);
  const applyChunk = /import\(new URL\("\.\/(apply-[A-Z0-9]+\.js)", import\.meta\.url\)\.href\)/
    .exec(main)?.[1];
  assert.ok(applyChunk, "main.js imports the launcher's apply chunk lazily");
  for (const entry of ["main.js", applyChunk]) {
    const { chunks, other } = await staticClosure(out, entry);
    assert.ok(chunks.length >= 2, `${entry} has a static closure`);
    assert.deepEqual(other, [], `${entry} loads these at start-up (chunks: ${chunks.join(", ")})`);
  }
});

Deno.test("deno reads only the launcher's chunks when the code-split bundle starts", async () => {
  // deno reads and parses, at start-up, every module in the entry's graph, dynamic imports of a
  // literal specifier included (tools/bundle_split.ts). `deno info` prints that graph: for
  // main.js it must hold main.js and what main.js imports statically, not the chunks of the
  // commands it loads lazily (commander, the archive code, the dashboard).
  await using world = await makeWorld();
  const out = `${world.dir}/split`;
  const files = await bundleSplit(out);
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--no-config", "--json", `${out}/main.js`],
    cwd: world.dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(info.success, new TextDecoder().decode(info.stderr));
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    modules: { specifier: string }[];
  };
  const loaded = graph.modules.map((m) => m.specifier.slice(m.specifier.lastIndexOf("/") + 1))
    .sort();
  const { chunks } = await staticClosure(out, "main.js");
  assert.deepEqual(loaded, chunks.sort());
  assert.ok(loaded.length < files.length / 4, `${loaded.length} of ${files.length} chunks read`);
  // A literal lazy import is what made deno read them all: none is left in any chunk.
  for (const name of files) {
    const text = await Deno.readTextFile(`${out}/${name}`);
    assert.doesNotMatch(text, /\bimport\("\.\//, `${name} has a literal lazy import`);
  }
});
