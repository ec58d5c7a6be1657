// The publisher's deltas (docs/DELTA.md, "Publishing deltas"): `release --deltas K` makes them
// from the channel's last releases in the tree, lists them in the signed manifest as the strict
// parser wants them, skips the ones not worth it, says when bsdiff is missing; a client updates
// with one end to end. verify-release and publish's checks: release_delta_verify_test.ts.
import assert from "node:assert/strict";
import { extractArchive } from "../lib/archive/extract.ts";
import { hashFile } from "../lib/core/hash.ts";
import { applyPatch } from "../lib/delta/apply.ts";
import { applyFolderDelta } from "../lib/delta/folder.ts";
import { treeDigest } from "../lib/root/seal.ts";
import { appScript, launch, makeWorld, runCli, type World } from "./_e2e.ts";
import { textOf } from "./_delta.ts";
import { makeZip, type ZipEntry } from "./_archives.ts";
import { tempDir } from "./_helpers.ts";
import {
  build,
  folderBuild,
  ignore,
  keyIn,
  manifestOf,
  PLATFORM,
  release,
} from "./_release_delta.ts";

Deno.test({
  name: "release --deltas 2 after three executable releases lists deltas from the last two",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (const version of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) {
      await Deno.writeTextFile(`${dir.path}/ms11-${version}`, build(version));
      const out = await release(tree, key, {
        version,
        artifact: `${dir.path}/ms11-${version}`,
        extra: ["--deltas", "2", "--json"],
      });
      assert.equal(out.code, 0, out.stderr);
      const data = JSON.parse(out.stdout);
      assert.deepEqual(data.skipped_deltas, []);
      const expected: Record<string, string[]> = {
        "1.0.0": [],
        "1.1.0": ["1.0.0"],
        "1.2.0": ["1.1.0", "1.0.0"],
        "1.3.0": ["1.2.0", "1.1.0"],
      };
      assert.deepEqual(data.deltas.map((d: { from: string }) => d.from), expected[version]);
    }
    const artifact = (await manifestOf(tree)).artifacts[PLATFORM];
    const { deltas } = artifact;
    assert.deepEqual(deltas.map((d: { from: string }) => d.from), ["1.2.0", "1.1.0"]);
    for (const delta of deltas) {
      const file = `${tree}/stable/1.3.0/ms11-1.3.0.from-${delta.from}.delta`;
      assert.equal(delta.url, `1.3.0/ms11-1.3.0.from-${delta.from}.delta`);
      assert.deepEqual(await hashFile(file), { size: delta.size, sha256: delta.sha256 });
      assert.deepEqual(Object.keys(delta).sort(), [
        "from",
        "from_sha256",
        "kind",
        "sha256",
        "size",
        "url",
      ]);
      assert.equal(delta.kind, "bsdiff");
      const old = `${tree}/stable/${delta.from}/ms11-${delta.from}`;
      assert.equal(delta.from_sha256, (await hashFile(old)).sha256);
      assert.ok(delta.size < artifact.size / 2);
      await applyPatch(old, file, { out: `${dir.path}/rebuilt-${delta.from}`, ...artifact });
    }
    // 1.0.0 is not among the last two: no delta from it was written.
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(`${tree}/stable/1.3.0`))).map((e) => e.name).sort(),
      [".release.json", "ms11-1.3.0", "ms11-1.3.0.from-1.1.0.delta", "ms11-1.3.0.from-1.2.0.delta"],
    );
  },
});

Deno.test({
  name: "release --deltas 2 of a tar.gz build lists folder deltas with the builds' seals",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (const version of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) {
      const out = await release(tree, key, {
        version,
        artifact: await folderBuild(dir.path, version),
        extra: ["--deltas", "2"],
      });
      assert.equal(out.code, 0, out.stderr);
    }
    const artifact = (await manifestOf(tree)).artifacts[PLATFORM];
    const seal = async (version: string) => {
      const out = `${dir.path}/x-${version}`;
      await extractArchive(`${tree}/stable/${version}/ms11-${version}.tar.gz`, out, {
        kind: "tar.gz",
      });
      return await treeDigest(out);
    };
    const newSeal = await seal("1.3.0");
    assert.deepEqual(artifact.deltas.map((d: { from: string }) => d.from), ["1.2.0", "1.1.0"]);
    for (const delta of artifact.deltas) {
      assert.equal(delta.kind, "folder");
      assert.deepEqual(Object.keys(delta).sort(), [
        "from",
        "from_seal",
        "kind",
        "seal",
        "sha256",
        "size",
        "url",
      ]);
      assert.equal(delta.seal, newSeal);
      assert.equal(delta.from_seal, await seal(delta.from));
      const file = `${tree}/stable/1.3.0/ms11-1.3.0.tar.gz.from-${delta.from}.delta`;
      assert.deepEqual(await hashFile(file), { size: delta.size, sha256: delta.sha256 });
      assert.ok(delta.size < artifact.size / 2, `${delta.size} of ${artifact.size}`);
      const rebuilt = await applyFolderDelta(`${dir.path}/x-${delta.from}`, file, {
        out: `${dir.path}/rebuilt-${delta.from}`,
        seal: delta.seal,
        sync: false,
      });
      assert.equal(rebuilt.seal, newSeal);
    }
  },
});

