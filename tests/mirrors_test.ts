// A channel served by several mirrors (update_servers.<channel>.mirrors): the whole update through
// lib/actions/pipeline.ts (and once through the CLI) against repositories that are down, behind (an older, validly signed
// manifest: a cache holding it for its max-age), refuse, or serve wrong artifacts. What served is
// in the audit log and in status; the mirror that worked is asked first next time; a manifest
// older than the accepted one never costs the update.
import assert from "node:assert/strict";
import { type Config, validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import { ManifestBehindError, UntrustedManifestError } from "../lib/core/errors.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { readAudit } from "../lib/root/audit.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { readState } from "../lib/root/state.ts";
import { readStatus } from "../lib/root/status.ts";
import { readTrust } from "../lib/root/trust_state.ts";
import { applyStaged } from "../lib/root/swap.ts";
import type { SigningKey } from "../lib/publish/signing.ts";
import { launch, linuxPlatform, makeWorld, snapshot } from "./_e2e.ts";
import { type HostileReply, HostileServer } from "./_hostile_server.ts";
import { rejectsWith } from "./_helpers.ts";
import { makeKey, MaliciousRepo, type PublishOptions } from "./_malicious_repo.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");
const PLATFORM = linuxPlatform();

/** An install of 1.0.0 (serial 5) whose channel has three mirrors: a, b, c (in that order). */
interface Scene extends AsyncDisposable {
  dir: string;
  key: SigningKey;
  mirrors: MaliciousRepo[];
  config: Config;
  layout: Layout;
  base(i: number): string;
  /** Publish the same signed release on the mirrors listed (all by default). */
  publish(
    options: Partial<PublishOptions> & { version: string; serial: number },
    on?: number[],
  ): Promise<void>;
  update(options?: { checkOnly?: boolean; warnings?: string[] }): ReturnType<typeof runUpdate>;
  /** Manifest requests each mirror received so far. */
  manifestRequests(): number[];
}

async function scene(): Promise<Scene> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-mirrors-" });
  const key = await makeKey(dir, "publisher");
  const mirrors = [new MaliciousRepo(), new MaliciousRepo(), new MaliciousRepo()];
  const base = (i: number) => `${mirrors[i].url}/stable`;
  const config = validateConfig({
    update_servers: { stable: { base_url: base(0), mirrors: [base(1), base(2)] } },
    max_retry_attempts: 1,
    download_timeout_seconds: 20,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
    },
  });
  const layout = layoutOf(`${dir}/root`);
  const s: Scene = {
    dir,
    key,
    mirrors,
    config,
    layout,
    base,
    async publish(options, on = [0, 1, 2]) {
      for (const i of on) {
        await mirrors[i].publish({
          platform: PLATFORM,
          now: NOW,
          signers: [key],
          addressed: true,
          ...options,
        });
      }
    },
    update: (o = {}) =>
      runUpdate(layout, config, {
        channel: "stable",
        platform: PLATFORM,
        checkOnly: o.checkOnly,
        env: testEnv(NOW),
        onWarning: (m) => o.warnings?.push(m),
      }),
    manifestRequests: () =>
      mirrors.map((m) => m.requests.filter((r) => r.path === "/stable/manifest.json").length),
    async [Symbol.asyncDispose]() {
      for (const m of mirrors) await m.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await s.publish({ version: "1.0.0", serial: 5 });
  assert.equal((await s.update()).staged, "1.0.0");
  await applyStaged(layout, { now: NOW });
  return s;
}

const manifestAt = (s: Scene, i: number) => `${s.base(i)}/manifest.json`;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("mirrors: the first one down, the next serves manifest and artifact; it is asked first next time", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  s.mirrors[0].outage(503);
  const before = s.manifestRequests();
  const result = await s.update();
  assert.equal(result.staged, "1.1.0");
  assert.equal(result.check.mirror, s.base(1));
  assert.deepEqual(result.check.skippedMirrors, [{
    base_url: s.base(0),
    outcome: "failed",
    message: `Fetch of ${
      manifestAt(s, 0)
    } failed: HTTP 503 Service Unavailable; gave up after 1 attempt`,
  }]);
  // The artifact came from the mirror that served the manifest.
  assert.equal(s.mirrors[1].requests.filter((r) => r.path === "/stable/1.1.0/ms11").length, 1);
  const audit = await readAudit(s.layout);
  const accepted = audit.filter((e) => e.event === "manifest_accepted").at(-1)!;
  assert.equal(accepted.mirror, s.base(1));
  assert.deepEqual(accepted.mirrors_skipped, result.check.skippedMirrors);
  const staged = audit.filter((e) => e.event === "staged").at(-1)!;
  assert.equal(staged.artifact_url, `${s.base(1)}/1.1.0/ms11`);
  assert.equal(
    (await readStatus(s.layout, s.config, { platform: PLATFORM })).mirror?.base_url,
    s.base(1),
  );
  // Next time the mirror that worked is asked first: the first one, back up, is not asked.
  s.mirrors[0].outage(null);
  const after = s.manifestRequests();
  const again = await s.update({ checkOnly: true });
  assert.equal(again.check.mirror, s.base(1));
  assert.deepEqual(again.check.skippedMirrors, []);
  assert.deepEqual(s.manifestRequests().map((n, i) => n - after[i]), [0, 1, 0]);
  assert.deepEqual(after.map((n, i) => n - before[i]), [1, 1, 0]);
});

