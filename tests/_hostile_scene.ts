// The attacked install of the hostile-repository suites (tests/hostile_repo_test.ts,
// tests/hostile_delta_test.ts): a malicious repository (tests/_malicious_repo.ts), the
// publisher's and an attacker's keys, and a client that installed 1.0.0 (serial 5) from it.
import assert from "node:assert/strict";
import { type Config, validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import type { SigningKey } from "../lib/publish/signing.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { linuxPlatform } from "./_e2e.ts";
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
