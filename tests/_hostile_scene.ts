// The attacked install of the hostile-repository suites (tests/hostile_repo_test.ts,
// tests/hostile_delta_test.ts, tests/hostile_rollout_test.ts): a malicious repository
// (tests/_malicious_repo.ts), the publisher's and an attacker's keys, a client that installed
// 1.0.0 (serial 5) from it, and the assertion every case makes of a refusal.
import assert from "node:assert/strict";
import { readAudit } from "../lib/root/audit.ts";
import { type Config, validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import type { SigningKey } from "../lib/publish/signing.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { linuxPlatform, snapshot } from "./_e2e.ts";
import { rejectsWith } from "./_helpers.ts";
import { makeKey, MaliciousRepo, type PublishOptions } from "./_malicious_repo.ts";

/** The time every scene runs at. */
export const NOW = new Date("2026-11-27T12:00:00.000Z");
/** This machine's platform key. */
export const PLATFORM = linuxPlatform();

/** One attacked install: repository, keys, config and an install of 1.0.0 (serial 5). */
export interface Scene extends AsyncDisposable {
  dir: string;
  repo: MaliciousRepo;
  /** The publisher's keys, pinned by the client. */
  keys: SigningKey[];
  /** A key the client does not know. */
  attacker: SigningKey;
  config: Config;
  layout: Layout;
  manifestUrl: string;
  /** Publish on the repository at NOW. */
  publish(options: Partial<PublishOptions> & { version: string; serial: number }): ReturnType<
    MaliciousRepo["publish"]
  >;
  /** Run an update at NOW (warnings to `onWarning`). */
  update(
    options?: { checkOnly?: boolean; channel?: string; onWarning?: (message: string) => void },
  ): ReturnType<typeof runUpdate>;
}

/**
 * Make a scene: the client installs and applies 1.0.0 (serial 5; `first` changes that
 * publication, e.g. its artifact and kind), signed by `threshold` of the publisher's keys.
 */
export async function scene(
  options: { threshold?: number; first?: Partial<PublishOptions> } = {},
): Promise<Scene> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-hostile-" });
  const repo = new MaliciousRepo();
  const keys = [await makeKey(dir, "publisher1"), await makeKey(dir, "publisher2")];
  const attacker = await makeKey(dir, "attacker");
  const pinned = { threshold: options.threshold ?? 1, keys: keys.map((k) => k.publicKey) };
  const config = validateConfig({
    update_servers: {
      stable: { base_url: `${repo.url}/stable` },
      canary: { base_url: `${repo.url}/canary` },
    },
    max_retry_attempts: 1,
    download_timeout_seconds: 20,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: pinned, canary: pinned },
    },
  });
  const layout = layoutOf(`${dir}/root`);
  const env = testEnv(NOW);
  const s: Scene = {
    dir,
    repo,
    keys,
    attacker,
    config,
    layout,
    manifestUrl: `${repo.url}/stable/manifest.json`,
    publish: (o) =>
      repo.publish({
        platform: PLATFORM,
        now: NOW,
        signers: keys.slice(0, pinned.threshold),
        ...o,
      }),
    update: (o = {}) =>
      runUpdate(layout, config, {
        channel: o.channel ?? "stable",
        platform: PLATFORM,
        checkOnly: o.checkOnly,
        onWarning: o.onWarning,
        env,
      }),
    async [Symbol.asyncDispose]() {
      await repo.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await s.publish({ version: "1.0.0", serial: 5, ...options.first });
  const first = await s.update();
  assert.equal(first.staged, "1.0.0");
  await applyStaged(layout, { now: NOW });
  return s;
}

/** Both copies of the trust state, byte for byte. */
export async function trustFiles(layout: Layout): Promise<string[]> {
  return [await Deno.readTextFile(layout.trust), await Deno.readTextFile(layout.trustBackup)];
}

// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/**
 * Run an update against the attack; assert the exact refusal, an unchanged install, staged area
 * and trusted state, and the refusal in the audit log.
 */
export async function refused(
  s: Scene,
  cls: ErrorClass,
  message: string | RegExp,
  event: "manifest_refused" | "manifest_behind" | "artifact_refused" = "manifest_refused",
): Promise<void> {
  const before = await snapshot(s.layout.root);
  const trusted = await trustFiles(s.layout);
  const error = await rejectsWith(s.update(), cls, message);
  assert.equal(await snapshot(s.layout.root), before, "the install changed");
  assert.deepEqual(await trustFiles(s.layout), trusted, "the trusted state changed");
  const last = (await readAudit(s.layout)).at(-1);
  assert.equal(last?.event, event);
  assert.equal(last?.reason, error.message);
}
