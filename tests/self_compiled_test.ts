// The updater updates itself in the compiled executable's form: two executables built with
// `deno task compile`'s command line from this tree at two versions, the new one published for
// this platform, staged by `update`, tried at the next launch, put in place by rename over the
// launcher's file, rolled back by hand. `deno compile` needs Deno's runtime (denort): the test
// runs wherever `DENORT_BIN` names one (Deno's download is not reachable from this project's
// machines), and is ignored elsewhere, saying so.
import assert from "node:assert/strict";
import { detectPlatform } from "../lib/core/config.ts";
import { launch, makeWorld } from "./_e2e.ts";
import { compileUpdater } from "./_self.ts";
import { runDeno } from "./_helpers.ts";

const DENORT = Deno.env.get("DENORT_BIN");
if (DENORT === undefined) {
  console.log(
    "tests/self_compiled_test.ts: ignored: DENORT_BIN is not set (deno compile cannot download its runtime here)",
  );
}

async function run(file: string, args: string[]) {
  const output = await new Deno.Command(file, {
    args,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

Deno.test({
  name:
    "a new compiled ms11-update is published, staged, tried at a launch, promoted and rolled back",
  ignore: DENORT === undefined,
  timeout: 10 * 60_000,
}, async () => {
  // The compile task itself must be what this test builds with.
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.match(denoJson.tasks.compile, /^deno compile -A .* -o dist\/ms11-update main\.ts$/);
  await using world = await makeWorld();
  const old = await compileUpdater(world.dir, "5.0.0");
  const next = await compileUpdater(world.dir, "5.1.0");
  await Deno.mkdir(`${world.dir}/bin`);
  const path = `${world.dir}/bin/ms11-update`;
  await Deno.copyFile(old, path);
  await Deno.chmod(path, 0o755);
  const where = ["--config", world.configPath, "--root", world.root];
  const cli = (args: string[]) => run(path, [...args, ...where]);
  assert.equal((await run(path, ["--version"])).stdout.trim(), "5.0.0");
  await world.publish("stable", "1.0.0");
  assert.equal((await cli(["install"])).code, 0);

  await world.publish("stable", "1.1.0", {
    updater: { version: "5.1.0", file: next, key: detectPlatform() },
  });
  const update = await cli([]);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stderr, /Staged ms11-update 5\.1\.0/);
  const status = JSON.parse((await cli(["status", "--json"])).stdout);
  assert.deepEqual([status.updater.form, status.updater.path, status.updater.pending?.version], [
    "executable",
    path,
    "5.1.0",
  ]);
  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stderr, /ms11-update 5\.1\.0 started; it replaces 5\.0\.0/);
  assert.equal(await launch(world.root), "MS11 1.1.0");
  assert.equal((await run(path, ["--version"])).stdout.trim(), "5.1.0");
  assert.deepEqual(await Deno.readFile(path), await Deno.readFile(next));

  const back = await cli(["self", "rollback"]);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(await Deno.readFile(path), await Deno.readFile(old));
});

Deno.test({
  name:
    "the compile task's command line builds this program's whole module graph, up to the runtime",
  timeout: 180_000,
}, async () => {
  // Everywhere, with or without a runtime: `deno compile` resolves and packs the module graph
  // (lazily imported chunks included) before it needs denort, so a runtime that is not there is
  // the only thing that may fail. A graph that does not build fails differently, first.
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const args = (denoJson.tasks.compile as string).split(/\s+/).slice(1);
  const out = await Deno.makeTempDir();
  try {
    const task = args.map((a, i) => args[i - 1] === "-o" ? `${out}/ms11-update` : a);
    const env = { DENORT_BIN: `${out}/no-denort` };
    const cwd = new URL("..", import.meta.url).pathname;
    const compiled = await runDeno(task, { cwd, env });
    assert.equal(compiled.code, 1);
    assert.match(compiled.stderr, /Could not find denort at '.*\/no-denort'/);
    await Deno.writeTextFile(`${out}/broken.ts`, 'import "./missing.ts";\n');
    const broken = await runDeno([...task.slice(0, -1), `${out}/broken.ts`], { cwd, env });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /Module not found/);
    assert.doesNotMatch(broken.stderr, /denort/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
  // And the bundle runs with the executable's V8 flags.
  const { BUNDLE_RUN_ARGS } = await import("../lib/self/form.ts");
  assert.deepEqual(BUNDLE_RUN_ARGS.slice(4), denoJson.tasks.compile.match(/--v8-flags=\S+/g));
});
