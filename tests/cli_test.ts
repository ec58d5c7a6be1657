// End-to-end: the real CLI as a subprocess against a local release server, with temporary
// install roots. Every error case asserts the message, the exit code and that the install is
// unchanged.
import assert from "node:assert/strict";
import { launch, makeWorld, runCli, snapshot } from "./_e2e.ts";
import { sha256 } from "./_helpers.ts";

/** Assert that `text` contains `part`, showing the whole text when it does not. */
function includes(text: string, part: string, message?: string): void {
  assert.ok(
    text.includes(part),
    `${message ? `${message}: ` : ""}expected ${JSON.stringify(part)} in:\n${text}`,
  );
}

Deno.test("every command has --help, and --version prints the version", async () => {
  await using world = await makeWorld();
  for (
    const command of [
      "",
      "check",
      "install",
      "apply",
      "run",
      "confirm",
      "rollback",
      "status",
      "channel",
      "serve",
      "release",
      "keygen",
      "verify-release",
    ]
  ) {
    const run = await world.cli([...(command ? [command] : []), "--help"]);
    assert.deepEqual(run.code, 0, `${command} --help: ${run.stderr}`);
    includes(run.stdout, "Usage: ms11-update");
    if (!["serve", "release", "keygen", "verify-release"].includes(command)) {
      includes(run.stdout, "--root");
    }
  }
  const version = await world.cli(["--version"]);
  assert.deepEqual(version.code, 0);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
});

Deno.test("usage errors exit 2 with one line naming the problem", async () => {
  await using world = await makeWorld();
  const unknownOption = await world.cli(["status", "--bogus"]);
  assert.deepEqual(unknownOption.code, 2);
  includes(unknownOption.stderr, "unknown option '--bogus'");
  const unknownCommand = await world.cli(["stauts"]);
  assert.deepEqual(unknownCommand.code, 2);
  includes(unknownCommand.stderr, "(Did you mean status?)");
  const missing = await runCli([
    "--root",
    world.root,
    "--config",
    world.configPath,
    "rollback",
    "--to",
  ]);
  assert.deepEqual(missing.code, 2);
  includes(missing.stderr, "option '--to <version>' argument missing");
  const badWait = await world.cli(["apply", "--wait", "soon"]);
  assert.deepEqual(badWait.code, 2);
  includes(badWait.stderr, 'Invalid --wait "soon": expected seconds >= 0');
});

Deno.test("install, update, apply on next launch, then status: the whole cycle", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  const install = await world.cli(["install"]);
  assert.deepEqual(install.code, 0, install.stderr);
  includes(install.stderr, `Installed 1.0.0 from stable in ${world.root}`);
  assert.deepEqual(await launch(world.root), "MS11 1.0.0");
  await Deno.mkdir(`${world.root}/data`);
  await Deno.writeTextFile(`${world.root}/data/user.txt`, "precious");

  const none = await world.cli(["--json"]);
  assert.deepEqual(none.code, 0, none.stderr);
  assert.deepEqual(JSON.parse(none.stdout).decision.reason, "up-to-date");

  await world.publish("stable", "1.1.0");
  const check = await world.cli(["check", "--json"]);
  assert.deepEqual(check.code, 0, check.stderr);
  const checked = JSON.parse(check.stdout);
  assert.deepEqual([checked.current, checked.available, checked.update_available], [
    "1.0.0",
    "1.1.0",
    true,
  ]);
  assert.deepEqual(await snapshot(world.root).then((s) => s.includes("1.1.0")), false);

  const update = await world.cli([]);
  assert.deepEqual(update.code, 0, update.stderr);
  assert.deepEqual(
    update.stderr,
    "Staged 1.1.0 from stable (1.0.0 -> 1.1.0; downloaded and verified 28 B); it is applied at the next launch\n",
  );
  assert.deepEqual(update.stdout, "");
  assert.deepEqual(
    await launch(world.root),
    "MS11 1.0.0",
    "nothing changes before the next launch",
  );

  const apply = await world.cli(["apply"]);
  assert.deepEqual(apply.code, 0, apply.stderr);
  assert.deepEqual(apply.stderr, "Applied 1.1.0 (was 1.0.0); it is on trial until confirmed\n");
  assert.deepEqual(apply.stdout, "");
  assert.deepEqual(await launch(world.root), "MS11 1.1.0");
  const again = await world.cli(["apply", "--json"]);
  assert.deepEqual(JSON.parse(again.stdout).applied, false);

  const status = await world.cli(["status", "--json"]);
  assert.deepEqual(status.code, 0, status.stderr);
  const doc = JSON.parse(status.stdout);
  assert.deepEqual(doc.schema, 2);
  assert.deepEqual(doc.current.version, "1.1.0");
  assert.deepEqual(doc.current.lifecycle.state, "trial");
  assert.deepEqual(doc.staged, null);
  assert.deepEqual(doc.backups.map((b: { version: string }) => b.version), ["1.0.0"]);
  assert.deepEqual(doc.last_check.available, "1.1.0");
  assert.deepEqual(doc.last_error, null);
  const events = doc.recent_events.map((e: { event: string }) => e.event);
  // The last ten entries of the audit log.
  assert.deepEqual(events, [
    "applied",
    "manifest_accepted",
    "checked",
    "manifest_accepted",
    "checked",
    "manifest_accepted",
    "checked",
    "staged",
    "applied",
    "trial_launch",
  ]);
  assert.deepEqual(doc.trial.version, "1.1.0");
  assert.deepEqual(doc.trial.attempts, 2);
  assert.deepEqual(await Deno.readTextFile(`${world.root}/data/user.txt`), "precious");
  const text = await world.cli(["status"]);
  includes(text.stdout, "current:    1.1.0 from stable, on trial\n");
  includes(text.stdout, "\nbackups:    1.0.0 (confirmed healthy; replaced at 20");
  assert.deepEqual(text.stderr, "");
});