Deno.test("mirrors: one behind (an older signed manifest) is skipped, not refused", async () => {
  await using s = await scene();
  // 1.1.0 reaches b and c; a is down, so b serves it and is remembered.
  await s.publish({ version: "1.1.0", serial: 6 }, [1, 2]);
  s.mirrors[0].outage(503);
  assert.equal((await s.update()).check.mirror, s.base(1));
  // a comes back still holding serial 5 (behind); b goes down; 1.2.0 is on c only.
  s.mirrors[0].outage(null);
  s.mirrors[1].outage(502);
  await s.publish({ version: "1.2.0", serial: 7 }, [2]);
  const result = await s.update();
  assert.equal(result.staged, "1.2.0");
  assert.equal(result.check.mirror, s.base(2));
  assert.equal(result.check.kept, false);
  assert.deepEqual(result.check.skippedMirrors.map((m) => [m.base_url, m.outcome]), [
    [s.base(1), "failed"],
    [s.base(0), "behind"],
  ]);
  assert.equal(
    result.check.skippedMirrors[1].message,
    `Manifest ${manifestAt(s, 0)} has serial 5 (1.0.0)`,
  );
  const audit = await readAudit(s.layout);
  assert.equal(audit.filter((e) => e.event === "manifest_refused").length, 0);
  assert.equal(audit.filter((e) => e.event === "manifest_behind").length, 0);
  assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 7);
});

Deno.test("mirrors: every one behind after a check found a release: the update goes on with the accepted manifest", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 }, [0]);
  const checked = await s.update({ checkOnly: true });
  assert.equal(checked.check.decision.action, "update");
  // A reaches an outage before the download; b and c (caches) still hold serial 5. Their
  // artifacts are immutable: a cache fills 1.1.0's files from the origin on a miss.
  s.mirrors[0].outage(503);
  for (const i of [1, 2]) {
    await s.publish({ version: "1.1.0", serial: 6 }, [i]);
    await s.publish({ version: "1.0.0", serial: 5, addressed: false }, [i]);
  }
  const trust = await Deno.readTextFile(s.layout.trust);
  const warnings: string[] = [];
  const result = await s.update({ warnings });
  assert.equal(result.staged, "1.1.0");
  assert.equal(result.check.kept, true);
  assert.equal(result.check.mirror, s.base(1));
  assert.equal(result.check.manifest.serial, 6);
  const behind = [
    `Fetch of ${manifestAt(s, 0)} failed: HTTP 503 Service Unavailable; gave up after 1 attempt`,
    `Manifest ${manifestAt(s, 1)} has serial 5 (1.0.0)`,
    `Manifest ${manifestAt(s, 2)} has serial 5 (1.0.0)`,
  ].join("; ");
  const told =
    `Every server of stable is behind (${behind}): keeping 1.1.0 (serial 6) accepted at an earlier check, its signatures verified again from ${
      s.base(1)
    }`;
  assert.deepEqual(warnings, [told]);
  assert.equal(await Deno.readTextFile(s.layout.trust), trust); // nothing new accepted
  const audit = await readAudit(s.layout);
  const kept = audit.find((e) => e.event === "manifest_behind")!;
  assert.deepEqual([kept.reason, kept.kept, kept.serial, kept.mirror], [
    told,
    true,
    6,
    s.base(1),
  ]);
  // The state still remembers the mirror that served 1.1.0: the next check asks it first.
  assert.equal((await readState(s.layout)).state.manifests.stable.url, manifestAt(s, 0));
  assert.equal(audit.filter((e) => e.event === "manifest_refused").length, 0);
});

