import assert from "node:assert/strict";
import { ConfigError } from "../lib/core/errors.ts";
import { parseManifest } from "../lib/trust/manifest.ts";
import { parseSignatures, verifyBytes } from "../lib/trust/keys.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { kindOfFile, publishRelease, verifyRelease } from "../lib/publish/release.ts";
import { bytesOf, namesIn, rejectsWith, sha256, type TempDir, tempDir } from "./_helpers.ts";
import { makeTarGz, makeZip } from "./_archives.ts";

const RELEASED = new Date("2026-11-20T10:00:00.000Z");

/** Write an artifact file under `<dir>/src/` and return its path. */
async function artifact(dir: TempDir, name: string, content: string): Promise<string> {
  await Deno.mkdir(`${dir.path}/src`, { recursive: true });
  const path = `${dir.path}/src/${name}`;
  await Deno.writeTextFile(path, content);
  return path;
}

/** A real archive under `<dir>/src/` holding an executable `ms11` (what clients accept). */
async function launchableArchive(dir: TempDir, name: string): Promise<string> {
  await Deno.mkdir(`${dir.path}/src`, { recursive: true });
  const path = `${dir.path}/src/${name}`;
  const main = "#!/bin/sh\necho MS11\n";
  return name.endsWith(".zip")
    ? await makeZip(path, [{ name: "ms11", data: main, mode: 0o100755 }])
    : await makeTarGz(path, [{ type: "file", name: "ms11", data: main, mode: 0o755 }]);
}

async function manifestDoc(tree: string, channel: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(`${tree}/${channel}/manifest.json`));
}

Deno.test("kindOfFile tells the artifact kind from the file name", () => {
  assert.equal(kindOfFile("ms11-1.1.0.tar.gz"), "tar.gz");
  assert.equal(kindOfFile("ms11-1.1.0.tgz"), "tar.gz");
  assert.equal(kindOfFile("MS11.TAR.GZ"), "tar.gz");
  assert.equal(kindOfFile("ms11-1.1.0.zip"), "zip");
  assert.equal(kindOfFile("MS11.ZIP"), "zip");
  assert.equal(kindOfFile("ms11"), "executable");
  assert.equal(kindOfFile("ms11.exe"), "executable");
  assert.equal(kindOfFile("ms11.tar"), "executable");
  assert.equal(kindOfFile("ms11.gz"), "executable");
  assert.equal(kindOfFile("zip"), "executable");
  assert.equal(kindOfFile("tar.gz.sig"), "executable");
});

Deno.test("publishRelease copies the artifact and writes the channel's manifest", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const content = "#!/bin/sh\necho 1.0.0\n";
  const source = await artifact(dir, "ms11", content);
  const result = await publishRelease(tree, {
    channel: "stable",
    version: "v1.0.0",
    platform: "linux-x64",
    artifact: source,
    releasedAt: new Date("2026-11-20T10:00:00.123Z"),
    notes: "First release",
  });
  assert.equal(result.manifestPath, `${tree}/stable/manifest.json`);
  assert.equal(result.artifactPath, `${tree}/stable/1.0.0/ms11`);
  assert.equal(await Deno.readTextFile(result.artifactPath), content);
  // The source is copied, not moved.
  assert.equal(await Deno.readTextFile(source), content);
  const written = await manifestDoc(tree, "stable");
  assert.deepEqual(written, {
    schema: 1,
    channel: "stable",
    version: "1.0.0",
    serial: 1,
    released_at: "2026-11-20T10:00:00Z",
    expires: "2026-12-20T10:00:00Z",
    notes: "First release",
    artifacts: {
      "linux-x64": { url: "1.0.0/ms11", size: 21, sha256: sha256(content), kind: "executable" },
    },
  });
  assert.equal(result.signaturePath, null);
  assert.ok((await Deno.readTextFile(result.manifestPath)).endsWith("}\n"));
  // The returned manifest is the parsed document.
  assert.equal(result.manifest.version, "1.0.0");
  assert.equal(result.manifest.channel, "stable");
  assert.equal(result.manifest.notes, "First release");
  assert.equal(result.manifest.released_at, "2026-11-20T10:00:00Z");
  assert.equal(result.manifest.artifacts["linux-x64"].size, 21);
  assert.equal(result.manifest.artifacts["linux-x64"].sha256, sha256(content));
  assert.match(result.manifest.artifacts["linux-x64"].url, /\/1\.0\.0\/ms11$/);
  // Served from anywhere, the relative URL resolves next to the manifest.
  const served = parseManifest(await Deno.readTextFile(result.manifestPath), {
    url: "https://updates.ms11.com/stable/manifest.json",
    channel: "stable",
  });
  assert.equal(served.artifacts["linux-x64"].url, "https://updates.ms11.com/stable/1.0.0/ms11");
  // Only the release files, no temporary ones.
  assert.deepEqual(await namesIn(tree), ["stable"]);
  assert.deepEqual(await namesIn(`${tree}/stable`), ["1.0.0", "manifest.json"]);
  // The publisher's record of the release (not uploaded: lib/publish/_release_sources.ts).
  assert.deepEqual(await namesIn(`${tree}/stable/1.0.0`), [".release.json", "ms11"]);
});