Deno.test("a tar.gz directory build installs with its files and modes", async () => {
  await using world = await makeWorld();
  const src = `${world.dir}/build`;
  await Deno.mkdir(`${src}/lib`, { recursive: true });
  await Deno.writeTextFile(
    `${src}/ms11`,
    '#!/bin/sh\necho "MS11 2.0.0 $(cat "$(dirname "$0")/lib/data.txt")"\n',
  );
  await Deno.chmod(`${src}/ms11`, 0o755);
  await Deno.writeTextFile(`${src}/lib/data.txt`, "with data");
  const archive = `${world.dir}/ms11-2.0.0.tar.gz`;
  const tar = await new Deno.Command("tar", { args: ["-czf", archive, "-C", src, "."] }).output();
  assert.ok(tar.success);
  await world.publish("stable", "2.0.0", { artifact: archive });
  const install = await world.cli(["install"]);
  assert.deepEqual(install.code, 0, install.stderr);
  assert.deepEqual(await launch(world.root), "MS11 2.0.0 with data");
});

Deno.test("a checksum mismatch stages nothing and reports expected and actual", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  const served = `${world.tree}/stable/1.1.0/ms11-1.1.0`;
  const good = await Deno.readFile(served);
  const bad = good.slice();
  bad[bad.length - 2] ^= 1; // same size, other bytes
  await Deno.writeFile(served, bad);
  const before = await snapshot(world.root);
  const run = await world.cli([]);
  assert.deepEqual(run.code, 1);
  assert.match(
    run.stderr,
    new RegExp(
      `error: Checksum mismatch for .*: expected sha256 ${sha256(good)}, got ${await sha256(
        bad,
      )}`,
    ),
  );
  assert.deepEqual(await snapshot(world.root), before);
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  includes(status.last_error.message, "Checksum mismatch");
  assert.deepEqual(status.last_error.command, "update");
});

Deno.test("an artifact larger than declared is cut off and nothing is staged", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  const served = `${world.tree}/stable/1.1.0/ms11-1.1.0`;
  const size = (await Deno.stat(served)).size;
  await Deno.writeFile(served, new Uint8Array(1 << 20), { append: true });
  const before = await snapshot(world.root);
  const run = await world.cli([]);
  assert.deepEqual(run.code, 1);
  includes(run.stderr, `expected ${size} bytes, got more than ${size}`);
  assert.deepEqual(await snapshot(world.root), before);
});

