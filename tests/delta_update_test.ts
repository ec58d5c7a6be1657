// Delta updates end to end through runUpdate: a signed manifest offering a bsdiff delta from the
// installed build; the build rebuilt from it, and a corrupted delta falling back to the full
// download once (the delta recorded as bad).
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, signDocument, writeKeyPair } from "../lib/publish/signing.ts";
import { makeDelta } from "../lib/delta/make.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { readState } from "../lib/root/state.ts";
import { hashFile } from "../lib/core/hash.ts";

async function setUp(corrupt: boolean) {
  const work = await Deno.makeTempDir();
  const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
  const body = "#!/bin/sh\n# " + "a line of the build that stays the same\n".repeat(3000);
  await Deno.writeTextFile(`${work}/ms11-1`, body + "echo MS11 1.0.0\n");
  await Deno.writeTextFile(`${work}/ms11-2`, body + "echo MS11 1.1.0\n");
  const tree = `${work}/tree`;
  await publishRelease(tree, {
    channel: "stable",
    version: "1.0.0",
    platform: "linux-x64",
    artifact: `${work}/ms11-1`,
    keys: [key],
  });
  await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: "linux-x64",
    artifact: `${work}/ms11-2`,
    keys: [key],
  });
  const made = await makeDelta(`${work}/ms11-1`, `${work}/ms11-2`, {
    out: `${tree}/stable/1.1.0/ms11.from-1.0.0.delta`,
  });
  if (corrupt) {
    const bytes = await Deno.readFile(`${tree}/stable/1.1.0/ms11.from-1.0.0.delta`);
    bytes[bytes.length - 1] ^= 0xff;
    await Deno.writeFile(`${tree}/stable/1.1.0/ms11.from-1.0.0.delta`, bytes);
  }
  const manifest = JSON.parse(await Deno.readTextFile(`${tree}/stable/manifest.json`));
  manifest.artifacts["linux-x64"].deltas = [{
    from: "1.0.0",
    url: "1.1.0/ms11.from-1.0.0.delta",
    size: made.size,
    sha256: made.sha256,
    kind: "bsdiff",
    from_sha256: made.from.sha256,
  }];
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  await Deno.writeFile(`${tree}/stable/manifest.json`, bytes);
  await Deno.writeTextFile(`${tree}/stable/manifest.json.sig`, await signDocument(bytes, [key]));
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    try {
      return new Response(await Deno.readFile(`${tree}${decodeURIComponent(path)}`));
    } catch {
      return new Response("no", { status: 404 });
    }
  });
  const config = validateConfig({
    update_servers: {
      stable: { base_url: `http://127.0.0.1:${server.addr.port}/stable`, description: "Stable" },
    },
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
    },
  });
  return { work, server, config, requests, layout: layoutOf(`${work}/root`) };
}

for (const corrupt of [false, true]) {
  Deno.test(`an update by a ${corrupt ? "corrupted" : "good"} delta ends in the right build`, async () => {
    const t = await setUp(corrupt);
    try {
      // Install 1.0.0 by hand as the pipeline would record it: stage it from its artifact.
      const { stageBuild } = await import("../lib/root/stage.ts");
      const { emptyState, writeState } = await import("../lib/root/state.ts");
      await Deno.mkdir(t.layout.downloads, { recursive: true });
      const state = emptyState();
      await Deno.copyFile(`${t.work}/ms11-1`, `${t.layout.downloads}/a`);
      await stageBuild(t.layout, `${t.layout.downloads}/a`, {
        version: "1.0.0",
        channel: "stable",
        kind: "executable",
        sha256: (await hashFile(`${t.work}/ms11-1`)).sha256,
        executable: "ms11",
        state,
      });
      state.staged = null;
      await writeState(t.layout, state);
      await Deno.symlink("builds/1.0.0", t.layout.current);
      const result = await runUpdate(t.layout, t.config, {
        channel: "stable",
        platform: "linux-x64",
      });
      assert.equal(result.staged, "1.1.0");
      assert.equal(result.download?.method, corrupt ? "full" : "delta");
      assert.equal(
        await Deno.readTextFile(`${t.layout.builds}/1.1.0/ms11`),
        await Deno.readTextFile(`${t.work}/ms11-2`),
      );
      assert.equal(t.requests.filter((p) => p.endsWith(".delta")).length, 1);
      assert.equal(t.requests.filter((p) => p.endsWith("/1.1.0/ms11-2")).length, corrupt ? 1 : 0);
      const { state: after } = await readState(t.layout);
      assert.equal(after.bad_deltas?.length ?? 0, corrupt ? 1 : 0);
    } finally {
      await t.server.shutdown();
      await Deno.remove(t.work, { recursive: true });
    }
  });
}