Deno.test("publishRelease detects the kind from the name unless given", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const tgz = await launchableArchive(dir, "ms11-1.0.0.tar.gz");
  const { manifest } = await publishRelease(tree, {
    channel: "canary",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: tgz,
    releasedAt: RELEASED,
  });
  assert.equal(manifest.artifacts["linux-x64"].kind, "tar.gz");
  assert.equal(manifest.artifacts["linux-x64"].expanded_size, 20); // what extracting it holds
  const bundle = await launchableArchive(dir, "bundle.zip");
  await Deno.rename(bundle, `${dir.path}/src/bundle`);
  const second = await publishRelease(tree, {
    channel: "canary",
    version: "1.0.0",
    republish: true,
    platform: "darwin-arm64",
    artifact: `${dir.path}/src/bundle`,
    kind: "zip",
    releasedAt: RELEASED,
  });
  assert.equal(second.manifest.artifacts["darwin-arm64"].kind, "zip");
  assert.equal(second.manifest.artifacts["darwin-arm64"].expanded_size, 20);
  assert.equal(second.manifest.notes, null);
});

Deno.test("publishRelease of the same version adds a platform and keeps the others", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const linux = await artifact(dir, "ms11", "linux build");
  const mac = await launchableArchive(dir, "ms11-mac.zip");
  const macBytes = (await Deno.readFile(mac)).length;
  await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: "linux-x64",
    artifact: linux,
    releasedAt: RELEASED,
    notes: "Notes of 1.1.0",
  });
  const { manifest } = await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    republish: true,
    platform: "darwin-arm64",
    artifact: mac,
    releasedAt: new Date("2026-11-21T00:00:00Z"),
  });
  assert.deepEqual(Object.keys(manifest.artifacts).sort(), ["darwin-arm64", "linux-x64"]);
  // Notes carry over when not given again.
  assert.equal(manifest.notes, "Notes of 1.1.0");
  const written = await manifestDoc(tree, "stable");
  assert.deepEqual(written.artifacts, {
    "linux-x64": {
      url: "1.1.0/ms11",
      size: 11,
      sha256: sha256("linux build"),
      kind: "executable",
    },
    "darwin-arm64": {
      url: "1.1.0/ms11-mac.zip",
      size: macBytes,
      sha256: sha256(await Deno.readFile(mac)),
      kind: "zip",
      expanded_size: 20,
    },
  });
  assert.deepEqual(await namesIn(`${tree}/stable/1.1.0`), [
    ".release.json",
    "ms11",
    "ms11-mac.zip",
  ]);
});