/** Publish `version` into the world's tree through the CLI (deltas on by default). */
async function publishCli(world: World, version: string, artifact: string) {
  const out = await release(world.tree, world.keyFile, { version, artifact });
  assert.equal(out.code, 0, out.stderr);
  return out;
}

async function state(world: World) {
  return JSON.parse(await Deno.readTextFile(`${world.root}/state.json`));
}

Deno.test({
  name: "a client updates an executable with the delta release made, end to end",
  ignore,
  async fn() {
    await using world = await makeWorld();
    await Deno.writeTextFile(`${world.dir}/ms11-1.0.0`, build("1.0.0"));
    await publishCli(world, "1.0.0", `${world.dir}/ms11-1.0.0`);
    const install = await world.cli(["install"]);
    assert.equal(install.code, 0, install.stderr);
    await Deno.writeTextFile(`${world.dir}/ms11-1.1.0`, build("1.1.0"));
    const published = await publishCli(world, "1.1.0", `${world.dir}/ms11-1.1.0`);
    assert.match(
      published.stderr,
      /Published 1\.1\.0 \(linux-x64, .*\) on stable, with deltas from 1\.0\.0 \(/,
    );
    const [delta] = (await manifestOf(world.tree)).artifacts[PLATFORM].deltas;
    const update = await world.cli(["--json"]);
    assert.equal(update.code, 0, update.stderr);
    const s = await state(world);
    assert.equal(s.last_download.method, "delta");
    assert.equal(s.last_download.from, "1.0.0");
    assert.equal(s.last_download.bytes, delta.size);
    assert.equal(s.builds["1.1.0"].sha256, (await hashFile(`${world.dir}/ms11-1.1.0`)).sha256);
    assert.equal((await world.cli(["apply"])).code, 0);
    assert.equal(await launch(world.root), "MS11 1.1.0");
  },
});

Deno.test({
  name: "a client updates a tar.gz build with the folder delta release made, end to end",
  ignore,
  async fn() {
    await using world = await makeWorld();
    await publishCli(world, "1.0.0", await folderBuild(world.dir, "1.0.0"));
    const install = await world.cli(["install"]);
    assert.equal(install.code, 0, install.stderr);
    await publishCli(world, "1.1.0", await folderBuild(world.dir, "1.1.0"));
    const [delta] = (await manifestOf(world.tree)).artifacts[PLATFORM].deltas;
    assert.equal(delta.kind, "folder");
    const update = await world.cli(["--json"]);
    assert.equal(update.code, 0, update.stderr);
    const s = await state(world);
    assert.equal(s.last_download.method, "delta");
    assert.equal(s.last_download.bytes, delta.size);
    assert.equal(s.builds["1.1.0"].tree_sha256, delta.seal);
    assert.equal((await world.cli(["apply"])).code, 0);
    assert.equal(await launch(world.root), "MS11 1.1.0");
    assert.equal(
      await Deno.readTextFile(`${world.root}/current/lib/current`),
      `1.1.0\n${textOf("version")}`,
    );
  },
});

Deno.test({
  name: "a delta not under --delta-max-ratio is not listed, and release says so in one line",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    // Two builds with nothing in common: a delta would be about as big as the build.
    const random = (seed: number) => {
      let x = seed;
      return Array.from(
        { length: 3000 },
        () => (x = (x * 1103515245 + 12345) % 2 ** 31).toString(36),
      )
        .join("\n");
    };
    await Deno.writeTextFile(`${dir.path}/a`, appScript("1.0.0", random(1)));
    await Deno.writeTextFile(`${dir.path}/b`, appScript("1.1.0", random(2)));
    assert.equal(
      (await release(tree, key, { version: "1.0.0", artifact: `${dir.path}/a` })).code,
      0,
    );
    const out = await release(tree, key, { version: "1.1.0", artifact: `${dir.path}/b` });
    assert.equal(out.code, 0, out.stderr);
    const skipped = out.stderr.split("\n").filter((l) => l.startsWith("Skipped"));
    assert.equal(skipped.length, 1, out.stderr);
    assert.match(
      skipped[0],
      /^Skipped the delta from 1\.0\.0 \(linux-x64\): [\d.]+ KiB would be \d+% of the full [\d.]+ KiB download, not under the --delta-max-ratio of 0\.5$/,
    );
    assert.equal((await manifestOf(tree)).artifacts[PLATFORM].deltas, undefined);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(`${tree}/stable/1.1.0`))).map((e) => e.name).sort(),
      [".release.json", "b"],
    );
    // A delta that pays at 0.5 is skipped under a stricter ratio.
    await Deno.writeTextFile(`${dir.path}/c`, build("1.2.0"));
    await Deno.writeTextFile(`${dir.path}/d`, build("1.3.0"));
    assert.equal(
      (await release(tree, key, { version: "1.2.0", artifact: `${dir.path}/c` })).code,
      0,
    );
    const strict = await release(tree, key, {
      version: "1.3.0",
      artifact: `${dir.path}/d`,
      extra: ["--deltas", "1", "--delta-max-ratio", "0.0001"],
    });
    assert.equal(strict.code, 0, strict.stderr);
    assert.match(
      strict.stderr,
      /^Skipped the delta from 1\.2\.0 \(linux-x64\): .* not under the --delta-max-ratio of 0\.0001$/m,
    );
    assert.equal((await manifestOf(tree)).artifacts[PLATFORM].deltas, undefined);
  },
});

