// verify-release and publish's scan on a tree with deltas (docs/DELTA.md, "Publishing deltas"):
// each listed delta is shown, its size and SHA-256 checked, applied to its `from` build in the
// tree; a tampered, missing or mis-sealed delta is a problem; publish refuses to upload one.
import assert from "node:assert/strict";
import { scanTree } from "../lib/publish/_tree.ts";
import { readSigningKey, signDocument } from "../lib/publish/signing.ts";
import { runCli } from "./_e2e.ts";
import { tempDir } from "./_helpers.ts";
import { build, folderBuild, ignore, keyIn, PLATFORM, release } from "./_release_delta.ts";

Deno.test({
  name: "verify-release shows the deltas, rebuilds each, and catches a tampered or missing one",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
      await Deno.writeTextFile(`${dir.path}/ms11`, build(version));
      assert.equal((await release(tree, key, { version, artifact: `${dir.path}/ms11` })).code, 0);
    }
    const pub = `${dir.path}/keys/ms11-update.pub`;
    const ok = await runCli(["verify-release", tree, "--pubkey", pub]);
    assert.equal(ok.code, 0, ok.stderr);
    const lines = ok.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^ok {2}stable 1\.2\.0 serial 3 /);
    assert.match(
      lines[1],
      /^ {4}delta linux-x64 from 1\.1\.0 \(bsdiff, \d+ B\): rebuilds the artifact$/,
    );
    assert.match(
      lines[2],
      /^ {4}delta linux-x64 from 1\.0\.0 \(bsdiff, \d+ B\): rebuilds the artifact$/,
    );
    const json = JSON.parse(
      (await runCli(["verify-release", tree, "--pubkey", pub, "--json"])).stdout,
    );
    assert.deepEqual(
      json.channels[0].deltas.map((d: { from: string; rebuilt: boolean }) => [d.from, d.rebuilt]),
      [["1.1.0", true], ["1.0.0", true]],
    );
    // The build a delta is made from, gone from the tree: the delta is still checked, not rebuilt.
    await Deno.rename(`${tree}/stable/1.0.0`, `${dir.path}/1.0.0`);
    const partial = await runCli(["verify-release", tree, "--pubkey", pub]);
    assert.equal(partial.code, 0, partial.stderr);
    assert.match(
      partial.stdout,
      /delta linux-x64 from 1\.0\.0 \(bsdiff, \d+ B\): not rebuilt: 1\.0\.0's build is not in the tree/,
    );
    // Tampered: same size, other bytes.
    const file = `${tree}/stable/1.2.0/ms11.from-1.1.0.delta`;
    const bytes = await Deno.readFile(file);
    bytes[bytes.length - 1] ^= 0xff;
    await Deno.writeFile(file, bytes);
    const bad = await runCli(["verify-release", tree, "--pubkey", pub]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      new RegExp(
        `^warning: stable: Delta ${file} \\(linux-x64, from 1\\.1\\.0\\) has sha256 [0-9a-f]{64} and ${bytes.length} bytes; the manifest says [0-9a-f]{64} and ${bytes.length} bytes$`,
        "m",
      ),
    );
    assert.match(bad.stdout, /delta linux-x64 from 1\.1\.0 \(bsdiff, \d+ B\): BAD/);
    await Deno.remove(file);
    const missing = await runCli(["verify-release", tree, "--pubkey", pub]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(`Delta ${file} \\(linux-x64, from 1\\.1\\.0\\) is missing`),
    );
  },
});

Deno.test({
  name:
    "publish's scan uploads the deltas, not the record, and refuses a delta that is not the listed one",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (const version of ["1.0.0", "1.1.0"]) {
      await Deno.writeTextFile(`${dir.path}/ms11`, build(version));
      assert.equal((await release(tree, key, { version, artifact: `${dir.path}/ms11` })).code, 0);
    }
    const { files } = await scanTree(tree);
    assert.deepEqual(files.map((f) => f.key), [
      "stable/1.0.0/ms11",
      "stable/1.1.0/ms11",
      "stable/1.1.0/ms11.from-1.0.0.delta",
    ]);
    const file = `${tree}/stable/1.1.0/ms11.from-1.0.0.delta`;
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.subarray(1));
    await assert.rejects(scanTree(tree), {
      message: new RegExp(
        `^Delta ${file} \\(${PLATFORM}, from 1\\.0\\.0\\) has ${
          bytes.length - 1
        } bytes and sha256 [0-9a-f]{64}; the manifest says ${bytes.length} bytes and [0-9a-f]{64}$`,
      ),
    });
    await Deno.remove(file);
    await assert.rejects(scanTree(tree), {
      message:
        `Manifest ${tree}/stable/manifest.json names the delta stable/1.1.0/ms11.from-1.0.0.delta (${PLATFORM}, from 1.0.0), which is not in the tree`,
    });
  },
});

Deno.test({
  name: "verify-release refuses a folder delta whose signed seals are not the builds' in the tree",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const key = await keyIn(dir.path);
    for (const version of ["1.0.0", "1.1.0"]) {
      const artifact = await folderBuild(dir.path, version);
      assert.equal((await release(tree, key, { version, artifact })).code, 0);
    }
    const path = `${tree}/stable/manifest.json`;
    const good = await Deno.readTextFile(path);
    const goodSig = await Deno.readTextFile(`${path}.sig`);
    const signingKey = await readSigningKey(key);
    const pub = `${dir.path}/keys/ms11-update.pub`;
    const file = `${tree}/stable/1.1.0/ms11-1.1.0.tar.gz.from-1.0.0.delta`;
    const ok = await runCli(["verify-release", tree, "--pubkey", pub]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /delta \S+ from 1\.0\.0 \(folder, [\d.]+ (B|KiB)\): rebuilds the artifact/,
    );
    for (
      const [field, problem] of [
        ["seal", "declares the seal f{64}, but the artifact's build has [0-9a-f]{64}"],
        ["from_seal", "is made from the seal f{64}, but 1\\.0\\.0's build \\S+ has [0-9a-f]{64}"],
      ]
    ) {
      const manifest = JSON.parse(good);
      manifest.artifacts[PLATFORM].deltas[0][field] = "f".repeat(64);
      const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
      await Deno.writeFile(path, bytes);
      await Deno.writeTextFile(`${path}.sig`, await signDocument(bytes, [signingKey]));
      const bad = await runCli(["verify-release", tree, "--pubkey", pub]);
      assert.equal(bad.code, 1, field);
      assert.match(
        bad.stderr,
        new RegExp(
          `^warning: stable: Delta ${file} \\(${PLATFORM}, from 1\\.0\\.0\\) ${problem}$`,
          "m",
        ),
      );
    }
    await Deno.writeTextFile(path, good);
    await Deno.writeTextFile(`${path}.sig`, goodSig);
    assert.equal((await runCli(["verify-release", tree, "--pubkey", pub])).code, 0);
  },
});