Deno.test("publishRelease of the same version and platform replaces that build", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const first = await artifact(dir, "ms11", "first");
  await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: "linux-x64",
    artifact: first,
    releasedAt: RELEASED,
  });
  await Deno.writeTextFile(first, "second!");
  const { manifest } = await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    republish: true,
    platform: "linux-x64",
    artifact: first,
    releasedAt: RELEASED,
  });
  assert.equal(manifest.artifacts["linux-x64"].sha256, sha256("second!"));
  assert.equal(manifest.artifacts["linux-x64"].size, 7);
  assert.equal(await Deno.readTextFile(`${tree}/stable/1.1.0/ms11`), "second!");
});

Deno.test("publishRelease refuses the current version again unless republishing", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const build = await artifact(dir, "ms11", "build");
  const options = { channel: "stable", version: "1.0.0", platform: "linux-x64", artifact: build };
  await publishRelease(tree, options);
  const before = await Deno.readTextFile(`${tree}/stable/manifest.json`);
  await rejectsWith(
    publishRelease(tree, { ...options, platform: "darwin-arm64" }),
    RangeError,
    "Cannot publish 1.0.0 on stable: it is already the channel's current version (republish it to add a platform or refresh its expiry)",
  );
  assert.equal(await Deno.readTextFile(`${tree}/stable/manifest.json`), before);
  const again = await publishRelease(tree, {
    ...options,
    platform: "darwin-arm64",
    republish: true,
  });
  assert.deepEqual(Object.keys(again.manifest.artifacts).sort(), ["darwin-arm64", "linux-x64"]);
});

Deno.test("publishRelease of a higher version replaces the release", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const build = await artifact(dir, "ms11", "build");
  await publishRelease(tree, {
    channel: "stable",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: build,
    releasedAt: RELEASED,
    notes: "old notes",
  });
  await publishRelease(tree, {
    channel: "stable",
    version: "1.0.0",
    republish: true,
    platform: "darwin-arm64",
    artifact: build,
    releasedAt: RELEASED,
  });
  const { manifest } = await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0-rc.1",
    platform: "linux-x64",
    artifact: build,
    releasedAt: RELEASED,
  });
  assert.equal(manifest.version, "1.1.0-rc.1");
  assert.deepEqual(Object.keys(manifest.artifacts), ["linux-x64"]);
  assert.equal(manifest.notes, null);
  // Older version directories stay (clients mid-download still need them).
  assert.deepEqual(await namesIn(`${tree}/stable`), ["1.0.0", "1.1.0-rc.1", "manifest.json"]);
});

Deno.test("publishRelease refuses a lower version and writes nothing", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const build = await artifact(dir, "ms11", "build");
  await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: "linux-x64",
    artifact: build,
    releasedAt: RELEASED,
  });
  const before = await bytesOf(`${tree}/stable/manifest.json`);
  for (const version of ["1.0.0", "1.1.0-rc.1", "0.1.0"]) {
    await rejectsWith(
      publishRelease(tree, {
        channel: "stable",
        version,
        platform: "linux-x64",
        artifact: build,
        releasedAt: RELEASED,
      }),
      RangeError,
      `Cannot publish ${version} on stable: the channel already has 1.1.0`,
    );
  }
  assert.deepEqual(await bytesOf(`${tree}/stable/manifest.json`), before);
  assert.deepEqual(await namesIn(`${tree}/stable`), ["1.1.0", "manifest.json"]);
});

Deno.test("publishRelease keeps channels apart", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const build = await artifact(dir, "ms11", "build");
  await publishRelease(tree, {
    channel: "canary",
    version: "2.0.0-canary.1",
    platform: "linux-x64",
    artifact: build,
    releasedAt: RELEASED,
  });
  // A lower version on another channel is fine.
  const { manifest } = await publishRelease(tree, {
    channel: "stable",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: build,
    releasedAt: RELEASED,
  });
  assert.equal(manifest.channel, "stable");
  assert.equal((await manifestDoc(tree, "canary")).version, "2.0.0-canary.1");
});

