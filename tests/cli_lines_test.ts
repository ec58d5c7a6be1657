// One clear line per action: the exact words each command says for people (stderr) and the data
// it prints (stdout), never the same twice; commands that say what they do (help, stray
// arguments, a public key as --key, a port in use, --adopt without --version); and roots that are
// not installs: missing, mistyped or a file, where only `install` creates anything.
import assert from "node:assert/strict";
import { type CliRun, makeWorld, runCli, snapshot, type World } from "./_e2e.ts";

/** stderr and stdout of a run, exactly, and its exit code. */
function said(run: CliRun): { code: number; stderr: string; stdout: string } {
  return { code: run.code, stderr: run.stderr, stdout: run.stdout };
}

const NO_INSTALL =
  "(ms11-update install sets one up; the root comes from --root, $MS11_UPDATE_ROOT or install_root)";

Deno.test("each action says one line for people and prints only data", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  const root = world.root;
  assert.deepEqual(said(await world.cli(["install"])), {
    code: 0,
    stderr: `Installed 1.0.0 from stable in ${root}\n`,
    stdout: "",
  });
  assert.deepEqual(said(await world.cli([])), {
    code: 0,
    stderr: "1.0.0 is the newest release on stable\n",
    stdout: "",
  });

  await world.publish("stable", "1.1.0", { notes: "Faster start\nNew menus" });
  const check = await world.cli(["check"]);
  assert.equal(check.code, 0);
  assert.equal(check.stderr, "", 'check says nothing on stderr: no "Installing"');
  assert.match(
    check.stdout,
    /^channel: {3}stable - Production-ready releases\nrisk: {6}medium \(checked every 24 h by --auto\)\ncurrent: {3}1\.0\.0\navailable: 1\.1\.0 \(released \S+, 28 B\)\nupdate: {4}yes\nnotes: {5}Faster start\n {11}New menus\n$/,
  );
  assert.deepEqual(said(await world.cli([])), {
    code: 0,
    stderr:
      "Staged 1.1.0 from stable (1.0.0 -> 1.1.0; downloaded and verified 28 B); it is applied at the next launch\n",
    stdout: "Release notes of 1.1.0:\nFaster start\nNew menus\n",
  });
  assert.deepEqual(said(await world.cli([])), {
    code: 0,
    stderr: "1.1.0 from stable is already staged; it is applied at the next launch\n",
    stdout: "",
  });
  assert.deepEqual(said(await world.cli(["apply"])), {
    code: 0,
    stderr: "Applied 1.1.0 (was 1.0.0); it is on trial until confirmed\n",
    stdout: "",
  });
  // A launch counted on trial, and an idle apply: silent.
  assert.deepEqual(said(await world.cli(["apply"])), { code: 0, stderr: "", stdout: "" });
  assert.deepEqual(said(await world.cli(["confirm"])), {
    code: 0,
    stderr:
      "Confirmed 1.1.0 after 2 launches: it stays current and is no longer rolled back automatically\n",
    stdout: "",
  });
  assert.deepEqual(said(await world.cli(["apply"])), { code: 0, stderr: "", stdout: "" });
  assert.deepEqual(said(await world.cli(["confirm"])), {
    code: 0,
    stderr: "No build is on trial; nothing to confirm\n",
    stdout: "",
  });
  assert.deepEqual(said(await world.cli(["rollback"])), {
    code: 0,
    stderr: "Rolled back 1.1.0 -> 1.0.0; updates skip 1.1.0 until a newer release\n",
    stdout: "",
  });
  const status = await world.cli(["status"]);
  assert.equal(status.stderr, "");
  const lines = status.stdout.split("\n");
  assert.deepEqual(lines.slice(0, 5), [
    `root:       ${root}`,
    "channel:    stable (medium risk, checked every 24 h) - Production-ready releases",
    `platform:   ${JSON.parse((await world.cli(["status", "--json"])).stdout).platform}`,
    "current:    1.0.0 from stable, confirmed healthy",
    "staged:     none",
  ]);
  // Backups say how they ran and when they were replaced: no "(until …)" to read as an expiry.
  assert.match(
    lines[6],
    /^backups: {4}1\.1\.0 \(confirmed healthy; held back: rolled back to 1\.0\.0 by hand; replaced at \S+Z\)$/,
  );
  assert.equal(lines[7], "held back:  1.1.0 on stable (rolled back to 1.0.0 by hand)");
  assert.equal(lines[8], "rejected:   none");
  assert.ok(!status.stdout.includes("until 20"), status.stdout);

  await world.publish("canary", "1.2.0-canary.1");
  const channels = await world.cli(["channel"]);
  assert.deepEqual(said(channels), {
    code: 0,
    stderr: "",
    stdout:
      "* stable     medium risk every 24 h  Production-ready releases\n  canary     medium risk every 24 h  Early access releases\n",
  });
  assert.deepEqual(said(await world.cli(["channel", "canary"])), {
    code: 0,
    stderr: "Switched channel stable -> canary\n",
    stdout: "",
  });
  assert.deepEqual(said(await world.cli(["channel", "canary"])), {
    code: 0,
    stderr: "Already on canary\n",
    stdout: "",
  });
});