Deno.test("mirrors: every one behind and the accepted manifest not verifiable again: try later, nothing changes", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, addressed: false }, [0]);
  await s.update({ checkOnly: true });
  // The release is withdrawn everywhere in favour of serial 5 again (a replay, or a cache that
  // lost it), and no addressed signature file of serial 6 is served.
  for (const i of [0, 1, 2]) {
    await s.publish({ version: "1.0.0", serial: 5, addressed: false }, [i]);
  }
  const before = await snapshot(s.layout.root);
  const trust = await Deno.readTextFile(s.layout.trust);
  const error = await rejectsWith(
    s.update(),
    ManifestBehindError,
    `No mirror of stable has a manifest as new as serial 6 (1.1.0) already accepted on stable: ${
      [0, 1, 2].map((i) => `Manifest ${manifestAt(s, i)} has serial 5 (1.0.0)`).join("; ")
    }; nothing was accepted, try again later`,
  );
  const behind = error as ManifestBehindError;
  assert.deepEqual([behind.channel, behind.trustedSerial, behind.reason], ["stable", 6, "behind"]);
  assert.equal(await snapshot(s.layout.root), before);
  assert.equal(await Deno.readTextFile(s.layout.trust), trust);
  const last = (await readAudit(s.layout)).at(-1)!;
  assert.deepEqual([last.event, last.code, last.reason], [
    "manifest_behind",
    "behind",
    error.message,
  ]);
  // A later check, once a mirror has the release again, brings it.
  await s.publish({ version: "1.1.0", serial: 6 }, [2]);
  assert.equal((await s.update()).staged, "1.1.0");
});

Deno.test("mirrors: every one refusing (bad signatures, down) is one refusal naming each", async () => {
  await using s = await scene();
  const attacker = await makeKey(s.dir, "attacker");
  await s.publish({ version: "1.1.0", serial: 6, signers: [attacker] }, [0, 1]);
  s.mirrors[2].outage(500);
  const before = await snapshot(s.layout.root);
  const unsigned = (i: number) =>
    `Manifest ${
      manifestAt(s, i)
    } has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${attacker.keyid})`;
  const error = await rejectsWith(
    s.update(),
    Error,
    `No mirror of stable could be used (3 tried): ${unsigned(0)}; ${unsigned(1)}; Fetch of ${
      manifestAt(s, 2)
    } failed: HTTP 500 Internal Server Error; gave up after 1 attempt`,
  );
  assert.ok(!(error instanceof UntrustedManifestError)); // not every one was a refusal
  assert.equal(await snapshot(s.layout.root), before);
  // All of them refusing is an UntrustedManifestError with the first one's reason.
  s.mirrors[2].outage(null);
  await s.publish({ version: "1.1.0", serial: 6, signers: [attacker] }, [2]);
  const refused = await rejectsWith(s.update(), UntrustedManifestError, /^No mirror of stable/);
  assert.equal((refused as UntrustedManifestError).reason, "signature-threshold");
  const last = (await readAudit(s.layout)).at(-1)!;
  assert.deepEqual([last.event, last.code], ["manifest_refused", "signature-threshold"]);
});