Deno.test("publishRelease refuses an invalid version or a missing artifact and writes nothing", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const build = await artifact(dir, "ms11", "build");
  await rejectsWith(
    publishRelease(tree, {
      channel: "stable",
      version: "1.0",
      platform: "linux-x64",
      artifact: build,
    }),
    ConfigError,
    'Invalid version "1.0": expected a semver version',
  );
  await rejectsWith(
    publishRelease(tree, {
      channel: "stable",
      version: "1.0.0",
      platform: "linux-x64",
      artifact: `${dir.path}/src/missing`,
    }),
    Deno.errors.NotFound,
    /No such file or directory/,
  );
  assert.deepEqual(await namesIn(tree), []);
});

Deno.test("publishRelease refuses an existing manifest of another channel", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const build = await artifact(dir, "ms11", "build");
  await publishRelease(tree, {
    channel: "canary",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: build,
    releasedAt: RELEASED,
  });
  await Deno.mkdir(`${tree}/stable`);
  await Deno.copyFile(`${tree}/canary/manifest.json`, `${tree}/stable/manifest.json`);
  await rejectsWith(
    publishRelease(tree, {
      channel: "stable",
      version: "1.1.0",
      platform: "linux-x64",
      artifact: build,
    }),
    TypeError,
    /^Manifest .+ is for channel "canary", not the requested "stable"$/,
  );
});

Deno.test({
  name: "publishRelease validates channel and platform before writing anything",
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    await Deno.mkdir(tree);
    const build = await artifact(dir, "ms11", "build");
    await rejectsWith(
      publishRelease(tree, {
        channel: "stable",
        version: "1.0.0",
        platform: "Linux-x64",
        artifact: build,
      }),
      ConfigError,
      'Invalid platform "Linux-x64": expected a key like linux-x64',
    );
    assert.deepEqual(await namesIn(tree), []);
    await rejectsWith(
      publishRelease(tree, {
        channel: "../escape",
        version: "1.0.0",
        platform: "linux-x64",
        artifact: build,
      }),
      ConfigError,
      'Invalid channel "../escape": expected a channel name like stable or canary (a-z, 0-9, -, _)',
    );
    assert.deepEqual(await namesIn(dir.path), ["src", "tree"]);
  },
});

Deno.test({
  name: "publishRelease escapes the artifact file name in its URL",
  async fn() {
    await using dir = await tempDir();
    const tree = `${dir.path}/tree`;
    const build = await artifact(dir, "ms11#2", "build");
    const result = await publishRelease(tree, {
      channel: "stable",
      version: "1.0.0",
      platform: "linux-x64",
      artifact: build,
      releasedAt: RELEASED,
    });
    assert.equal(result.artifactPath, `${tree}/stable/1.0.0/ms11#2`);
    const served = parseManifest(await Deno.readTextFile(result.manifestPath), {
      url: "https://updates.ms11.com/stable/manifest.json",
    });
    assert.equal(
      served.artifacts["linux-x64"].url,
      "https://updates.ms11.com/stable/1.0.0/ms11%232",
    );
  },
});

// --- signing and verify-release ----------------------------------------------------------------

async function signingKey(dir: TempDir, name = "pub") {
  const written = await writeKeyPair(`${dir.path}/keys`, { name });
  return { key: await readSigningKey(written.privatePath), publicKey: written.publicKey };
}

