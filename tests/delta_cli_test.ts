// Delta updates through the real CLI (docs/DELTA.md, "The client"): a published tree whose signed
// manifest offers a binary delta from 1.0.0 to 1.1.0 (made here with lib/delta/make.ts: `release`
// does not make deltas yet), the delta served by a small counting server so that each test says
// how many times it was asked for. tests/delta_update_test.ts drives runUpdate directly.
import assert from "node:assert/strict";
import { makeDelta } from "../lib/delta/make.ts";
import { hashFile } from "../lib/core/hash.ts";
import { signDocument } from "../lib/publish/signing.ts";
import { readAudit } from "../lib/root/audit.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { appScript, launch, linuxPlatform, makeWorld, type World } from "./_e2e.ts";

/** A build big enough for a delta to be worth it: the version, then the same filler. */
function build(version: string): string {
  return appScript(version, "# filler line of the build, the same in every version\n".repeat(4000));
}

/** Serves one body (or 404) at any path and counts the requests. */
function deltaServer(body: Uint8Array | null) {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    return body === null
      ? new Response("not found", { status: 404 })
      : new Response(body as BodyInit, { headers: { "content-length": `${body.length}` } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/stable/1.1.0/ms11.from-1.0.0.delta`,
    get requests() {
      return requests;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

interface Published {
  /** The delta file the publisher made. */
  delta: Uint8Array;
  /** SHA-256 of the 1.1.0 executable. */
  sha256: string;
  /** Its size. */
  size: number;
}

/** 1.0.0 installed and launched; 1.1.0 published; the delta made (not yet in the manifest). */
async function installed(world: World): Promise<Published> {
  await Deno.writeTextFile(`${world.dir}/ms11-1.0.0`, build("1.0.0"));
  await world.publish("stable", "1.0.0", { artifact: `${world.dir}/ms11-1.0.0` });
  const install = await world.cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  await Deno.writeTextFile(`${world.dir}/ms11-1.1.0`, build("1.1.0"));
  await world.publish("stable", "1.1.0", { artifact: `${world.dir}/ms11-1.1.0` });
  const made = await makeDelta(`${world.dir}/ms11-1.0.0`, `${world.dir}/ms11-1.1.0`, {
    out: `${world.dir}/delta`,
  });
  assert.ok(made.written, `delta not worth it: ratio ${made.ratio}`);
  const full = await hashFile(`${world.dir}/ms11-1.1.0`);
  return { delta: await Deno.readFile(`${world.dir}/delta`), ...full };
}

/** Add a delta entry to the channel's manifest and sign it again (the same serial). */
async function offerDelta(
  world: World,
  entry: { url: string; size: number; sha256: string; from_sha256: string },
): Promise<void> {
  const path = `${world.tree}/stable/manifest.json`;
  const manifest = JSON.parse(await Deno.readTextFile(path));
  manifest.artifacts[linuxPlatform()].deltas = [{ from: "1.0.0", kind: "bsdiff", ...entry }];
  const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
  await Deno.writeFile(path, bytes);
  await Deno.writeTextFile(`${path}.sig`, await signDocument(bytes, [world.key]));
}

async function sha256Of(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function state(world: World) {
  return JSON.parse(await Deno.readTextFile(`${world.root}/state.json`));
}

/** The staged build is the published 1.1.0, byte for byte, and launches. */
async function stagedIsTheRelease(world: World, published: Published): Promise<void> {
  const s = await state(world);
  assert.equal(s.staged.version, "1.1.0");
  assert.equal(s.builds["1.1.0"].sha256, published.sha256);
  const file = await hashFile(`${world.root}/builds/1.1.0/ms11`);
  assert.deepEqual(file, { sha256: published.sha256, size: published.size });
  assert.equal((await world.cli(["apply"])).code, 0);
  assert.equal(await launch(world.root), "MS11 1.1.0");
}

Deno.test("an executable is updated by its delta: rebuilt, verified to the release's SHA-256, staged", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  await offerDelta(world, {
    url: server.url,
    size: published.delta.length,
    sha256: await sha256Of(published.delta),
    from_sha256: (await hashFile(`${world.dir}/ms11-1.0.0`)).sha256,
  });
  const run = await world.cli(["--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(server.requests, 1);
  const s = await state(world);
  assert.deepEqual(s.last_download, {
    ...s.last_download,
    version: "1.1.0",
    method: "delta",
    from: "1.0.0",
    bytes: published.delta.length,
    full_bytes: published.size,
    saved_bytes: published.size - published.delta.length,
    delta_failed: null,
  });
  assert.equal((s.bad_deltas ?? []).length, 0);
  const staged = (await readAudit(layoutOf(world.root))).find((e) =>
    e.event === "staged" && e.version === "1.1.0"
  );
  assert.equal(staged?.method, "delta");
  assert.equal(staged?.bytes_saved, published.size - published.delta.length);
  await Deno.stat(`${world.root}/downloads`).then(async () => {
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${world.root}/downloads`)), []);
  }, () => {});
  await stagedIsTheRelease(world, published);
});

