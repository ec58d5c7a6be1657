// The real client (lib/actions/pipeline.ts) updating from a real S3-compatible store (Swift,
// tests/_swift.ts) behind Debian's nginx as a caching CDN (tests/_nginx.ts), published with
// lib/publish/upload.ts: a fleet installing through the cache costs the origin one request per
// object; a publication reaches clients within the metadata max-age; a cache node that still
// holds the previous manifest (it is behind) never costs a client the update it already saw; and
// the fleet bench (bench/fleet.ts) with a small fleet.
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config_schema.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { readAudit } from "../lib/root/audit.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { type UploadEvent, uploadRelease } from "../lib/publish/upload.ts";
import { linuxPlatform } from "./_e2e.ts";
import { sha256, tempDir } from "./_helpers.ts";
import { NGINX_PATH, type NginxServer, startCdn } from "./_nginx.ts";
import { storeOf } from "./_s3.ts";
import { startSwift, timeBound } from "./_swift.ts";
import { fleetBench, fleetTable } from "../bench/fleet.ts";

const PLATFORM = linuxPlatform();
const CLIENTS = 8;
/** The metadata max-age of these publications, in seconds. */
const MAX_AGE = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The CDN's log lines for `path` that reached the origin (not served from the cache). */
async function toOrigin(cdn: NginxServer, path: string): Promise<string[]> {
  const log = await Deno.readTextFile(cdn.accessLogPath);
  return log.split("\n").filter((l) => l.split(" ")[1] === path && !l.endsWith(" HIT"));
}