Deno.test("publishRelease signs the exact manifest bytes, numbers serials and sets the expiry", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const { key, publicKey } = await signingKey(dir);
  const first = await publishRelease(tree, {
    channel: "stable",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: await artifact(dir, "ms11", "one"),
    releasedAt: RELEASED,
    expires: new Date("2026-11-21T10:00:00Z"),
    keys: [key],
  });
  assert.equal(first.signaturePath, `${tree}/stable/manifest.json.sig`);
  assert.equal(first.manifest.serial, 1);
  assert.equal(first.manifest.expires, "2026-11-21T10:00:00Z");
  const bytes = await Deno.readFile(first.manifestPath);
  const [entry] = parseSignatures(await Deno.readFile(first.signaturePath!), "sig");
  assert.equal(entry.keyid, key.keyid);
  assert.equal(await verifyBytes(publicKey, bytes, entry.sig), true);
  const second = await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: "linux-x64",
    artifact: await artifact(dir, "ms11", "two"),
    releasedAt: RELEASED,
    keys: [key],
  });
  assert.equal(second.manifest.serial, 2);
  assert.equal(second.manifest.expires, "2026-12-20T10:00:00Z");
  // Republishing unsigned removes the stale signature rather than leaving a mismatched one.
  const third = await publishRelease(tree, {
    channel: "stable",
    version: "1.2.0",
    platform: "linux-x64",
    artifact: await artifact(dir, "ms11", "three"),
    releasedAt: RELEASED,
  });
  assert.equal(third.signaturePath, null);
  assert.equal(third.manifest.serial, 3);
  // The addressed signature files of the signed manifests stay: each names what it signs.
  assert.deepEqual(await namesIn(`${tree}/stable`), [
    "1.0.0",
    "1.1.0",
    "1.2.0",
    "manifest.json",
    "signatures",
  ]);
});

Deno.test("publishRelease refuses an expiry not after the release and writes nothing", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  await rejectsWith(
    publishRelease(tree, {
      channel: "stable",
      version: "1.0.0",
      platform: "linux-x64",
      artifact: await artifact(dir, "ms11", "one"),
      releasedAt: RELEASED,
      expires: RELEASED,
    }),
    RangeError,
    "Cannot publish 1.0.0 on stable: it would expire at 2026-11-20T10:00:00Z, not after its release at 2026-11-20T10:00:00Z",
  );
  assert.equal(await Deno.lstat(`${tree}/stable/manifest.json`).catch(() => null), null);
});

Deno.test("verifyRelease passes a good tree and names every problem of a bad one", async () => {
  await using dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const { key, publicKey } = await signingKey(dir);
  const other = await signingKey(dir, "other");
  const keys = { threshold: 1, keys: [publicKey] };
  await publishRelease(tree, {
    channel: "stable",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: await artifact(dir, "ms11", "one"),
    releasedAt: RELEASED,
    keys: [key],
  });
  const now = new Date("2026-11-21T00:00:00Z");
  assert.deepEqual(await verifyRelease(tree, { keys, now }), [{
    channel: "stable",
    version: "1.0.0",
    serial: 1,
    expires: "2026-12-20T10:00:00Z",
    problems: [],
    rollout: {
      version: "1.0.0",
      share_basis_points: 10000,
      staged: false,
      ramp: null,
      paused: false,
      paused_at: null,
      previous: null,
      yanked: [],
      minimum_version: null,
    },
    deltas: [],
  }]);
  // Signed by a key the clients do not pin; an artifact altered; canary unsigned.
  await publishRelease(tree, {
    channel: "canary",
    version: "2.0.0",
    platform: "linux-x64",
    artifact: await artifact(dir, "ms11", "canary"),
    releasedAt: RELEASED,
  });
  await Deno.writeTextFile(`${tree}/stable/1.0.0/ms11`, "ONE");
  const bad = await verifyRelease(tree, { keys, now });
  assert.deepEqual(bad.map((c) => c.problems), [
    [`Manifest ${tree}/canary/manifest.json has no signature file ${tree}/canary/manifest.json.sig`],
    [
      `Artifact ${tree}/stable/1.0.0/ms11 (linux-x64) has 3 bytes and sha256 ${
        sha256("ONE")
      }; the manifest says 3 bytes and ${sha256("one")}`,
    ],
  ]);
  const late = await verifyRelease(tree, {
    keys: { threshold: 1, keys: [other.publicKey] },
    now: new Date("2027-01-01T00:00:00Z"),
  });
  assert.deepEqual(
    late[1].problems[0],
    `Manifest ${tree}/stable/manifest.json has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${key.keyid})`,
  );
});