Deno.test("an unknown channel exits 2 and changes nothing", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  const before = await snapshot(world.root);
  const configBefore = await Deno.readTextFile(world.configPath);
  for (const args of [["--channel", "beta"], ["channel", "beta"], ["check", "--channel", "beta"]]) {
    const run = await world.cli(args);
    assert.deepEqual(run.code, 2, args.join(" "));
    includes(
      run.stderr,
      'error: Unknown channel "beta": configured channels are stable, canary',
    );
  }
  assert.deepEqual(await snapshot(world.root), before);
  assert.deepEqual(await Deno.readTextFile(world.configPath), configBefore);
});

Deno.test("bad configuration exits 2 with the field and value, and changes nothing", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  const before = await snapshot(world.root);
  const cases: [Record<string, unknown>, string][] = [
    [{ keep_backups_count: -1 }, "keep_backups_count must be an integer from 0 to 100, got -1"],
    [
      { security: { require_https: true, allowed_domains: [] } },
      'update_servers.stable.base_url must be an https URL while security.require_https is true, got "http://127.0.0.1:',
    ],
    [{ channnel: "stable" }, "unknown field channnel (did you mean channel?)"],
  ];
  for (const [extra, message] of cases) {
    await world.writeConfig(extra);
    for (const args of [[], ["status"], ["rollback"]]) {
      const run = await world.cli(args);
      assert.deepEqual(run.code, 2, `${JSON.stringify(extra)} ${args}`);
      includes(run.stderr, `error: Invalid config ${world.configPath}: ${message}`);
      assert.deepEqual(run.stderr.trim().split("\n").length, 1);
    }
    // The launcher's `apply` with nothing to apply and the root given does not read the
    // configuration (docs/ARCHITECTURE.md, "Start-up path"): it succeeds, silently.
    const idle = await world.cli(["apply"]);
    assert.deepEqual(idle.code, 0, idle.stderr);
    assert.deepEqual([idle.stderr, idle.stdout], ["", ""]);
    const byEnv = await world.cli(["apply", "--json"], {
      root: false,
      env: { MS11_UPDATE_ROOT: world.root },
    });
    assert.deepEqual(byEnv.code, 0, byEnv.stderr);
    assert.deepEqual(JSON.parse(byEnv.stdout), {
      applied: false,
      from: "1.0.0",
      to: "1.0.0",
      pruned: [],
      problem: null,
    });
  }
  // When the root has to come from the configuration, apply reads it, and a bad one stops it.
  await world.writeConfig({ ...cases[0][0], install_root: world.root });
  const fromConfig = await world.cli(["apply"], { root: false });
  assert.deepEqual(fromConfig.code, 2);
  includes(fromConfig.stderr, `error: Invalid config ${world.configPath}: ${cases[0][1]}`);
  assert.deepEqual(await snapshot(world.root), before);
  // With something to apply, apply reads the configuration, and a bad one stops it.
  await world.writeConfig();
  await world.publish("stable", "1.1.0");
  assert.deepEqual((await world.cli([])).code, 0);
  const staged = await snapshot(world.root);
  await world.writeConfig(cases[0][0]);
  const refused = await world.cli(["apply"]);
  assert.deepEqual(refused.code, 2);
  includes(refused.stderr, `error: Invalid config ${world.configPath}: ${cases[0][1]}`);
  assert.deepEqual(await snapshot(world.root), staged);

  await Deno.writeTextFile(world.configPath, "{ not json");
  const garbage = await world.cli(["status"]);
  assert.deepEqual(garbage.code, 2);
  includes(garbage.stderr, `Invalid config ${world.configPath}: not valid JSON`);
  const missing = await world.cli(["status", "--config", `${world.dir}/nope.json`], { root: true });
  assert.deepEqual(missing.code, 2);
  assert.deepEqual(await snapshot(world.root), staged);
});

Deno.test("moving to a channel with a lower version does not downgrade without consent", async () => {
  await using world = await makeWorld();
  await world.publish("canary", "1.5.0-canary.20261126.3");
  await world.publish("stable", "1.4.0");
  assert.deepEqual((await world.cli(["install", "--channel", "canary"])).code, 0);
  assert.deepEqual(await launch(world.root), "MS11 1.5.0-canary.20261126.3");
  const before = await snapshot(world.root);
  const refused = await world.cli(["--channel", "stable", "--json"]);
  assert.deepEqual(refused.code, 0, refused.stderr);
  includes(
    refused.stderr,
    "stable's newest release 1.4.0 is lower than the installed 1.5.0-canary.20261126.3; not downgrading (pass --allow-downgrade to install 1.4.0)",
  );
  assert.deepEqual(JSON.parse(refused.stdout).decision.reason, "downgrade-refused");
  assert.deepEqual(await snapshot(world.root), before);
  const allowed = await world.cli(["--channel", "stable", "--allow-downgrade"]);
  assert.deepEqual(allowed.code, 0, allowed.stderr);
  includes(
    allowed.stderr,
    "Staged 1.4.0 from stable (a downgrade: 1.5.0-canary.20261126.3 -> 1.4.0;",
  );
  assert.deepEqual((await world.cli(["apply"])).code, 0);
  assert.deepEqual(await launch(world.root), "MS11 1.4.0");
});

