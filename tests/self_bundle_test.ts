// The updater updates itself, end to end, in the code-split bundle's form (the launcher's): real
// bundles of two versions built from this tree, the new one published with a release (the
// manifest's signed `updater` field), staged by `update`, tried at the next launch by the updater
// at the launcher's path, promoted once it has started, rolled back by hand; a candidate that
// crashes at start is refused and the old updater serves that launch.
import assert from "node:assert/strict";
import { launch, makeWorld, type World } from "./_e2e.ts";
import {
  buildUpdater,
  type BuiltUpdater,
  CRASH_AT_START,
  guardedServer,
  installUpdater,
  runBundle,
} from "./_self.ts";

/** A world with MS11 1.0.0 installed by the bundle `old`, put at `<dir>/bin/main.js`. */
async function installedWorld(world: World, old: BuiltUpdater) {
  const entry = await installUpdater(old, `${world.dir}/bin`);
  const where = ["--config", world.configPath, "--root", world.root];
  const cli = (args: string[]) => runBundle(entry, [...args, ...where]);
  /** `run` as a launcher runs it: the options before `--`, the application after it. */
  const run = (app: string[]) => runBundle(entry, ["run", ...where, "--", ...app]);
  await world.publish("stable", "1.0.0");
  const install = await cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  return { entry, cli, run };
}