Deno.test("clients update through a real CDN in front of a real object store", (t) =>
  timeBound(300_000, async () => {
    await using dir = await tempDir("ms11-cdn-client-");
    await using swift = await startSwift();
    await swift.createBucket("releases", { publicRead: true });
    const origin = swift.publicUrl("releases");
    const cdn = await startCdn(origin);
    assert.ok(cdn, `${NGINX_PATH} is not installed: apt-get install nginx (.ci/run does)`);
    await using _cdn = cdn;
    const store = storeOf(swift, "releases");
    const written = await writeKeyPair(`${dir.path}/keys`);
    const key = await readSigningKey(written.privatePath);
    const tree = `${dir.path}/tree`;
    const publish = async (version: string, onEvent?: (event: UploadEvent) => void) => {
      const artifact = `${dir.path}/ms11-${version}`;
      // A script of 256 KiB: what it prints, and padding.
      await Deno.writeTextFile(
        artifact,
        `#!/bin/sh\necho "MS11 ${version}"\nexit 0\n${"# padding\n".repeat(26_214)}`,
      );
      await publishRelease(tree, {
        channel: "stable",
        version,
        platform: PLATFORM,
        artifact,
        keys: [key],
      });
      return await uploadRelease(tree, { store, prefix: "p/", metadataMaxAge: MAX_AGE, onEvent });
    };
    const configFor = (base: string, mirrors: string[] = []) =>
      validateConfig({
        update_servers: { stable: { base_url: base, mirrors } },
        max_retry_attempts: 1,
        download_timeout_seconds: 60,
        security: {
          require_https: false,
          allowed_domains: ["127.0.0.1"],
          signing_keys: { stable: { threshold: 1, keys: [written.publicKey] } },
        },
      });
    const fleet = Array.from({ length: CLIENTS }, (_, i) => layoutOf(`${dir.path}/client-${i}`));
    const viaCdn = configFor(`${cdn.url}/p/stable`);
    const update = (i: number, options: { checkOnly?: boolean } = {}) =>
      runUpdate(fleet[i], viaCdn, { channel: "stable", platform: PLATFORM, ...options });
    const step = (name: string, fn: () => Promise<void>) =>
      t.step(name, () => timeBound(120_000, fn));

    await step("a fleet installing at once costs the origin one request per object", async () => {
      const first = await publish("1.0.0");
      assert.equal(first.changed, 4);
      const results = await Promise.all(fleet.map((_, i) => update(i)));
      assert.deepEqual(results.map((r) => r.staged), Array(CLIENTS).fill("1.0.0"));
      const manifestSha = sha256(await Deno.readFile(`${tree}/stable/manifest.json`));
      // Each client asked for the manifest, its addressed signatures and the artifact; the
      // cache collapsed the concurrent misses: the origin saw each object once.
      for (
        const path of [
          "/p/stable/manifest.json",
          `/p/stable/signatures/${manifestSha}.sig`,
          "/p/stable/1.0.0/ms11-1.0.0",
        ]
      ) {
        const log = await Deno.readTextFile(cdn.accessLogPath);
        const asked = log.split("\n").filter((l) => l.split(" ")[1] === path);
        assert.equal(asked.length, CLIENTS, `${path}:\n${log}`);
        assert.deepEqual(await toOrigin(cdn, path), [`GET ${path} 200 MISS`], log);
      }
    });

    await step(
      "a cache node still holding the previous manifest never costs a client the update it saw",
      async () => {
        // A second cache node, started now so that nothing of it is on the clock below; nothing
        // has asked it for anything yet.
        const edge = await startCdn(origin);
        assert.ok(edge);
        await using _edge = edge;
        // The publication of 1.1.0, during which a client fills the CDN with the manifest of
        // 1.0.0 just before the new one is written: the CDN is then behind for a max-age.
        let filled: Promise<string> | null = null;
        const second = await publish("1.1.0", (event) => {
          if (event.type !== "waiting") return;
          filled = sleep(Math.max(0, event.ms - 1000)).then(async () => {
            const response = await fetch(`${cdn.url}/p/stable/manifest.json`);
            return (await response.json()).version;
          });
        });
        assert.ok(second.waitMs >= MAX_AGE * 1000, `waited ${second.waitMs} ms`);
        assert.equal(await filled, "1.0.0");
        const stale = await fetch(`${cdn.url}/p/stable/manifest.json`);
        assert.equal((await stale.json()).version, "1.0.0");
        assert.equal(stale.headers.get("x-cache-status"), "HIT");

        // A client whose first server is the other, fresh cache node sees 1.1.0 there...
        const roaming = layoutOf(`${dir.path}/roaming`);
        const config = configFor(`${edge.url}/p/stable`, [`${cdn.url}/p/stable`]);
        const run = (checkOnly: boolean) =>
          runUpdate(roaming, config, { channel: "stable", platform: PLATFORM, checkOnly });
        const checked = await run(true);
        assert.equal(checked.check.manifest.version, "1.1.0");
        assert.equal(checked.check.mirror, `${edge.url}/p/stable`);
        // ...then that node goes away: the update goes on through the node that is behind,
        // with the manifest accepted at the check (its addressed signatures and the artifact
        // are immutable: the cache fills them from the origin).
        await edge.stop();
        const updated = await run(false);
        assert.equal(updated.staged, "1.1.0");
        assert.equal(updated.check.kept, true);
        assert.equal(updated.check.mirror, `${cdn.url}/p/stable`);
        assert.deepEqual(updated.check.skippedMirrors.map((m) => m.outcome), ["failed", "behind"]);
        const behind = (await readAudit(roaming)).filter((e) => e.event === "manifest_behind");
        assert.equal(behind.length, 1);
        assert.equal(behind[0].kept, true);

        // A client of the stale node meanwhile sees no update (within the max-age)...
        assert.equal((await update(0, { checkOnly: true })).check.manifest.version, "1.0.0");
        // ...and once its copy has expired, the whole fleet gets 1.1.0: the first check after
        // the expiry refreshes the copy (one conditional request to the origin), the others are
        // served from the cache. (nginx does not collapse concurrent revalidations of an
        // expired entry: requests arriving during that one round trip would reach the origin
        // too; docs/DEPLOYMENT.md.)
        const mark = (await Deno.readTextFile(cdn.accessLogPath)).length;
        await sleep(MAX_AGE * 1000);
        const lead = await update(0);
        const rest = await Promise.all(fleet.slice(1).map((_, i) => update(i + 1)));
        const results = [lead, ...rest];
        assert.deepEqual(
          results.map((r) => r.check.manifest.version),
          Array(CLIENTS).fill("1.1.0"),
        );
        assert.deepEqual(results.map((r) => r.staged), Array(CLIENTS).fill("1.1.0"));
        const after = (await Deno.readTextFile(cdn.accessLogPath)).slice(mark).split("\n");
        const refreshed = after.filter((l) =>
          l.startsWith("GET /p/stable/manifest.json ") && !l.endsWith(" HIT")
        );
        assert.equal(refreshed.length, 1, after.join("\n"));
        assert.match(refreshed[0], / 200 (EXPIRED|REVALIDATED)$/);
        // The new artifact reached the origin once (for the roaming client), then the cache
        // served everyone.
        assert.equal((await toOrigin(cdn, "/p/stable/1.1.0/ms11-1.1.0")).length, 1);
      },
    );
  }));

Deno.test("bench/fleet.ts: a small fleet through the CDN; immutable objects reach the origin once", () =>
  timeBound(240_000, async () => {
    const options = { clients: 12, spreadMs: 3000, maxAge: 2, sizeKib: 64 };
    const rounds = await fleetBench(options);
    assert.deepEqual(rounds.map((r) => [r.name, r.ok, r.failures]), [
      ["install", 12, []],
      ["steady", 12, []],
      ["update", 12, []],
    ]);
    // What each client asks: an update is the manifest, its addressed signatures and the
    // artifact; a check without news is the manifest (a 304) and manifest.json.sig.
    assert.deepEqual(rounds.map((r) => r.requestsByKind), [
      { manifest: 12, signatures: 12, artifact: 12 },
      { manifest: 12, sig: 12 },
      { manifest: 12, signatures: 12, artifact: 12 },
    ]);
    // Immutable objects reach the origin once per publication, whatever the fleet's size.
    for (const r of [rounds[0], rounds[2]]) {
      assert.equal(r.originByKind.artifact, 1, r.name);
      assert.equal(r.originByKind.signatures, 1, r.name);
      assert.ok(r.publisherRequests > 0);
    }
    assert.equal(rounds[1].originByKind.artifact, undefined);
    assert.equal(rounds[1].publisherRequests, 0);
    const table = fleetTable(rounds, options);
    assert.match(table, /^\| install \| 12 \| 36 \| \d+ \| [\d.]+ \| \d+ \| \d+ \|$/m);
  }));