Deno.test("canary prereleases compare as semver", async () => {
  await using world = await makeWorld();
  await world.publish("canary", "1.5.0-canary.20261126.3");
  assert.deepEqual((await world.cli(["install", "--channel", "canary"])).code, 0);
  await world.publish("canary", "1.5.0-canary.20261126.10");
  const run = await world.cli(["--channel", "canary"]);
  assert.deepEqual(run.code, 0, run.stderr);
  includes(run.stderr, "1.5.0-canary.20261126.3 -> 1.5.0-canary.20261126.10");
});

Deno.test("rollback restores the newest backup that ran healthy, keeps the replaced build, and skips it afterwards", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  for (const version of ["1.1.0", "1.2.0"]) {
    await world.publish("stable", version);
    assert.deepEqual((await world.cli([])).code, 0);
    assert.deepEqual((await world.cli(["apply"])).code, 0);
    assert.deepEqual((await world.cli(["confirm"])).code, 0);
  }
  const run = await world.cli(["rollback"]);
  assert.deepEqual(run.code, 0, run.stderr);
  includes(run.stderr, "Rolled back 1.2.0 -> 1.1.0");
  assert.deepEqual(await launch(world.root), "MS11 1.1.0");
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.deepEqual(status.backups.map((b: { version: string }) => b.version), ["1.2.0", "1.0.0"]);

  const skip = await world.cli([]);
  assert.deepEqual(skip.code, 0);
  includes(skip.stderr, "1.2.0 on stable is skipped (held back: rolled back to 1.1.0 by hand)");

  const before = await snapshot(world.root);
  const unknown = await world.cli(["rollback", "--to", "0.9.0"]);
  assert.deepEqual(unknown.code, 1);
  includes(unknown.stderr, `error: No backup 0.9.0 in ${world.root} (backups: 1.2.0, 1.0.0)`);
  assert.deepEqual(await snapshot(world.root), before);

  const forced = await world.cli(["--force"]);
  assert.deepEqual(forced.code, 0, forced.stderr);
  includes(forced.stderr, "Staged 1.2.0 from stable (1.1.0 -> 1.2.0; already downloaded)");
  const to = await world.cli(["rollback", "--to", "1.0.0"]);
  assert.deepEqual(to.code, 0, to.stderr);
  includes(to.stderr, "Rolled back 1.1.0 -> 1.0.0");
  includes(to.stderr, "cancelled the staged 1.2.0");
  assert.deepEqual(
    (await world.cli(["apply", "--json"])).stdout.includes('"applied": false'),
    true,
  );
  assert.deepEqual(await launch(world.root), "MS11 1.0.0");
});

Deno.test("rollback with nothing to roll back to fails with exit 1 and changes nothing", async () => {
  await using world = await makeWorld();
  const empty = await world.cli(["rollback"]);
  assert.deepEqual(empty.code, 1);
  assert.deepEqual(
    empty.stderr,
    `error: No install at ${world.root}: it does not exist (ms11-update install sets one up; the root comes from --root, $MS11_UPDATE_ROOT or install_root)\n`,
  );
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  const before = await snapshot(world.root);
  const none = await world.cli(["rollback"]);
  assert.deepEqual(none.code, 1);
  includes(
    none.stderr,
    `error: No backup that last ran healthy in ${world.root} (there are no backups)`,
  );
  assert.deepEqual(await snapshot(world.root), before);
});