async function version(entry: string): Promise<string> {
  const run = await runBundle(entry, ["--version"]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.trim();
}

Deno.test("a new ms11-update bundle is published, staged, tried at a launch, promoted and rolled back", async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const next = await buildUpdater(world.dir, "5.1.0");
  const { entry, cli } = await installedWorld(world, old);
  assert.equal(await version(entry), "5.0.0");

  await world.publish("stable", "1.1.0", { updater: { version: "5.1.0", file: next.archive } });
  // What the channel offers, without a download; a root with no install is refused, untouched.
  const check = await cli(["self", "update", "--check", "--json"]);
  assert.equal(check.code, 0, check.stderr);
  const available = "ms11-update 5.1.0 is available (this is 5.0.0); self update stages it";
  assert.equal(check.stderr, `${available}\n`);
  assert.deepEqual(JSON.parse(check.stdout), {
    running: "5.0.0",
    form: "bundle",
    available: "5.1.0",
    staged: null,
    message: available,
  });
  const typo = `${world.dir}/typo`;
  const none = await runBundle(entry, [
    "self",
    "update",
    "--config",
    world.configPath,
    "--root",
    typo,
  ]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^error: No install at .*\/typo: it does not exist/);
  await assert.rejects(Deno.stat(typo), Deno.errors.NotFound);
  const update = await cli(["--json"]);
  assert.equal(update.code, 0, update.stderr);
  const staged = "Staged ms11-update 5.1.0; it takes over at the next launch";
  assert.match(update.stderr, new RegExp(`^${staged}$`, "m"));
  // The update's result carries the updater's report (docs/EVENTS.md).
  const { updater } = JSON.parse(update.stdout.trimEnd().split("\n").at(-1)!);
  assert.deepEqual(updater, {
    version: "5.0.0",
    form: "bundle",
    available: "5.1.0",
    staged: "5.1.0",
    pending: { version: "5.1.0", channel: "stable", staged_at: updater.pending.staged_at },
    message: staged,
  });
  let status = JSON.parse((await cli(["status", "--json"])).stdout);
  assert.deepEqual(
    [
      status.updater.version,
      status.updater.form,
      status.updater.path,
      status.updater.pending?.version,
    ],
    ["5.0.0", "bundle", entry, "5.1.0"],
  );
  assert.equal(await version(entry), "5.0.0", "nothing replaced before the next launch");

  // The next launch: 5.0.0 hands it to 5.1.0, which applies MS11 1.1.0 and has started.
  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stderr, /^Applied 1\.1\.0 \(was 1\.0\.0\)/m);
  assert.match(apply.stderr, /ms11-update 5\.1\.0 started; it replaces 5\.0\.0 at /);
  assert.equal(await launch(world.root), "MS11 1.1.0");
  assert.equal(await version(entry), "5.1.0");
  status = JSON.parse((await cli(["status", "--json"])).stdout);
  assert.deepEqual(
    [
      status.updater.version,
      status.updater.pending,
      status.updater.previous,
      status.updater.last.event,
    ],
    ["5.1.0", null, "5.0.0", "promoted"],
  );
  // The previous updater's chunks stay beside it until it is pruned; 5.1.0's are all there.
  for (const name of next.files) {
    assert.deepEqual(
      await Deno.readFile(`${world.dir}/bin/${name}`),
      await Deno.readFile(`${next.dir}/${name}`),
    );
  }
  // The next launch is 5.1.0's own: nothing is tried any more.
  const idle = await cli(["apply"]);
  assert.deepEqual([idle.code, idle.stdout, idle.stderr], [0, "", ""]);

  // Rolled back by hand: 5.0.0 is back, and 5.1.0 is not staged again.
  const back = await cli(["self", "rollback"]);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stderr, /Rolled ms11-update back 5\.1\.0 -> 5\.0\.0 at /);
  assert.equal(await version(entry), "5.0.0");
  const again = await cli(["self", "update"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /ms11-update 5\.1\.0 was refused \(rolled back by hand/);
  status = JSON.parse((await cli(["status", "--json"])).stdout);
  assert.deepEqual([status.updater.version, status.updater.pending], ["5.0.0", null]);
  assert.deepEqual(status.updater.refused.map((r: { version: string }) => r.version), ["5.1.0"]);
  assert.match((await cli(["status"])).stdout, /^updater: {4}5\.0\.0 \(bundle, /m);
});

Deno.test("a new ms11-update that crashes at start is refused at the next launch, which the old one serves", async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const bad = await buildUpdater(world.dir, "5.1.0", { patches: [CRASH_AT_START] });
  const { entry, cli, run } = await installedWorld(world, old);
  await world.publish("stable", "1.1.0", { updater: { version: "5.1.0", file: bad.archive } });
  const update = await cli([]);
  assert.equal(update.code, 0, update.stderr); // --version and status pass: it is staged
  const before = await Deno.readFile(entry);

  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(
    apply.stderr,
    /crashed at start\nms11-update 5\.1\.0 exited with code 70 before it started; it was refused, and 5\.0\.0 runs this launch\nApplied 1\.1\.0 \(was 1\.0\.0\)/,
  );
  assert.equal(await launch(world.root), "MS11 1.1.0");
  assert.deepEqual(await Deno.readFile(entry), before, "the launcher's path was never touched");
  const status = JSON.parse((await cli(["status", "--json"])).stdout);
  assert.deepEqual(
    [status.updater.version, status.updater.pending, status.updater.last.event],
    ["5.0.0", null, "failed"],
  );
  // Its copy is gone; it is not staged again unless forced.
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(`${world.root}/updater`))).map((e) => e.name).sort(),
    ["5.0.0", "state.json"],
  );
  const again = await cli(["self", "update"]);
  assert.match(again.stderr, /ms11-update 5\.1\.0 was refused \(exited with code 70/);
  const forced = await cli(["self", "update", "--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /Staged ms11-update 5\.1\.0/);

  // `run` too: the launch goes on with 5.0.0 (which confirms MS11 1.1.0, on trial since the
  // apply above, when it exits cleanly).
  const ran = await run(["sh", "-c", "echo app"]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, "app\n", ran.stderr);
  assert.match(ran.stderr, /ms11-update 5\.1\.0 exited with code 70 before it started/);
  assert.equal(await version(entry), "5.0.0");
});

Deno.test("a candidate started by `run` is promoted while the application runs, and the exit code passed on", async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const next = await buildUpdater(world.dir, "5.1.0");
  const { entry, cli, run } = await installedWorld(world, old);
  await world.publish("stable", "1.0.1", { updater: { version: "5.1.0", file: next.archive } });
  const staged = await cli(["self", "update"]);
  assert.equal(staged.code, 0, staged.stderr);
  assert.match(staged.stderr, /Staged ms11-update 5\.1\.0/);
  // The application also lists the leases of the updaters running it (lib/self/in_use.ts).
  const leases = `ls -a ${world.root}/updater | grep '^\\.in-use' || true`;
  const ran = await run(["sh", "-c", `echo "app $MS11_UPDATE_TRIAL"; ${leases}; exit 4`]);
  assert.equal(ran.code, 4, ran.stderr);
  const [said, ...held] = ran.stdout.trimEnd().split("\n");
  assert.equal(said, "app ", "the application does not inherit the trial's variable");
  // 5.1.0, which runs it from its kept folder, holds its lease while it runs; none is left after.
  assert.equal(held.length, 1, ran.stdout);
  assert.match(held[0], /^\.in-use\.5\.1\.0\.\d+$/);
  assert.deepEqual(
    [...Deno.readDirSync(`${world.root}/updater`)].filter((e) => e.name.startsWith(".in-use")),
    [],
  );
  assert.match(ran.stderr, /ms11-update 5\.1\.0 started; it replaces 5\.0\.0/);
  assert.equal(await version(entry), "5.1.0");
});

