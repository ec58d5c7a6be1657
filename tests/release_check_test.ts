// A release that cannot be published broken: `release` refuses, before anything is written, an
// archive a client would refuse (no executable at the top, no execute bit, unsafe entries) using
// the client's own extraction checks; `verify-release` finds the same in a published tree; and a
// client that meets such a release anyway rejects it and does not download it again until a
// newer release or --force.
import assert from "node:assert/strict";
import { NotLaunchableError, UnsafeArchiveError } from "../lib/core/errors.ts";
import { checkArtifact } from "../lib/publish/artifact_check.ts";
import { publishRelease, verifyRelease } from "../lib/publish/release.ts";
import { readAudit } from "../lib/root/audit.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { makeTarGz, makeZip } from "./_archives.ts";
import { launch, linuxPlatform, makeWorld, runCli, snapshot } from "./_e2e.ts";
import { namesIn, rejectsWith, tempDir } from "./_helpers.ts";

const MAIN = "#!/bin/sh\necho MS11\n";

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

Deno.test("checkArtifact accepts what a client accepts, and refuses what it refuses", async () => {
  await using dir = await tempDir();
  const at = (name: string) => `${dir.path}/${name}`;
  const exe = { executable: "ms11" };
  await checkArtifact(
    await makeTarGz(at("ok.tar.gz"), [{ type: "file", name: "ms11", data: MAIN, mode: 0o755 }]),
    { kind: "tar.gz", ...exe },
  );
  await checkArtifact(
    await makeZip(at("ok.zip"), [{ name: "ms11", data: MAIN, mode: 0o100755 }]),
    { kind: "zip", ...exe },
  );
  const nested = await makeTarGz(at("nested.tar.gz"), [
    { type: "dir", name: "ms11-1.1.0" },
    { type: "file", name: "ms11-1.1.0/ms11", data: MAIN, mode: 0o755 },
  ]);
  await rejectsWith(
    checkArtifact(nested, { kind: "tar.gz", ...exe }),
    NotLaunchableError,
    `${nested} is not launchable: its tar.gz archive has no file ms11 at the top level`,
  );
  const plain = await makeTarGz(at("plain.tar.gz"), [
    { type: "file", name: "ms11", data: MAIN, mode: 0o644 },
  ]);
  await rejectsWith(
    checkArtifact(plain, { kind: "tar.gz", ...exe }),
    NotLaunchableError,
    `${plain} is not launchable: its tar.gz archive has ms11 without an execute bit (mode 0644)`,
  );
  const linked = await makeTarGz(at("linked.tar.gz"), [
    { type: "file", name: "bin/ms11", data: MAIN, mode: 0o755 },
    { type: "symlink", name: "ms11", target: "bin/ms11" },
  ]);
  await rejectsWith(
    checkArtifact(linked, { kind: "tar.gz", ...exe }),
    NotLaunchableError,
    `${linked} is not launchable: its tar.gz archive has ms11 at the top level as a symlink, not a file`,
  );
  const escape = await makeTarGz(at("escape.tar.gz"), [
    { type: "file", name: "ms11", data: MAIN, mode: 0o755 },
    { type: "file", name: "../evil", data: "x" },
  ]);
  await rejectsWith(
    checkArtifact(escape, { kind: "tar.gz", ...exe }),
    UnsafeArchiveError,
    `Unsafe archive ${escape}: entry "../evil" refused: path has a ".." component`,
  );
  const hard = await makeTarGz(at("hard.tar.gz"), [
    { type: "file", name: "ms11", data: MAIN, mode: 0o755 },
    { type: "hardlink", name: "again", target: "ms11" },
  ]);
  await rejectsWith(
    checkArtifact(hard, { kind: "tar.gz", ...exe }),
    UnsafeArchiveError,
    /hard links/,
  );
  const empty = at("empty");
  await Deno.writeFile(empty, new Uint8Array());
  await rejectsWith(
    checkArtifact(empty, { kind: "executable", ...exe }),
    NotLaunchableError,
    `${empty} is not launchable: it is an empty file`,
  );
  // Nothing is left behind by the checks.
  const left = (await namesIn(dir.path)).filter((n) => n.startsWith(".ms11-check-"));
  assert.deepEqual(left, []);
});

Deno.test("publishRelease refuses a build clients would refuse, before writing anything", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  await Deno.mkdir(tree);
  const nested = await makeTarGz(`${dir.path}/ms11.tar.gz`, [
    { type: "file", name: "app/ms11", data: MAIN, mode: 0o755 },
  ]);
  const options = { channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: nested };
  await rejectsWith(
    publishRelease(tree, options),
    NotLaunchableError,
    `Cannot publish 1.1.0 on stable: ${nested} is not launchable: its tar.gz archive has no file ms11 at the top level`,
  );
  assert.deepEqual(await namesIn(tree), []);
  // The executable clients start is the publisher's to say.
  const app = await makeTarGz(`${dir.path}/app.tar.gz`, [
    { type: "file", name: "app", data: MAIN, mode: 0o755 },
  ]);
  const { manifest } = await publishRelease(tree, { ...options, artifact: app, executable: "app" });
  assert.equal(manifest.version, "1.1.0");
});