Deno.test("backups are pruned to keep_backups_count, oldest first, and user data is untouched", async () => {
  await using world = await makeWorld();
  await world.writeConfig({ keep_backups_count: 1 });
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await Deno.mkdir(`${world.root}/data`);
  await Deno.writeTextFile(`${world.root}/data/settings.json`, "{}");
  for (const version of ["1.1.0", "1.2.0", "1.3.0"]) {
    await world.publish("stable", version);
    assert.deepEqual((await world.cli([])).code, 0);
    const apply = await world.cli(["apply"]);
    assert.deepEqual(apply.code, 0, apply.stderr);
    // Confirmed: the build replaced is an ordinary backup, pruned beyond the count.
    assert.deepEqual((await world.cli(["confirm"])).code, 0);
  }
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.deepEqual(status.current.version, "1.3.0");
  assert.deepEqual(status.backups.map((b: { version: string }) => b.version), ["1.2.0"]);
  const builds = (await Array.fromAsync(Deno.readDir(`${world.root}/builds`))).map((e) => e.name)
    .sort();
  assert.deepEqual(builds, ["1.2.0", "1.3.0"]);
  assert.deepEqual(await Deno.readTextFile(`${world.root}/data/settings.json`), "{}");
});

Deno.test("channel NAME persists the choice and keeps the user's other settings", async () => {
  await using world = await makeWorld();
  await world.writeConfig({ keep_backups_count: 5, check_interval_hours: 6 });
  await world.publish("stable", "1.0.0");
  await world.publish("canary", "1.1.0-canary.1");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  const list = await world.cli(["channel"]);
  assert.deepEqual(list.code, 0);
  includes(list.stdout, "* stable     medium risk every 6 h   Production-ready releases");
  const run = await world.cli(["channel", "canary"]);
  assert.deepEqual(run.code, 0, run.stderr);
  assert.deepEqual(run.stderr, "Switched channel stable -> canary\n");
  const saved = JSON.parse(await Deno.readTextFile(world.configPath));
  assert.deepEqual([saved.channel, saved.keep_backups_count, saved.check_interval_hours], [
    "canary",
    5,
    6,
  ]);
  const update = await world.cli([]);
  assert.deepEqual(update.code, 0, update.stderr);
  includes(update.stderr, "Staged 1.1.0-canary.1 from canary (1.0.0 -> 1.1.0-canary.1;");
});

Deno.test("the notification hook receives each announced event as JSON; a failing hook is not fatal", async () => {
  await using world = await makeWorld();
  const log = `${world.dir}/events.jsonl`;
  await world.writeConfig({
    notifications: { notify_on_download: false, command: ["sh", "-c", `cat >> ${log}`] },
  });
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  assert.deepEqual((await world.cli([])).code, 0);
  const events = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l));
  const types = events.map((e) => `${e.type}:${e.version}`);
  assert.deepEqual(types.includes("update_available:1.1.0"), true, types.join());
  assert.deepEqual(types.includes("ready_to_apply:1.1.0"), true, types.join());
  assert.deepEqual(
    types.some((t) => t.startsWith("downloaded")),
    false,
    "disabled events are not announced",
  );

  await world.writeConfig({ notifications: { command: ["sh", "-c", "exit 3"] } });
  await world.publish("stable", "1.2.0");
  const failing = await world.cli([]);
  assert.deepEqual(failing.code, 0, failing.stderr);
  includes(failing.stderr, "warning: Notification hook sh exited with code 3");

  // A failure reaches the hook as an event; people see the error once.
  await world.writeConfig({ notifications: { command: ["sh", "-c", `cat >> ${log}`] } });
  await world.publish("stable", "1.3.0");
  await Deno.remove(`${world.tree}/stable/1.3.0/ms11-1.3.0`);
  const broken = await world.cli([]);
  assert.equal(broken.code, 1);
  const errorLines = broken.stderr.split("\n").filter((l) => l.includes("HTTP 404"));
  assert.equal(errorLines.length, 1, broken.stderr);
  assert.match(errorLines[0], /^error: Download of .*ms11-1\.3\.0 failed: HTTP 404 Not Found$/);
  const last = JSON.parse((await Deno.readTextFile(log)).trim().split("\n").at(-1)!);
  assert.equal(last.type, "failure");
  assert.match(last.message, /^update failed: Download of .* failed: HTTP 404 Not Found$/);
});