Deno.test("mirrors: wrong artifact bytes on the mirror that served the manifest: the next one serves them", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  s.mirrors[0].set("/stable/1.1.0/ms11", new TextEncoder().encode("#!/bin/sh\necho EVIL 1.1\n"));
  s.mirrors[1].remove("/stable/1.1.0/ms11");
  const result = await s.update();
  assert.equal(result.staged, "1.1.0");
  const staged = (await readAudit(s.layout)).filter((e) => e.event === "staged").at(-1)!;
  assert.equal(staged.artifact_url, `${s.base(2)}/1.1.0/ms11`);
  const failed = staged.artifact_mirrors_failed as { url: string; message: string }[];
  assert.deepEqual(failed.map((f) => f.url), [
    `${s.base(0)}/1.1.0/ms11`,
    `${s.base(1)}/1.1.0/ms11`,
  ]);
  assert.match(failed[0].message, /size|SHA-256|checksum/i);
  assert.match(failed[1].message, /HTTP 404 Not Found/);
});

Deno.test("mirrors through the CLI: install from a mirror when base_url is down; status says which served", async () => {
  await using world = await makeWorld();
  await using down = new HostileServer((): HostileReply => ({ status: 503 }));
  const mirror = `${world.server.url}/stable`;
  await world.writeConfig({
    update_servers: { stable: { base_url: `${down.url}/stable`, mirrors: [mirror] } },
  });
  await world.publish("stable", "1.0.0");
  const install = await world.cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const status = await world.cli(["status"]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(
    status.stdout,
    new RegExp(`^served by:  ${escapeRegExp(mirror)} \\(checked \\S+\\)$`, "m"),
  );
  const json = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.equal(json.mirror.base_url, mirror);
  // The audit log names the mirror, and the one skipped.
  const accepted = (await readAudit(layoutOf(world.root))).find((e) =>
    e.event === "manifest_accepted"
  )!;
  assert.equal(accepted.mirror, mirror);
  assert.deepEqual((accepted.mirrors_skipped as { base_url: string }[]).map((m) => m.base_url), [
    `${down.url}/stable`,
  ]);
  // A channel whose mirrors list is bad is a configuration error: exit 2, nothing changes.
  await world.writeConfig({
    update_servers: { stable: { base_url: mirror, mirrors: [mirror] } },
  });
  const bad = await world.cli(["check"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /update_servers\.stable\.mirrors\[0\] must be a URL not listed before \(base_url or a mirror\)/,
  );
});

Deno.test("mirrors: one that never answers times out and the next serves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ms11-mirrors-" });
  await using silent = new HostileServer((): HostileReply => ({ silent: true }));
  const good = new MaliciousRepo();
  try {
    const key = await makeKey(dir, "publisher");
    await good.publish({
      version: "1.1.0",
      serial: 6,
      platform: PLATFORM,
      now: NOW,
      signers: [key],
    });
    const config = validateConfig({
      update_servers: {
        stable: { base_url: `${silent.url}/stable`, mirrors: [`${good.url}/stable`] },
      },
      max_retry_attempts: 1,
      download_timeout_seconds: 1, // the manifest fetch's bound too
      security: {
        require_https: false,
        allowed_domains: ["127.0.0.1"],
        signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
      },
    });
    const result = await runUpdate(layoutOf(`${dir}/root`), config, {
      channel: "stable",
      platform: PLATFORM,
      env: testEnv(NOW),
    });
    assert.equal(result.staged, "1.1.0");
    assert.equal(result.check.mirror, `${good.url}/stable`);
    assert.deepEqual(result.check.skippedMirrors.map((m) => m.outcome), ["failed"]);
    assert.match(result.check.skippedMirrors[0].message, /timed out|timeout/i);
  } finally {
    await good.close();
    await Deno.remove(dir, { recursive: true });
  }
});