Deno.test("without bsdiff, release publishes without deltas and warns; with --deltas it fails and writes nothing", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const key = await keyIn(dir.path);
  const env = { PATH: "/nonexistent" };
  await Deno.writeTextFile(`${dir.path}/a`, build("1.0.0"));
  await Deno.writeTextFile(`${dir.path}/b`, build("1.1.0"));
  assert.equal(
    (await release(tree, key, { version: "1.0.0", artifact: `${dir.path}/a`, env })).code,
    0,
  );
  const before = await Deno.readTextFile(`${tree}/stable/manifest.json`);
  const required = await release(tree, key, {
    version: "1.1.0",
    artifact: `${dir.path}/b`,
    extra: ["--deltas", "3"],
    env,
  });
  assert.equal(required.code, 1, required.stderr);
  assert.equal(
    required.stderr,
    "error: Cannot publish 1.1.0 on stable with deltas: the bsdiff and bzip2 programs are not installed (Debian and Ubuntu: apt-get install bsdiff bzip2)\n",
  );
  assert.equal(await Deno.readTextFile(`${tree}/stable/manifest.json`), before);
  await assert.rejects(Deno.stat(`${tree}/stable/1.1.0`), Deno.errors.NotFound);
  const defaulted = await release(tree, key, { version: "1.1.0", artifact: `${dir.path}/b`, env });
  assert.equal(defaulted.code, 0, defaulted.stderr);
  assert.match(
    defaulted.stderr,
    /^warning: Publishing 1\.1\.0 on stable without deltas: the bsdiff and bzip2 programs are not installed \(Debian and Ubuntu: apt-get install bsdiff bzip2\)$/m,
  );
  const manifest = await manifestOf(tree);
  assert.equal(manifest.version, "1.1.0");
  assert.equal(manifest.artifacts[PLATFORM].deltas, undefined);
});