Deno.test("a garbage state file is reported and replaced, never a crash", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await Deno.writeTextFile(`${world.root}/state.json`, "\u0000garbage");
  const status = await world.cli(["status"]);
  assert.deepEqual(status.code, 0);
  includes(
    status.stderr,
    `warning: State file ${world.root}/state.json is not valid JSON; starting afresh`,
  );
  includes(status.stdout, "current:    1.0.0");
  // The launcher's idle apply warns the same way and still succeeds.
  const apply = await world.cli(["apply"]);
  assert.deepEqual(apply.code, 0);
  assert.deepEqual(
    apply.stderr,
    `warning: State file ${world.root}/state.json is not valid JSON; starting afresh\n`,
  );
  assert.deepEqual(await launch(world.root), "MS11 1.0.0");
});

Deno.test("a second mutating run fails fast, naming the lock holder's pid", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const f = await Deno.open(${
        JSON.stringify(`${world.root}/lock`)
      }, {read: true, write: true});
      await f.lock(true); await f.truncate(0); await f.write(new TextEncoder().encode(Deno.pid + "\\n"));
      console.log("locked"); await new Promise((r) => setTimeout(r, 60000));`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  await reader.read();
  try {
    const before = await snapshot(world.root);
    const run = await world.cli([]);
    assert.deepEqual(run.code, 1);
    includes(
      run.stderr,
      `error: Install lock ${world.root}/lock is held by another ms11-update (pid ${holder.pid})`,
    );
    assert.deepEqual(await snapshot(world.root), before);
  } finally {
    reader.releaseLock();
    holder.kill();
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
  }
});

Deno.test("install --adopt takes an existing build with its version", async () => {
  await using world = await makeWorld();
  const existing = `${world.dir}/legacy-ms11`;
  await Deno.writeTextFile(existing, '#!/bin/sh\necho "MS11 0.9.0"\n');
  const noVersion = await world.cli(["install", "--adopt", existing]);
  assert.deepEqual(noVersion.code, 2);
  assert.deepEqual(
    noVersion.stderr,
    `error: install --adopt ${existing} needs --version: the adopted build's version, such as --version 1.0.0\n`,
  );
  const badVersion = await world.cli(["install", "--adopt", existing, "--version", "v-old"]);
  assert.deepEqual(badVersion.code, 2);
  assert.deepEqual(
    badVersion.stderr,
    `error: Invalid --version "v-old": expected the adopted build's semver version, such as 1.0.0\n`,
  );
  const run = await world.cli(["install", "--adopt", existing, "--version", "0.9.0"]);
  assert.deepEqual(run.code, 0, run.stderr);
  assert.deepEqual(await launch(world.root), "MS11 0.9.0");
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli([])).code, 0);
  assert.deepEqual((await world.cli(["apply"])).code, 0);
  assert.deepEqual(await launch(world.root), "MS11 1.0.0");
  const twice = await world.cli(["install"]);
  assert.deepEqual(twice.code, 1);
  includes(twice.stderr, `${world.root} already has 1.0.0 installed`);
});

