// A release tree as `release` and the rollout commands write it, served by a static host
// (`serve`): the manifest-addressed signature file is there, so a client whose server is behind
// goes on with the manifest it accepted; and the writes are ordered so that a reader never sees
// a manifest without its signatures (docs/MANIFEST.md, "The release tree").
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import { ManifestBehindError } from "../lib/core/errors.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { changeRollout } from "../lib/publish/rollout.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { serveReleases } from "../lib/publish/serve.ts";
import { readSigningKey, type SigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { parseSignatures } from "../lib/trust/keys.ts";
import { validSigners } from "../lib/trust/verify.ts";
import { linuxPlatform, snapshot } from "./_e2e.ts";
import { rejectsWith } from "./_helpers.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");
const PLATFORM = linuxPlatform();
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function makeKey(dir: string): Promise<SigningKey> {
  return await readSigningKey((await writeKeyPair(`${dir}/keys`)).privatePath);
}

async function release(tree: string, dir: string, version: string, key: SigningKey) {
  const artifact = `${dir}/ms11-${version}`;
  await Deno.writeTextFile(artifact, `#!/bin/sh\necho "MS11 ${version}"\n`);
  return await publishRelease(tree, {
    channel: "stable",
    version,
    platform: PLATFORM,
    artifact,
    keys: [key],
    releasedAt: NOW,
    expires: new Date(NOW.getTime() + 30 * 86400_000),
  });
}

/** A client on a tree served by `serve`, with 1.0.0 installed; 1.1.0 then accepted by a check. */
async function behindScene() {
  const dir = await Deno.makeTempDir({ prefix: "ms11-static-tree-" });
  const tree = `${dir}/tree`;
  const key = await makeKey(dir);
  await release(tree, dir, "1.0.0", key);
  const server = serveReleases(tree, { hostname: "127.0.0.1", port: 0 });
  const config = validateConfig({
    update_servers: { stable: { base_url: `${server.url}/stable` } },
    max_retry_attempts: 1,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
    },
  });
  const layout = layoutOf(`${dir}/root`);
  const update = (checkOnly = false) =>
    runUpdate(layout, config, {
      channel: "stable",
      platform: PLATFORM,
      checkOnly,
      env: testEnv(NOW),
    });
  assert.equal((await update()).staged, "1.0.0");
  await applyStaged(layout, { now: NOW });
  // The host is about to fall behind: keep what it serves now.
  const old = {
    manifest: await Deno.readFile(`${tree}/stable/manifest.json`),
    sig: await Deno.readFile(`${tree}/stable/manifest.json.sig`),
  };
  await release(tree, dir, "1.1.0", key);
  assert.equal((await update(true)).check.manifest.serial, 2);
  // A cache in front of the host that is behind: the old manifest and signature file again.
  await Deno.writeFile(`${tree}/stable/manifest.json`, old.manifest);
  await Deno.writeFile(`${tree}/stable/manifest.json.sig`, old.sig);
  return {
    tree,
    layout,
    update,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("static tree: a server behind, the update goes on with the accepted manifest (release wrote its addressed signatures)", async () => {
  await using s = await behindScene();
  const result = await s.update();
  assert.equal(result.check.kept, true);
  assert.equal(result.check.manifest.serial, 2);
  assert.equal(result.staged, "1.1.0");
});

Deno.test("static tree: without signatures/ (a tree from before), the same check says try again later and changes nothing", async () => {
  await using s = await behindScene();
  await Deno.remove(`${s.tree}/stable/signatures`, { recursive: true });
  const before = await snapshot(s.layout.root);
  await rejectsWith(
    s.update(),
    ManifestBehindError,
    /has serial 1 \(1\.0\.0\), older than serial 2 \(1\.1\.0\) already accepted on stable: .*; nothing was accepted, try again later$/,
  );
  assert.equal(await snapshot(s.layout.root), before);
});

Deno.test("static tree: signatures are renamed in before the manifest, and a reader always finds the pair of the manifest it read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ms11-static-order-" });
  const tree = `${dir}/tree`;
  const channel = `${tree}/stable`;
  const key = await makeKey(dir);
  const keySet = { threshold: 1, keys: [key.publicKey] };
  const signs = async (manifest: Uint8Array, file: Uint8Array | null) =>
    file !== null &&
    (await validSigners(manifest, parseSignatures(file, "sig"), keySet)).length === 1;
  const read = (path: string) => Deno.readFile(path).catch(() => null);
  const addressedOf = (manifest: Uint8Array) =>
    read(`${channel}/signatures/${sha256(manifest)}.sig`);
  const renamed: string[] = [];
  const problems: string[] = [];
  const rename = Deno.rename;
  Deno.rename = async (from: string | URL, to: string | URL) => {
    const target = String(to);
    // A client that read manifest.json just before this rename fetches its signatures after it.
    const readBefore = await read(`${channel}/manifest.json`);
    await rename(from, to);
    if (!target.startsWith(`${channel}/`)) return;
    const name = target.slice(channel.length + 1)
      .replace(/^signatures\/[0-9a-f]{64}\.sig$/, "signatures/<sha256>.sig");
    renamed.push(name);
    const now = await read(`${channel}/manifest.json`);
    for (const [what, manifest] of [["read before", readBefore], ["there now", now]] as const) {
      if (manifest !== null && !(await signs(manifest, await addressedOf(manifest)))) {
        problems.push(`after ${name}: the manifest ${what} has no addressed signature file`);
      }
    }
  };
  const steps: (() => Promise<unknown>)[] = [
    () => release(tree, dir, "1.0.0", key),
    () => release(tree, dir, "1.1.0", key),
    () =>
      changeRollout(tree, {
        channel: "stable",
        change: { action: "yank", version: "1.0.0", reason: "crashes at start" },
        expires: new Date(NOW.getTime() + 30 * 86400_000),
        now: NOW,
        keys: [key],
      }),
  ];
  const written: Uint8Array[] = [];
  try {
    for (const step of steps) {
      await step();
      const manifest = (await read(`${channel}/manifest.json`))!;
      const plain = await read(`${channel}/manifest.json.sig`);
      // Once written, manifest.json.sig is the new manifest's own file, byte for byte.
      assert.ok(await signs(manifest, plain));
      assert.deepEqual(plain, await addressedOf(manifest));
      // ...and signs nothing older: a body kept after a 304 that is outdated fails against it,
      // so the client fetches the manifest again (two manifests can share nginx's ETag).
      for (const older of written) assert.equal(await signs(older, plain), false);
      written.push(manifest);
    }
  } finally {
    Deno.rename = rename;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const once = ["signatures/<sha256>.sig", "manifest.json.sig", "manifest.json"];
  assert.deepEqual(renamed.filter((n) => /manifest|signatures/.test(n)), [
    ...once,
    ...once,
    ...once,
  ]);
  assert.deepEqual(problems, []);
});