Deno.test("self update of an access-controlled channel: without its token the download fails in one line, with it the bundle is staged", async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const next = await buildUpdater(world.dir, "5.1.0");
  const { entry } = await installedWorld(world, old);
  await world.publish("stable", "1.0.1", { updater: { version: "5.1.0", file: next.archive } });
  const token = "bundle-Token.7~z";
  await using guard = guardedServer(world, token);
  const configure = async (auth?: Record<string, unknown>) => {
    const raw = JSON.parse(await Deno.readTextFile(world.configPath));
    raw.update_servers.stable = {
      ...raw.update_servers.stable,
      base_url: `${guard.url}/stable`,
      auth,
    };
    await Deno.writeTextFile(world.configPath, JSON.stringify(raw, null, 2));
  };
  const self = (env: Record<string, string> = {}) =>
    runBundle(entry, ["self", "update", "--config", world.configPath, "--root", world.root], {
      env,
    });

  await configure();
  const refused = await self();
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `^error: Channel stable needs credentials: ${guard.url}/stable/updater/5\\.1\\.0/\\S+ answered HTTP 401 Unauthorized \\(the server asks for Bearer\\); set update_servers\\.stable\\.auth\n$`,
      "m",
    ),
  );
  let status = JSON.parse(
    (await runBundle(entry, [
      "status",
      "--json",
      "--config",
      world.configPath,
      "--root",
      world.root,
    ])).stdout,
  );
  assert.equal(status.updater.pending, null);

  await configure({ scheme: "bearer", secret_env: "MS11_STABLE_TOKEN" });
  guard.seen.length = 0;
  const staged = await self({ MS11_STABLE_TOKEN: token });
  assert.equal(staged.code, 0, staged.stderr);
  assert.match(staged.stderr, /Staged ms11-update 5\.1\.0; it takes over at the next launch/);
  assert.ok(!staged.stderr.includes(token) && !staged.stdout.includes(token));
  const downloads = guard.seen.filter((s) => s.path.includes("/updater/"));
  assert.ok(downloads.length > 0);
  for (const request of downloads) {
    assert.deepEqual([request.authorization, request.status], [`Bearer ${token}`, 200]);
  }
  status = JSON.parse(
    (await runBundle(entry, [
      "status",
      "--json",
      "--config",
      world.configPath,
      "--root",
      world.root,
    ])).stdout,
  );
  assert.equal(status.updater.pending?.version, "5.1.0");
});
