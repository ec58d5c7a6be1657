// Delta updates through the real CLI (docs/DELTA.md, "The client"): a published tree whose signed
// manifest offers a delta from 1.0.0 to 1.1.0 (made here with lib/delta, so that each test controls
// it; tests/release_delta_test.ts updates from deltas `release` made), the delta served by a small counting server so that each test says how many times
// it was asked for: an executable and a folder build rebuilt from their deltas, a delta that
// fails to download or to rebuild, --no-delta and `check`. The other fallbacks are in
// tests/delta_fallback_test.ts; tests/delta_update_test.ts drives runUpdate directly.
import assert from "node:assert/strict";
import { extractArchive } from "../lib/archive/extract.ts";
import { makeFolderDelta } from "../lib/delta/make_folder.ts";
import { launch, makeWorld, type World } from "./_e2e.ts";
import { describeTree, writeTree } from "./_delta.ts";
import {
  audited,
  deltaServer,
  entryFor,
  installed,
  offerDeltas,
  sha256Of,
  stagedIsTheRelease,
  state,
} from "./_delta_cli.ts";

const STATE_FIELDS = ["method", "from", "bytes", "full_bytes", "saved_bytes", "delta_failed"];

/** The facts of a delta update: state's and `status --json`'s last_download, the audit log. */
async function cameByDelta(world: World, facts: { delta: number; full: number }): Promise<void> {
  const want = ["delta", "1.0.0", facts.delta, facts.full, facts.full - facts.delta, null];
  const s = await state(world);
  assert.deepEqual(STATE_FIELDS.map((k) => s.last_download[k]), want);
  assert.equal(s.last_download.version, "1.1.0");
  assert.equal(s.bad_deltas, undefined);
  const status = await world.cli(["status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  const shown = JSON.parse(status.stdout).last_download;
  assert.deepEqual(STATE_FIELDS.map((k) => shown[k]), want);
  const staged = (await audited(world, "staged")).find((e) => e.version === "1.1.0");
  assert.deepEqual(
    [staged?.method, staged?.delta_from, staged?.bytes_downloaded, staged?.bytes_saved],
    ["delta", "1.0.0", facts.delta, facts.full - facts.delta],
  );
  assert.deepEqual(await audited(world, "delta_failed"), []);
  // Nothing is left in downloads/: the delta and the rebuilt artifact are gone.
  await Deno.stat(`${world.root}/downloads`).then(async () => {
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${world.root}/downloads`)), []);
  }, () => {});
}

Deno.test("an executable is updated by its delta: rebuilt, verified to the release's SHA-256, staged", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  await offerDeltas(world, [await entryFor(server.url, published.delta, published)]);
  const run = await world.cli(["--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(server.requests, 1);
  await cameByDelta(world, { delta: published.delta.length, full: published.size });
  await stagedIsTheRelease(world, published);
});

/** Text that does not compress (so that the archive is not smaller than the delta). */
function noise(length: number): string {
  let x = 12345;
  let out = "";
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += String.fromCharCode(33 + (x >> 16) % 90);
  }
  return out;
}
const BIG = noise(60_000);

/** The builds of the folder round trip: files, an empty one, modes, a symlink, a rename. */
const FOLDER_BUILDS: Record<string, Parameters<typeof writeTree>[1]> = {
  "1.0.0": {
    "ms11": {
      mode: 0o755,
      text: '#!/bin/sh\necho "MS11 1.0.0 $(cat "$(dirname "$0")/lib/data.txt")"\n',
    },
    "lib/data.txt": "data one",
    "lib/big.txt": BIG,
    "lib/tool.sh": { mode: 0o755, text: "#!/bin/sh\necho tool\n" },
    "lib/old-name.txt": "a file that is renamed\n".repeat(50),
    "lib/gone.txt": "a file that is removed",
    "lib/empty": "",
    "lib/link": { link: "data.txt" },
  },
  "1.1.0": {
    "ms11": {
      mode: 0o755,
      text: '#!/bin/sh\necho "MS11 1.1.0 $(cat "$(dirname "$0")/lib/data.txt")"\n',
    },
    "lib/data.txt": "data two",
    "lib/big.txt": BIG + "one more\n",
    "lib/tool.sh": { mode: 0o644, text: "#!/bin/sh\necho tool\n" },
    "lib/new-name.txt": "a file that is renamed\n".repeat(50),
    "lib/new.txt": "a new file",
    "lib/empty": "",
    "lib/link": { link: "big.txt" },
  },
};

Deno.test("a folder build (tar.gz) is updated by its delta: files, modes and links as the release's, then applied", async () => {
  await using world = await makeWorld();
  const archives: Record<string, string> = {};
  for (const [version, files] of Object.entries(FOLDER_BUILDS)) {
    await writeTree(`${world.dir}/src-${version}`, files);
    archives[version] = `${world.dir}/ms11-${version}.tar.gz`;
    const tar = await new Deno.Command("tar", {
      args: ["-czf", archives[version], "-C", `${world.dir}/src-${version}`, "."],
    }).output();
    assert.ok(tar.success);
  }
  await world.publish("stable", "1.0.0", { artifact: archives["1.0.0"] });
  assert.equal((await world.cli(["install"])).code, 0);
  assert.equal(await launch(world.root), "MS11 1.0.0 data one");
  await world.publish("stable", "1.1.0", { artifact: archives["1.1.0"] });
  // The new build as extraction makes it (the modes the client's seal covers), and its delta
  // from the client's own 1.0.0 build.
  const extracted = `${world.dir}/extracted-1.1.0`;
  await extractArchive(archives["1.1.0"], extracted, { kind: "tar.gz" });
  const full = (await Deno.stat(archives["1.1.0"])).size;
  const made = await makeFolderDelta(`${world.root}/builds/1.0.0`, extracted, {
    out: `${world.dir}/folder.delta`,
    fullSize: full,
  });
  assert.ok(made.written, `delta not worth it: ratio ${made.ratio}`);
  assert.equal(made.from.seal, (await state(world)).builds["1.0.0"].tree_sha256);
  const bytes = await Deno.readFile(`${world.dir}/folder.delta`);
  await using server = deltaServer(bytes);
  await offerDeltas(world, [{
    from: "1.0.0",
    kind: "folder",
    url: server.url,
    size: bytes.length,
    sha256: await sha256Of(bytes),
    from_seal: made.from.seal,
    seal: made.to.seal,
  }]);
  const run = await world.cli([]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(server.requests, 1);
  await cameByDelta(world, { delta: bytes.length, full });
  const s = await state(world);
  assert.equal(s.builds["1.1.0"].tree_sha256, made.to.seal);
  const tree = await describeTree(`${world.root}/builds/1.1.0`);
  assert.deepEqual(tree, await describeTree(extracted));
  assert.ok(tree.some((l) => l.startsWith("lib/tool.sh f 644 ")), tree.join("\n"));
  assert.ok(tree.includes("lib/link l big.txt"));
  assert.ok(!tree.some((l) => l.startsWith("lib/gone.txt") || l.startsWith("lib/old-name.txt")));
  const apply = await world.cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.equal(await launch(world.root), "MS11 1.1.0 data two");
});

// Both switches that turn deltas off: the delta is never asked for, nothing is recorded bad.
const OFF_SWITCHES: { name: string; args: string[]; config?: Record<string, unknown> }[] = [
  { name: "--no-delta", args: ["--no-delta"] },
  { name: "config delta_updates: false", args: [], config: { delta_updates: false } },
];

for (const off of OFF_SWITCHES) {
  Deno.test(`${off.name} downloads the full build, and the delta is not asked for`, async () => {
    await using world = await makeWorld();
    const published = await installed(world);
    await using server = deltaServer(published.delta);
    await offerDeltas(world, [await entryFor(server.url, published.delta, published)]);
    if (off.config) await world.writeConfig(off.config);
    const check = await world.cli(["check", "--json", ...off.args]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(JSON.parse(check.stdout).download.method, "full");
    const run = await world.cli(off.args);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.requests, 0);
    const s = await state(world);
    assert.deepEqual([s.last_download.method, s.last_download.delta_failed], ["full", null]);
    assert.equal(s.bad_deltas, undefined);
    await stagedIsTheRelease(world, published);
  });
}

Deno.test("check --json says the update would come by delta and the bytes saved", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  await offerDeltas(world, [await entryFor(server.url, published.delta, published)]);
  const check = await world.cli(["check", "--json"]);
  assert.equal(check.code, 0, check.stderr);
  const { download } = JSON.parse(check.stdout);
  assert.deepEqual(
    [download.method, download.from, download.bytes, download.saved_bytes],
    ["delta", "1.0.0", published.delta.length, published.size - published.delta.length],
  );
  assert.equal(server.requests, 0);
  assert.equal((await state(world)).staged, null);
});