Deno.test("bad --deltas and --delta-max-ratio exit 2 with one line and write nothing", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const key = await keyIn(dir.path);
  await Deno.writeTextFile(`${dir.path}/a`, build("1.0.0"));
  const cases: [string[], string][] = [
    [["--deltas", "-1"], 'Invalid --deltas "-1": expected a whole number from 0 to 32'],
    [["--deltas", "33"], 'Invalid --deltas "33": expected a whole number from 0 to 32'],
    [["--deltas", "two"], 'Invalid --deltas "two": expected a whole number from 0 to 32'],
    [
      ["--delta-max-ratio", "2"],
      'Invalid --delta-max-ratio "2": expected a share of the full download above 0 and at most 1, like 0.5',
    ],
    [
      ["--delta-max-ratio", "0"],
      'Invalid --delta-max-ratio "0": expected a share of the full download above 0 and at most 1, like 0.5',
    ],
  ];
  for (const [extra, line] of cases) {
    const out = await release(tree, key, { version: "1.0.0", artifact: `${dir.path}/a`, extra });
    assert.equal(out.code, 2, `${extra.join(" ")}: ${out.stderr}`);
    assert.equal(out.stderr, `error: ${line}\n`);
    assert.equal(out.stdout, "");
    await assert.rejects(Deno.stat(tree), Deno.errors.NotFound);
  }
});

Deno.test({
  name: "--no-deltas and --deltas 0 publish without deltas",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (
      const [version, extra] of [["1.0.0", []], ["1.1.0", ["--no-deltas"]], ["1.2.0", [
        "--deltas",
        "0",
      ]]] as const
    ) {
      await Deno.writeTextFile(`${dir.path}/ms11`, build(version));
      const out = await release(tree, key, {
        version,
        artifact: `${dir.path}/ms11`,
        extra: [...extra],
      });
      assert.equal(out.code, 0, out.stderr);
      assert.equal((await manifestOf(tree)).artifacts[PLATFORM].deltas, undefined);
      assert.doesNotMatch(out.stderr, /delta/i);
    }
  },
});

Deno.test({
  name: "republishing the same build keeps its deltas as they are; another build gets new ones",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (const version of ["1.0.0", "1.1.0"]) {
      await Deno.writeTextFile(`${dir.path}/ms11-${version}`, build(version));
      const artifact = `${dir.path}/ms11-${version}`;
      assert.equal((await release(tree, key, { version, artifact })).code, 0);
    }
    const file = `${tree}/stable/1.1.0/ms11-1.1.0.from-1.0.0.delta`;
    const first = (await manifestOf(tree)).artifacts[PLATFORM].deltas;
    const inode = (await Deno.stat(file)).ino;
    const again = await release(tree, key, {
      version: "1.1.0",
      artifact: `${dir.path}/ms11-1.1.0`,
      extra: ["--republish"],
    });
    assert.equal(again.code, 0, again.stderr);
    const manifest = await manifestOf(tree);
    assert.equal(manifest.serial, 3);
    assert.deepEqual(manifest.artifacts[PLATFORM].deltas, first);
    assert.equal((await Deno.stat(file)).ino, inode); // not made again
    await Deno.writeTextFile(`${dir.path}/ms11-1.1.0`, build("1.1.0") + "# rebuilt\n");
    const rebuilt = await release(tree, key, {
      version: "1.1.0",
      artifact: `${dir.path}/ms11-1.1.0`,
      extra: ["--republish"],
    });
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const [delta] = (await manifestOf(tree)).artifacts[PLATFORM].deltas;
    assert.notEqual(delta.sha256, first[0].sha256);
    assert.deepEqual(await hashFile(file), { size: delta.size, sha256: delta.sha256 });
  },
});

Deno.test({
  name: "a tar.gz build gets a folder delta from a zip build of the release before",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    const files = (version: string): ZipEntry[] => [
      { name: "ms11", data: appScript(version), mode: 0o100755 },
      { name: "lib/version.txt", data: `${version}\n${textOf("version")}`, mode: 0o100644 },
      ...Array.from({ length: 40 }, (_, i) => ({
        name: `lib/f${i}.txt`,
        data: textOf(`f${i}`),
        mode: 0o100644,
      })),
    ];
    const zip = await makeZip(`${dir.path}/ms11-1.0.0.zip`, files("1.0.0"));
    assert.equal((await release(tree, key, { version: "1.0.0", artifact: zip })).code, 0);
    const tgz = await folderBuild(dir.path, "1.1.0");
    const out = await release(tree, key, { version: "1.1.0", artifact: tgz });
    assert.equal(out.code, 0, out.stderr);
    const [delta] = (await manifestOf(tree)).artifacts[PLATFORM].deltas;
    assert.equal(delta.kind, "folder");
    assert.equal(delta.from, "1.0.0");
    const pub = `${dir.path}/keys/ms11-update.pub`;
    const verified = await runCli(["verify-release", tree, "--pubkey", pub]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /delta \S+ from 1\.0\.0 \(folder, .*\): rebuilds the artifact/);
  },
});