Deno.test("the publisher's commands: one line for people, the data on stdout", async () => {
  await using world = await makeWorld();
  const artifact = `${world.dir}/ms11`;
  await Deno.writeTextFile(artifact, '#!/bin/sh\necho "MS11 1.0.0"\n');
  const release = await runCli([
    "release",
    "--channel",
    "stable",
    "--version",
    "1.0.0",
    "--artifact",
    artifact,
    "--out",
    world.tree,
    "--platform",
    "linux-x64",
    "--key",
    world.keyFile,
  ]);
  assert.deepEqual(said(release), {
    code: 0,
    stderr: "Published 1.0.0 (linux-x64, 28 B) on stable\n",
    stdout: `${world.tree}/stable/manifest.json\n`,
  });
  const verify = await runCli(["verify-release", world.tree, "--pubkey", world.key.publicKey]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(verify.stderr, "");
  assert.match(verify.stdout, /^ok {2}stable 1\.0\.0 serial 1 expires \S+Z\n$/);
});

Deno.test("help [command] works, and a stray argument is refused", async () => {
  await using world = await makeWorld();
  const help = await runCli(["help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: ms11-update \[options\] \[command\]/);
  const status = await runCli(["help", "status"]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^Usage: ms11-update status \[options\]/);
  assert.equal(status.stdout, (await runCli(["status", "--help"])).stdout);
  const unknown = await runCli(["help", "stauts"]);
  assert.deepEqual(said(unknown), {
    code: 2,
    stderr: "error: unknown command 'stauts'\n",
    stdout: "",
  });
  for (const command of ["status", "check", "rollback", "confirm"]) {
    const stray = await world.cli([command, "extra"]);
    assert.equal(stray.code, 2, `${command} extra`);
    assert.equal(
      stray.stderr,
      `error: too many arguments for '${command}'. Expected 0 arguments but got 1: extra.\n`,
    );
  }
  await assert.rejects(Deno.stat(world.root), Deno.errors.NotFound);
});

Deno.test("a public key passed as --key says it is one", async () => {
  await using world = await makeWorld();
  const pub = world.keyFile.replace(/\.key$/, ".pub");
  await Deno.chmod(pub, 0o644);
  const artifact = `${world.dir}/ms11`;
  await Deno.writeTextFile(artifact, "#!/bin/sh\n");
  const run = await runCli([
    "release",
    "--channel",
    "stable",
    "--version",
    "1.0.0",
    "--artifact",
    artifact,
    "--out",
    world.tree,
    "--key",
    pub,
  ]);
  assert.equal(run.code, 2);
  assert.equal(
    run.stderr,
    `error: Invalid --key ${pub}: Key file ${pub} holds a public key (${world.key.keyid}), not a private one: sign with the private key file keygen wrote beside it (.key, mode 0600)\n`,
  );
});

Deno.test("serve on a port in use names the port", async () => {
  await using world = await makeWorld();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const run = await runCli(["serve", world.tree, "--port", String(port)]);
  assert.deepEqual(said(run), {
    code: 1,
    stderr:
      `error: Cannot listen on 127.0.0.1:${port}: the port is already in use (choose another with --port, or --port 0 for a free one)\n`,
    stdout: "",
  });
});

/** The commands that need an install, as a person types them. */
const NEEDS_INSTALL: string[][] = [
  [],
  ["--auto"],
  ["check"],
  ["rollback"],
  ["rollback", "--to", "1.0.0"],
  ["confirm"],
  ["status"],
  ["status", "--json"],
  ["dashboard"],
];

async function runAt(world: World, root: string, args: string[]) {
  return await runCli([...args, "--config", world.configPath, "--root", root]);
}

Deno.test("a missing or mistyped root is not an empty install: only install creates one", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const typo = `${world.root}x`;
  for (const args of NEEDS_INSTALL) {
    const run = await runAt(world, typo, args);
    assert.deepEqual(said(run), {
      code: 1,
      stderr: `error: No install at ${typo}: it does not exist ${NO_INSTALL}\n`,
      stdout: "",
    }, args.join(" "));
  }
  await assert.rejects(Deno.stat(typo), Deno.errors.NotFound, "nothing was created");
  // An empty folder is no install either, and stays empty.
  await Deno.mkdir(typo);
  for (const args of [["check"], ["rollback"], ["status"]]) {
    const run = await runAt(world, typo, args);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `error: No install at ${typo}: the folder holds no install ${NO_INSTALL}\n`,
    );
  }
  assert.deepEqual([...Deno.readDirSync(typo)], []);
  // The launcher's apply keeps its silent fast path (exit 0): the launcher starts `current`.
  await Deno.remove(typo);
  assert.deepEqual(said(await runAt(world, typo, ["apply"])), { code: 0, stderr: "", stdout: "" });
  await assert.rejects(Deno.stat(typo), Deno.errors.NotFound);
  // A channel switch is about the configuration: it needs no install.
  assert.equal((await runAt(world, typo, ["channel", "canary"])).code, 0);
  await assert.rejects(Deno.stat(typo), Deno.errors.NotFound);
  // install creates it.
  const install = await runAt(world, typo, ["install", "--channel", "stable"]);
  assert.equal(install.code, 0, install.stderr);
  assert.equal(install.stderr, `Installed 1.0.0 from stable in ${typo}\n`);
});

Deno.test("a root that is a regular file gives a clear error, not 'Not a directory'", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  const file = `${world.dir}/root-file`;
  await Deno.writeTextFile(file, "not a folder");
  for (const args of NEEDS_INSTALL) {
    const run = await runAt(world, file, args);
    assert.deepEqual(said(run), {
      code: 1,
      stderr: `error: No install at ${file}: it is a file, not a folder\n`,
      stdout: "",
    }, args.join(" "));
  }
  for (const root of [file, `${file}/inside`]) {
    const apply = await runAt(world, root, ["apply"]);
    assert.equal(apply.code, 1);
    assert.match(
      apply.stderr,
      /^error: No install at .*: (it is a file, not a folder|a folder above it is a file)\n$/,
    );
  }
  const install = await runAt(world, file, ["install"]);
  assert.deepEqual(said(install), {
    code: 1,
    stderr: `error: Cannot install in ${file}: it is a file, not a folder\n`,
    stdout: "",
  });
  assert.equal(await Deno.readTextFile(file), "not a folder");
});

