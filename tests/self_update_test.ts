// The updater's own update at the action level (lib/actions/self.ts), with shell scripts as
// compiled updaters (the executable form runs its file directly; the smoke test's `--version` and
// `status --json` answered by the script): the download of an access-controlled channel's updater
// carries the channel's credentials, and `update`'s result carries the updater's report.
import assert from "node:assert/strict";
import { type Config, detectPlatform, loadConfig } from "../lib/core/config.ts";
import { offeredUpdater, updateUpdater } from "../lib/actions/self.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { UPDATER_VERSION } from "../lib/self/form.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { readSelfState } from "../lib/self/state.ts";
import { makeWorld, type World } from "./_e2e.ts";
import { guardedServer } from "./_self.ts";

const TOKEN = "updater-Token.42~x";

/**
 * A compiled "updater" of `version` as a shell script: `--version` prints it, `status --json
 * --root R` prints `{"root":"R"}` (what the smoke test reads), anything else exits 0.
 */
function updaterScript(version: string): string {
  return `#!/bin/sh
[ "$1" = --version ] && echo ${version} && exit 0
if [ "$1" = status ]; then
  while [ $# -gt 0 ]; do [ "$1" = --root ] && root=$2; shift; done
  printf '{"root":"%s"}\\n' "$root"
fi
exit 0
`;
}

/** The world with MS11 1.0.0 installed, the updater 0.1.0 at `<dir>/bin/ms11-update`. */
async function setUp(world: World) {
  await world.publish("stable", "1.0.0");
  const install = await world.cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  await Deno.mkdir(`${world.dir}/bin`);
  const path = `${world.dir}/bin/ms11-update`;
  await Deno.writeTextFile(path, updaterScript("0.1.0"), { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  const candidate = `${world.dir}/ms11-update-0.2.0`;
  await Deno.writeTextFile(candidate, updaterScript("0.2.0"), { mode: 0o755 });
  await world.publish("stable", "1.1.0", { updater: { version: "0.2.0", file: candidate } });
  const form = { kind: "executable" as const, path, key: detectPlatform() };
  return { form, layout: layoutOf(world.root) };
}

/** The world's configuration with the stable channel served by `url`, and `auth` if given. */
async function configFor(
  world: World,
  url: string,
  auth?: Record<string, unknown>,
): Promise<Config> {
  const raw = JSON.parse(await Deno.readTextFile(world.configPath));
  raw.update_servers.stable = { ...raw.update_servers.stable, base_url: `${url}/stable`, auth };
  await Deno.writeTextFile(world.configPath, JSON.stringify(raw, null, 2));
  return (await loadConfig(world.configPath, { explicit: true })).config;
}

Deno.test("the updater's download carries the channel's credentials: without them it fails in one line, with them it is staged", async () => {
  await using world = await makeWorld();
  const { form, layout } = await setUp(world);
  await using guard = guardedServer(world, TOKEN);
  const ctx = (config: Config) => ({
    layout,
    config,
    configPath: world.configPath,
    platform: detectPlatform(),
  });
  const options = { form, running: "0.1.0" };

  // No credentials configured: the manifest is public, the updater's file is not.
  let config = await configFor(world, guard.url);
  const url = `${guard.url}/stable/updater/0.2.0/ms11-update-0.2.0`;
  await assert.rejects(updateUpdater(ctx(config), options), {
    message:
      `Channel stable needs credentials: ${url} answered HTTP 401 Unauthorized (the server asks for Bearer); set update_servers.stable.auth`,
  });
  let { state } = await readSelfState(layout);
  assert.deepEqual([state.staged, Object.keys(state.kept)], [null, ["0.1.0"]]);
  assert.deepEqual(guard.seen.filter((s) => s.path.includes("/updater/")).map((s) => s.status), [
    401,
  ]);

  // The channel's token in an owner-only file: sent with the updater's download, staged.
  const secret = `${world.dir}/stable.token`;
  await Deno.writeTextFile(secret, `${TOKEN}\n`, { mode: 0o600 });
  await Deno.chmod(secret, 0o600);
  config = await configFor(world, guard.url, { scheme: "bearer", secret_file: secret });
  guard.seen.length = 0;
  const report = await updateUpdater(ctx(config), options);
  assert.deepEqual(report, {
    running: "0.1.0",
    form: "executable",
    available: "0.2.0",
    staged: "0.2.0",
    message: "Staged ms11-update 0.2.0; it takes over at the next launch",
  });
  const updaterRequests = guard.seen.filter((s) => s.path.includes("/updater/"));
  assert.ok(updaterRequests.length > 0);
  for (const request of updaterRequests) {
    assert.deepEqual([request.authorization, request.status], [`Bearer ${TOKEN}`, 200]);
  }
  ({ state } = await readSelfState(layout));
  assert.deepEqual([state.staged?.version, state.staged?.by], ["0.2.0", "0.1.0"]);
  // The token is nowhere in the install root.
  const files = await Array.fromAsync(walk(world.root));
  for (const file of files) {
    assert.ok(!(await Deno.readTextFile(file)).includes(TOKEN), `${file} holds the token`);
  }
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

Deno.test("update's report carries the updater's: the running one, what is offered, staged and pending", async () => {
  await using world = await makeWorld();
  const { form, layout } = await setUp(world);

  // Through the CLI, run from source: offered, not staged, and why.
  const run = await world.cli(["--json"]);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout.trimEnd().split("\n").at(-1)!);
  assert.equal(result.staged, "1.1.0");
  assert.deepEqual(result.updater, {
    version: UPDATER_VERSION,
    form: "source",
    available: "0.2.0",
    staged: null,
    pending: null,
    message: result.updater.message,
  });
  assert.match(
    result.updater.message,
    /^ms11-update runs from source \(\S+\/main\.ts\); it is updated with its checkout, not by itself$/,
  );
  assert.doesNotMatch(run.stderr, /runs from source/); // people hear of the updater only when staged

  // In the executable form: staged by this run, then pending.
  const config = (await loadConfig(world.configPath, { explicit: true })).config;
  const ctx = { layout, config, configPath: world.configPath, platform: detectPlatform() };
  const { manifest } = (await runUpdate(layout, config, {
    channel: "stable",
    platform: ctx.platform,
    checkOnly: true,
  })).check;
  const warnings: string[] = [];
  const warned = { ...ctx, onWarning: (w: string) => warnings.push(w) };
  const options = { form, running: "0.1.0", channel: "stable" };
  const first = await offeredUpdater(warned, manifest, options);
  const { state } = await readSelfState(layout);
  const pending = { version: "0.2.0", channel: "stable", staged_at: state.staged!.staged_at };
  assert.deepEqual(first, {
    version: "0.1.0",
    form: "executable",
    available: "0.2.0",
    staged: "0.2.0",
    pending,
    message: "Staged ms11-update 0.2.0; it takes over at the next launch",
  });
  // Again: nothing staged by this run, the earlier one still pending.
  assert.deepEqual(await offeredUpdater(warned, manifest, options), {
    ...first,
    staged: null,
    message: "ms11-update 0.2.0 is already staged; it takes over at the next launch",
  });
  // A failure is a warning, and the report says it (another updater, whose file is missing).
  const missing = `${world.dir}/bin/missing`;
  const failed = await offeredUpdater(warned, manifest, {
    ...options,
    running: "0.1.5",
    form: { ...form, path: missing },
  });
  assert.deepEqual([failed.version, failed.staged, failed.pending], ["0.1.5", null, null]);
  assert.match(failed.message, /missing/);
  assert.deepEqual(warnings, [failed.message]);
});