/** The update fell back to one full download: the build is the release's, the delta is bad. */
async function fellBack(
  world: World,
  published: Published,
  run: { code: number; stderr: string },
  reason: RegExp,
): Promise<void> {
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /The delta from 1\.0\.0 to 1\.1\.0 failed \(.*\); downloading the full build/,
  );
  const s = await state(world);
  assert.equal(s.last_download.method, "full");
  assert.equal(s.last_download.from, null);
  assert.equal(s.last_download.full_bytes, published.size);
  assert.match(s.last_download.delta_failed, reason);
  assert.equal(s.bad_deltas.length, 1);
  assert.deepEqual(
    [s.bad_deltas[0].version, s.bad_deltas[0].from],
    ["1.1.0", "1.0.0"],
  );
  assert.match(s.bad_deltas[0].reason, reason);
  const audit = await readAudit(layoutOf(world.root));
  const failed = audit.filter((e) => e.event === "delta_failed");
  assert.equal(failed.length, 1);
  assert.deepEqual([failed[0].version, failed[0].from], ["1.1.0", "1.0.0"]);
  const staged = audit.find((e) => e.event === "staged" && e.version === "1.1.0");
  assert.equal(staged?.method, "full");
  await stagedIsTheRelease(world, published);
}

Deno.test("a corrupted delta (bytes changed in transit) is asked for once, then the full build is installed", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  const corrupted = published.delta.slice();
  corrupted[corrupted.length >> 1] ^= 0xff;
  await using server = deltaServer(corrupted);
  await offerDelta(world, {
    url: server.url,
    size: published.delta.length,
    sha256: await sha256Of(published.delta),
    from_sha256: (await hashFile(`${world.dir}/ms11-1.0.0`)).sha256,
  });
  const run = await world.cli([]);
  assert.equal(server.requests, 1);
  await fellBack(
    world,
    published,
    run,
    /^Checksum mismatch for .*\.delta\.partial: expected sha256 /,
  );
});

Deno.test("a signed delta that does not rebuild the release is asked for once, then the full build is installed", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  // The publisher's bytes, as signed, but broken: the download verifies, the rebuild fails.
  const broken = published.delta.slice();
  broken[broken.length - 1] ^= 0xff;
  await using server = deltaServer(broken);
  await offerDelta(world, {
    url: server.url,
    size: broken.length,
    sha256: await sha256Of(broken),
    from_sha256: (await hashFile(`${world.dir}/ms11-1.0.0`)).sha256,
  });
  const run = await world.cli([]);
  assert.equal(server.requests, 1);
  await fellBack(world, published, run, /^Delta .*: block \d+ is not valid zstd data/);
});

Deno.test("a delta URL answering 404 is asked for once, then the full build is installed", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(null);
  await offerDelta(world, {
    url: server.url,
    size: published.delta.length,
    sha256: await sha256Of(published.delta),
    from_sha256: (await hashFile(`${world.dir}/ms11-1.0.0`)).sha256,
  });
  const run = await world.cli([]);
  assert.equal(server.requests, 1);
  await fellBack(world, published, run, /^Download of http:.*\.delta failed: HTTP 404 Not Found$/);
});

Deno.test("--no-delta downloads the full build, and the delta is not asked for", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  await offerDelta(world, {
    url: server.url,
    size: published.delta.length,
    sha256: await sha256Of(published.delta),
    from_sha256: (await hashFile(`${world.dir}/ms11-1.0.0`)).sha256,
  });
  const run = await world.cli(["--no-delta"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(server.requests, 0);
  const s = await state(world);
  assert.equal(s.last_download.method, "full");
  assert.equal(s.last_download.delta_failed, null);
  assert.equal((s.bad_deltas ?? []).length, 0);
  await stagedIsTheRelease(world, published);
});

Deno.test("check --json says the update would come by delta and the bytes saved; with --no-delta, in full", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  await offerDelta(world, {
    url: server.url,
    size: published.delta.length,
    sha256: await sha256Of(published.delta),
    from_sha256: (await hashFile(`${world.dir}/ms11-1.0.0`)).sha256,
  });
  const check = await world.cli(["check", "--json"]);
  assert.equal(check.code, 0, check.stderr);
  const { download } = JSON.parse(check.stdout);
  assert.deepEqual(
    [download.method, download.from, download.bytes, download.saved_bytes],
    ["delta", "1.0.0", published.delta.length, published.size - published.delta.length],
  );
  const full = await world.cli(["check", "--json", "--no-delta"]);
  assert.equal(full.code, 0, full.stderr);
  const other = JSON.parse(full.stdout).download;
  assert.deepEqual([other.method, other.bytes, other.saved_bytes], ["full", published.size, 0]);
  assert.equal(server.requests, 0);
  assert.equal((await state(world)).staged, null);
});