Deno.test("channel NAME changes only that field of the user's file, as they wrote it", async () => {
  await using world = await makeWorld();
  const doc = JSON.parse(await Deno.readTextFile(world.configPath));
  // The user's own layout: tabs, key order, compact arrays, a trailing newline missing.
  const text = `{\t"max_retry_attempts" : 1,\n\t"channel":"stable" ,\n\t"update_servers": ${
    JSON.stringify(doc.update_servers)
  },\n\t"security": ${JSON.stringify(doc.security)},\n\t"notifications": {}}`;
  await Deno.writeTextFile(world.configPath, text);
  const run = await world.cli(["channel", "canary"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    await Deno.readTextFile(world.configPath),
    text.replace('"channel":"stable"', '"channel":"canary"'),
  );
  // A file without the field gets it added, the rest untouched.
  const without = text.replace('\t"channel":"stable" ,\n', "");
  await Deno.writeTextFile(world.configPath, without);
  assert.equal((await world.cli(["channel", "canary"])).code, 0);
  assert.equal(
    await Deno.readTextFile(world.configPath),
    without.replace('{\t"max_retry_attempts"', '{\t"channel": "canary",\t"max_retry_attempts"'),
  );
  // A switch that fails validation writes nothing.
  const before = await Deno.readTextFile(world.configPath);
  const bad = await world.cli(["channel", "nightly"]);
  assert.equal(bad.code, 2);
  assert.equal(await Deno.readTextFile(world.configPath), before);
  assert.equal(await snapshot(world.root), "current: none\nstaged: no state");
});
