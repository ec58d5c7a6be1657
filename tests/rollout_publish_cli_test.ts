// The rollout commands through the CLI: --help on each, usage errors exit 2 and change nothing,
// refused changes exit 1, a change prints one line and re-signs.
import assert from "node:assert/strict";
import { runCli } from "./_e2e.ts";
import { bytesOf, tempDir } from "./_helpers.ts";
import { writeKeyPair } from "../lib/publish/signing.ts";

Deno.test("rollout, yank, unyank, minimum-version: help, usage errors (2), refusals (1), changes", async () => {
  await using dir = await tempDir();
  for (const command of ["rollout", "yank", "unyank", "minimum-version"]) {
    const help = await runCli([command, "--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`Usage: ms11-update ${command} \\[options\\] <tree>`));
    assert.match(help.stdout, /--key <file>/);
  }
  const { privatePath } = await writeKeyPair(`${dir.path}/keys`);
  await Deno.writeTextFile(`${dir.path}/ms11`, "#!/bin/sh\necho MS11\n");
  const tree = `${dir.path}/tree`;
  const release = (version: string, extra: string[] = []) =>
    runCli([
      "release",
      "--channel",
      "stable",
      "--version",
      version,
      "--artifact",
      `${dir.path}/ms11`,
      "--out",
      tree,
      "--platform",
      "linux-x64",
      "--key",
      privatePath,
      ...extra,
    ]);
  assert.equal((await release("1.0.0")).code, 0);
  const staged = await release("1.1.0", ["--rollout", "10%"]);
  assert.equal(staged.code, 0, staged.stderr);
  assert.equal(
    staged.stderr,
    "Published 1.1.0 (linux-x64, 20 B) on stable: 1.1.0 at 10%; others: 1.0.0\n",
  );
  const before = await bytesOf(`${tree}/stable/manifest.json`);
  const usage: [string[], string][] = [
    [[
      "release",
      "--channel",
      "stable",
      "--version",
      "1.2.0",
      "--artifact",
      `${dir.path}/ms11`,
      "--out",
      tree,
      "--key",
      privatePath,
      "--rollout",
      "0.5",
    ], 'error: Invalid --rollout "0.5": expected a whole percent from 1 to 100 (10 means 10%)\n'],
    [
      ["rollout", tree, "--channel", "stable", "widen", "--key", privatePath],
      "error: rollout widen needs a PERCENT (a whole percent from 1 to 100)\n",
    ],
    [
      ["rollout", tree, "--channel", "stable", "stop", "--key", privatePath],
      'error: Invalid rollout action "stop": expected widen, pause, resume, complete, show\n',
    ],
    [
      ["rollout", tree, "--channel", "stable", "pause"],
      "error: rollout needs --key KEY_FILE to sign the manifest (or --unsigned to publish it unsigned)\n",
    ],
    [
      ["rollout", tree, "--channel", "stable", "pause", "--key", privatePath, "--expires", "soon"],
      'error: Invalid --expires "soon": expected a lifetime such as 30d, 12h or 90m\n',
    ],
    [
      ["yank", tree, "--channel", "stable", "1.1.0", "--key", privatePath],
      "error: required option '--reason <text>' not specified\n",
    ],
    [
      ["minimum-version", tree, "--channel", "stable", "latest", "--key", privatePath],
      'error: Invalid version "latest": expected a semver version\n',
    ],
    [
      ["unyank", `${dir.path}/none`, "--channel", "stable", "1.1.0", "--key", privatePath],
      `error: Release directory ${dir.path}/none does not exist\n`,
    ],
  ];
  for (const [args, stderr] of usage) {
    const run = await runCli(args);
    assert.deepEqual([run.code, run.stderr], [2, stderr], args.join(" "));
  }
  const narrow = await runCli([
    "rollout",
    tree,
    "--channel",
    "stable",
    "widen",
    "5",
    "--key",
    privatePath,
  ]);
  assert.deepEqual([narrow.code, narrow.stderr], [
    1,
    "error: Cannot widen the rollout of 1.1.0 on stable to 5%: it is at 10% (a rollout only widens; to stop it, pause it)\n",
  ]);
  assert.deepEqual(await bytesOf(`${tree}/stable/manifest.json`), before);
  const widen = await runCli([
    "rollout",
    tree,
    "--channel",
    "stable",
    "widen",
    "50",
    "--key",
    privatePath,
  ]);
  assert.deepEqual([widen.code, widen.stderr], [
    0,
    "Widened 1.1.0 on stable from 10% to 50% (serial 3)\n",
  ]);
  assert.equal(widen.stdout, "stable 1.1.0 at 50%; others: 1.0.0\n");
  const show = await runCli(["rollout", tree, "--channel", "stable", "show", "--json"]);
  assert.equal(show.code, 0, show.stderr);
  const state = JSON.parse(show.stdout);
  assert.deepEqual([state.serial, state.share_basis_points, state.previous], [3, 5000, "1.0.0"]);
});