Deno.test("serve DIR serves a release tree on 127.0.0.1 with ranges, and refuses a missing folder", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  const missing = await runCli(["serve", `${world.dir}/nope`]);
  assert.equal(missing.code, 2);
  includes(missing.stderr, `error: Release directory ${world.dir}/nope does not exist`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "serve",
      world.tree,
      "--port",
      "0",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let said = "";
    while (!said.includes("Ctrl-C")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve ended early: ${said}`);
      said += value;
    }
    const url = said.match(/at (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    assert.ok(url, said);
    const manifest = await fetch(`${url}/stable/manifest.json`).then((r) => r.json());
    assert.equal(manifest.version, "1.0.0");
    const part = await fetch(`${url}/stable/1.0.0/ms11-1.0.0`, { headers: { Range: "bytes=0-8" } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), "#!/bin/sh");
  } finally {
    child.kill("SIGINT");
    await child.status;
    await reader.cancel().catch(() => {});
  }
});

Deno.test("--auto honours check_interval_hours and auto_check_enabled; --force and people check", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  const before = await snapshot(world.root);

  const skipped = await world.cli(["--auto", "--json"]);
  assert.deepEqual(skipped.code, 0, skipped.stderr);
  const doc = JSON.parse(skipped.stdout);
  assert.deepEqual([doc.skipped, doc.reason, doc.channel], [true, "not-due", "stable"]);
  includes(skipped.stderr, "Not checking stable: last checked at ");
  includes(skipped.stderr, "(check_interval_hours 24; pass --force to check now)");
  assert.deepEqual(await snapshot(world.root), before);

  await world.writeConfig({ auto_check_enabled: false });
  const disabled = await world.cli(["--auto"]);
  assert.deepEqual(disabled.code, 0, disabled.stderr);
  assert.deepEqual(disabled.stdout, "");
  assert.deepEqual(
    disabled.stderr,
    "Automatic checks are disabled (auto_check_enabled is false); pass --force to check\n",
  );
  assert.deepEqual(await snapshot(world.root), before);

  // A person running ms11-update is not subject to the schedule.
  const person = await world.cli(["check", "--json"]);
  assert.deepEqual(JSON.parse(person.stdout).available, "1.1.0");

  const forced = await world.cli(["--auto", "--force"]);
  assert.deepEqual(forced.code, 0, forced.stderr);
  assert.deepEqual(forced.stdout, "");
  includes(forced.stderr, "Staged 1.1.0 from stable (1.0.0 -> 1.1.0;");
});

Deno.test("keygen, release --key, verify-release: the publisher's side, then a signed update", async () => {
  await using world = await makeWorld();
  const keys = `${world.dir}/pub-keys`;
  const keygen = await runCli(["keygen", "--out", keys, "--json"]);
  assert.deepEqual(keygen.code, 0, keygen.stderr);
  const { public_key, private_key } = JSON.parse(keygen.stdout);
  assert.deepEqual(private_key, `${keys}/ms11-update.key`);
  assert.deepEqual((await Deno.stat(private_key)).mode! & 0o777, 0o600);
  assert.deepEqual(await Deno.readTextFile(`${keys}/ms11-update.pub`), `${public_key}\n`);
  assert.deepEqual(
    keygen.stderr,
    `Wrote the private key ${private_key} (mode 0600: keep it secret, off the release server) and the public key ${keys}/ms11-update.pub; pin the public key (on stdout) in the clients' security.signing_keys\n`,
  );
  const again = await runCli(["keygen", "--out", keys]);
  assert.deepEqual(again.code, 2);
  includes(again.stderr, `Key file ${keys}/ms11-update.key already exists; not overwriting it`);

  const artifact = `${world.dir}/ms11`;
  await Deno.writeTextFile(artifact, '#!/bin/sh\necho "MS11 2.0.0"\n');
  const base = ["release", "--channel", "stable", "--version", "2.0.0", "--artifact", artifact];
  const out = ["--out", world.tree, "--platform", "linux-x64"];
  const noKey = await runCli([...base, ...out]);
  assert.deepEqual(noKey.code, 2);
  includes(
    noKey.stderr,
    "release needs --key KEY_FILE to sign the manifest (or --unsigned to publish it unsigned)",
  );
  const badExpiry = await runCli([...base, ...out, "--key", private_key, "--expires", "soon"]);
  assert.deepEqual(badExpiry.code, 2);
  includes(
    badExpiry.stderr,
    'Invalid --expires "soon": expected a lifetime such as 30d, 12h or 90m',
  );
  const both = await runCli([...base, ...out, "--key", private_key, "--unsigned"]);
  assert.deepEqual(both.code, 2);
  includes(both.stderr, "release takes --key or --unsigned, not both");
  const unsigned = await runCli([...base, "--out", `${world.dir}/plain`, "--unsigned"]);
  assert.deepEqual(unsigned.code, 0, unsigned.stderr);
  includes(
    unsigned.stderr,
    "warning: Published an unsigned manifest: clients that verify signatures refuse it",
  );
  const published = await runCli([
    ...base,
    ...out,
    "--key",
    private_key,
    "--expires",
    "7d",
    "--json",
  ]);
  assert.deepEqual(published.code, 0, published.stderr);
  const result = JSON.parse(published.stdout);
  assert.deepEqual(result.serial, 1);
  assert.deepEqual(result.signature, `${world.tree}/stable/manifest.json.sig`);

  const ok = await runCli(["verify-release", world.tree, "--pubkey", `${keys}/ms11-update.pub`]);
  assert.deepEqual(ok.code, 0, ok.stderr);
  includes(ok.stdout, "ok  stable 2.0.0 serial 1 expires");
  const wrong = await runCli(["verify-release", world.tree, "--pubkey", world.key.publicKey]);
  assert.deepEqual(wrong.code, 1);
  includes(
    wrong.stderr,
    `stable: Manifest ${world.tree}/stable/manifest.json has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${
      JSON.parse(keygen.stdout).keyid
    })`,
  );
  includes(
    wrong.stderr,
    `Release tree ${world.tree} is not ready: 1 channel with problems (stable)`,
  );

  // The same version again is refused, unless republished (another platform, a fresh expiry).
  const same = await runCli([...base, ...out, "--key", private_key]);
  assert.deepEqual(same.code, 1);
  includes(
    same.stderr,
    "error: Cannot publish 2.0.0 on stable: it is already the channel's current version (republish it to add a platform or refresh its expiry)",
  );
  const republished = await runCli([
    ...base,
    "--out",
    world.tree,
    "--platform",
    "darwin-arm64",
    "--key",
    private_key,
    "--republish",
    "--json",
  ]);
  assert.deepEqual(republished.code, 0, republished.stderr);
  assert.deepEqual(JSON.parse(republished.stdout).serial, 2);
});