Deno.test("release (the CLI) refuses an archive without the executable; verify-release finds one in a tree", async () => {
  await using world = await makeWorld();
  const nested = await makeTarGz(`${world.dir}/ms11-1.1.0.tar.gz`, [
    { type: "file", name: "ms11-1.1.0/ms11", data: MAIN, mode: 0o755 },
  ]);
  const release = [
    "release",
    "--channel",
    "stable",
    "--version",
    "1.1.0",
    "--artifact",
    nested,
    "--out",
    world.tree,
    "--key",
    world.keyFile,
  ];
  const refused = await runCli(release);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `error: Cannot publish 1.1.0 on stable: ${nested} is not launchable: its tar.gz archive has no file ms11 at the top level\n`,
  );
  assert.deepEqual(await namesIn(world.tree), []);
  const badName = await runCli([...release, "--executable", "bin/ms11"]);
  assert.equal(badName.code, 2);
  includes(badName.stderr, 'Invalid --executable "bin/ms11": expected a file name without slashes');

  // A tree published for another executable name is not ready for clients that start ms11.
  const published = await runCli([...release, "--executable", "ms11-1.1.0"]);
  assert.equal(published.code, 1, "a folder is not an executable");
  includes(published.stderr, "has ms11-1.1.0 at the top level as a directory, not a file");
  await publishRelease(world.tree, {
    channel: "stable",
    version: "1.1.0",
    platform: linuxPlatform(),
    artifact: await makeTarGz(`${world.dir}/other.tar.gz`, [
      { type: "file", name: "other", data: MAIN, mode: 0o755 },
    ]),
    keys: [world.key],
    executable: "other",
  });
  const verify = await runCli(["verify-release", world.tree, "--pubkey", world.key.publicKey]);
  assert.equal(verify.code, 1);
  includes(
    verify.stderr,
    `warning: stable: Artifact ${world.tree}/stable/1.1.0/other.tar.gz (${linuxPlatform()}) is not launchable: its tar.gz archive has no file ms11 at the top level`,
  );
  includes(verify.stdout, "BAD stable 1.1.0");
  const asOther = await runCli([
    "verify-release",
    world.tree,
    "--pubkey",
    world.key.publicKey,
    "--executable",
    "other",
  ]);
  assert.equal(asOther.code, 0, asOther.stderr);
  const [channel] = await verifyRelease(world.tree, {
    keys: { threshold: 1, keys: [world.key.publicKey] },
    executable: "other",
  });
  assert.deepEqual(channel.problems, []);
});

Deno.test("a client that finds a published build not launchable rejects it and does not download it again", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  // Published for another executable name: the clients' ms11 is not at the top level.
  const broken = await makeTarGz(`${world.dir}/ms11-1.1.0.tar.gz`, [
    { type: "file", name: "other", data: MAIN, mode: 0o755 },
  ]);
  await world.publish("stable", "1.1.0", { artifact: broken, executable: "other" });
  const first = await world.cli([]);
  assert.equal(first.code, 1);
  includes(
    first.stderr,
    "error: Release 1.1.0 is not launchable: its tar.gz archive has no file ms11 at the top level",
  );
  const requests = world.server.requests;
  const second = await world.cli([]);
  assert.equal(second.code, 0, second.stderr);
  includes(
    second.stderr,
    "1.1.0 on stable is skipped (rejected: Release 1.1.0 is not launchable: its tar.gz archive has no file ms11 at the top level); a newer release or --force installs it",
  );
  // The manifest and its signature only: no artifact download.
  assert.equal(world.server.requests - requests, 2);
  const layout = layoutOf(world.root);
  const refusals = (await readAudit(layout)).filter((e) => e.event === "artifact_refused");
  assert.equal(refusals.length, 1);
  assert.equal(refusals[0].bad, true);
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.deepEqual(status.rejected.map((r: { version: string }) => r.version), ["1.1.0"]);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const before = await snapshot(world.root);
  // --force tries again (and fails the same way); a newer release is staged as usual.
  const forced = await world.cli(["--force"]);
  assert.equal(forced.code, 1);
  assert.equal(await snapshot(world.root), before);
  await world.publish("stable", "1.1.1");
  const fixed = await world.cli([]);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(JSON.parse((await world.cli(["status", "--json"])).stdout).staged.version, "1.1.1");
});

Deno.test("install of a release rejected on this install says so instead of claiming it installed", async () => {
  await using world = await makeWorld();
  const broken = await makeZip(`${world.dir}/ms11.zip`, [{
    name: "other",
    data: MAIN,
    mode: 0o100755,
  }]);
  await world.publish("stable", "1.0.0", { artifact: broken, executable: "other" });
  const first = await world.cli(["install"]);
  assert.equal(first.code, 1);
  includes(first.stderr, "Release 1.0.0 is not launchable: its zip archive has no file ms11");
  const again = await world.cli(["install"]);
  assert.equal(again.code, 1);
  includes(
    again.stderr,
    `error: Nothing installed in ${world.root}: 1.0.0 on stable is skipped (rejected: Release 1.0.0 is not launchable`,
  );
  const forced = await world.cli(["install", "--force"]);
  assert.equal(forced.code, 1);
  includes(forced.stderr, "error: Release 1.0.0 is not launchable");
});