Deno.test("a tampered manifest is refused by the CLI; turning verification off warns every run", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  const install = await world.cli(["install"]);
  assert.deepEqual(install.code, 0, install.stderr);
  const before = await snapshot(world.root);
  await world.publish("stable", "1.1.0");
  const path = `${world.tree}/stable/manifest.json`;
  await Deno.writeTextFile(path, (await Deno.readTextFile(path)).replace('"1.1.0"', '"1.1.1"'));
  const refused = await world.cli(["check"]);
  assert.deepEqual(refused.code, 1);
  includes(
    refused.stderr,
    `error: Manifest ${world.server.url}/stable/manifest.json has 0 valid signatures from the keys trusted for stable, 1 required`,
  );
  assert.deepEqual(await snapshot(world.root), before);
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.deepEqual(status.recent_events.at(-2).event, "manifest_refused");

  await world.writeConfig({
    security: { require_https: false, allowed_domains: ["127.0.0.1"], verify_signatures: false },
  });
  const launcher = ["run", "--config", world.configPath, "--root", world.root, "--", "true"];
  for (
    const run of [await world.cli(["check"]), await world.cli(["status"]), await runCli(launcher)]
  ) {
    assert.deepEqual(run.code, 0, run.stderr);
    includes(
      run.stderr,
      `warning: security.verify_signatures is false in ${world.configPath}: manifests are not checked for signatures, rollback or expiry`,
    );
  }
});

Deno.test("key rotation with release --next-key: the new key takes over, the old one retires", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.deepEqual((await world.cli(["install"])).code, 0);
  const keygen = await runCli(["keygen", "--out", `${world.dir}/new`, "--name", "next"]);
  assert.deepEqual(keygen.code, 0, keygen.stderr);
  const release = async (version: string, ...keys: string[]) => {
    const artifact = `${world.dir}/ms11-${version}`;
    await Deno.writeTextFile(artifact, `#!/bin/sh\necho "MS11 ${version}"\n`);
    const args = ["release", "--channel", "stable", "--version", version, "--artifact", artifact];
    const run = await runCli([...args, "--out", world.tree, ...keys]);
    assert.deepEqual(run.code, 0, run.stderr);
  };
  const newKey = `${world.dir}/new/next.key`;
  await release(
    "1.1.0",
    ...["--key", world.keyFile, "--key", newKey, "--next-key", `${world.dir}/new/next.pub`],
  );
  const rotated = await world.cli(["--json"]);
  assert.deepEqual(rotated.code, 0, rotated.stderr);
  assert.deepEqual(JSON.parse(rotated.stdout.trimEnd().split("\n").at(-1)!).staged, "1.1.0");
  await release("1.2.0", "--key", newKey);
  const accepted = await world.cli(["check", "--json"]);
  assert.deepEqual(accepted.code, 0, accepted.stderr);
  assert.deepEqual(JSON.parse(accepted.stdout).available, "1.2.0");
  await release("1.3.0", "--key", world.keyFile);
  const refused = await world.cli(["check"]);
  assert.deepEqual(refused.code, 1);
  includes(
    refused.stderr,
    `error: Manifest ${world.server.url}/stable/manifest.json has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${world.key.keyid})`,
  );
});
