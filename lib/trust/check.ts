/**
 * Checking a channel: fetch its manifest and signatures (lib/trust/fetch_manifest.ts), pick this
 * platform's artifact and decide with {@linkcode decideUpdate}.
 *
 * @module
 */
import { checkInterval, decideUpdate, type UpdateDecision } from "../core/channel.ts";
import type { Config } from "../core/config_schema.ts";
import type { Env } from "../core/env.ts";
import { baseUrls } from "../core/config_schema.ts";
import type { RequestAuth } from "../net/credentials.ts";
import { type Artifact, artifactFor, type Manifest } from "./manifest.ts";
import { artifactUrls, fetchFromMirrors, type SkippedMirror } from "./mirrors.ts";
import { type OfferedRelease, offeredRelease } from "../core/rollout.ts";
import { escapeText } from "../core/text.ts";
import { compareVersions, isVersion } from "../core/version.ts";
import type { ManifestCacheRecord, State } from "../root/state.ts";
import type { TrustedRecord } from "./verify.ts";

export {
  type FetchedManifest,
  fetchManifest,
  fetchManifestCached,
  type FetchManifestOptions,
  signaturesUrl,
} from "./fetch_manifest.ts";

/**
 * Options of {@linkcode autoCheckDue}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { autoCheckDue, type AutoCheckOptions } from "./check.ts";
 * import { validateConfig } from "../core/config.ts";
 * import { emptyState } from "../root/state.ts";
 * const config = validateConfig({ auto_check_enabled: false });
 * const options: AutoCheckOptions = { channel: "stable", now: new Date("2026-11-27T00:00:00Z") };
 * assert.equal(autoCheckDue(config, emptyState(), options).reason, "disabled");
 * assert.equal(autoCheckDue(config, emptyState(), { ...options, force: true }).reason, "forced");
 * ```
 */
export interface AutoCheckOptions {
  /** The channel an automatic run would check. */
  channel: string;
  /** The time now. */
  now: Date;
  /** Check whatever the settings say. */
  force?: boolean;
  /**
   * The installed version: below the minimum version the channel's last accepted manifest set
   * (`state.controls`), a check is due whatever the interval (until a build at or above it is
   * staged).
   */
  current?: string | null;
}

/**
 * Whether an unattended run (`ms11-update --auto`) should check now, and why (pure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AutoCheckDecision, autoCheckDue } from "./check.ts";
 * import { defaultConfig } from "../core/config.ts";
 * import { emptyState } from "../root/state.ts";
 * const state = emptyState();
 * state.manifests.stable = {
 *   url: "https://updates.ms11.com/stable/manifest.json", etag: null, last_modified: null, body: "{}",
 *   checked_at: "2026-11-27T00:00:00.000Z",
 * };
 * const now = new Date("2026-11-27T06:00:00Z");
 * const decision: AutoCheckDecision = autoCheckDue(defaultConfig(), state, { channel: "stable", now });
 * assert.deepEqual([decision.due, decision.reason, decision.next], [false, "not-due", "2026-11-28T00:00:00.000Z"]);
 * ```
 */
export interface AutoCheckDecision {
  /** Whether to check now. */
  due: boolean;
  /** `forced`, `never-checked`, `interval-elapsed`, `below-minimum`, `disabled` or `not-due`. */
  reason:
    | "forced"
    | "never-checked"
    | "interval-elapsed"
    | "below-minimum"
    | "disabled"
    | "not-due";
  /** One line for people. */
  message: string;
  /** When the next automatic check is due (ISO 8601), when it is known. */
  next: string | null;
}

/**
 * Decide whether an unattended run checks the network now: never while `auto_check_enabled` is
 * false, otherwise when this channel was never checked or its last check (a 200 or a 304) is its
 * check interval old or more (its own `check_interval_hours`, else the top-level one: see
 * lib/core/channel.ts `checkInterval`), or when the installed version is below the minimum
 * version of the channel's last accepted manifest and no build at or above it is staged. A last
 * check in the future (a clock set back) counts as due. `force` always checks. People running `ms11-update` or `check` are not subject to this.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { autoCheckDue } from "./check.ts";
 * import { defaultConfig } from "../core/config.ts";
 * import { emptyState } from "../root/state.ts";
 * const config = defaultConfig(); // check_interval_hours: 24
 * const state = emptyState();
 * const now = new Date("2026-11-27T00:00:00Z");
 * assert.equal(autoCheckDue(config, state, { channel: "stable", now }).reason, "never-checked");
 * state.manifests.stable = {
 *   url: "https://updates.ms11.com/stable/manifest.json", etag: null, last_modified: null, body: "{}",
 *   checked_at: "2026-11-25T23:00:00.000Z",
 * };
 * assert.equal(autoCheckDue(config, state, { channel: "stable", now }).reason, "interval-elapsed");
 * state.manifests.stable.checked_at = now.toISOString(); // just checked: not due…
 * state.controls = { stable: { checked_at: now.toISOString(), yanked: [], minimum_version: "1.1.0" } };
 * assert.equal(autoCheckDue(config, state, { channel: "stable", now, current: "1.1.0" }).reason, "not-due");
 * // …unless the install is below the minimum version the manifest set.
 * assert.equal(autoCheckDue(config, state, { channel: "stable", now, current: "1.0.0" }).reason, "below-minimum");
 * ```
 */
export function autoCheckDue(
  config: Config,
  state: State,
  options: AutoCheckOptions,
): AutoCheckDecision {
  const { channel, now } = options;
  if (options.force) {
    return { due: true, reason: "forced", message: "Checking now (--force)", next: null };
  }
  if (!config.auto_check_enabled) {
    return {
      due: false,
      reason: "disabled",
      message: "Automatic checks are disabled (auto_check_enabled is false); pass --force to check",
      next: null,
    };
  }
  const minimum = Object.hasOwn(state.controls ?? {}, channel)
    ? state.controls![channel].minimum_version
    : null;
  const below = (v: string | null | undefined) =>
    isVersion(v) && isVersion(minimum) && compareVersions(v, minimum) < 0;
  const staged = state.staged?.channel === channel ? state.staged.version : null;
  if (below(options.current) && (staged === null || below(staged))) {
    return {
      due: true,
      reason: "below-minimum",
      message:
        `${options.current} is below ${channel}'s minimum version ${minimum}: checking now, whatever the interval`,
      next: null,
    };
  }
  const last = state.manifests[channel]?.checked_at ?? null;
  const lastMs = last === null ? NaN : Date.parse(last);
  if (Number.isNaN(lastMs)) {
    return {
      due: true,
      reason: "never-checked",
      message: `${channel} was never checked`,
      next: null,
    };
  }
  const interval = checkInterval(config, channel);
  const intervalMs = interval.hours * 3_600_000;
  const nextMs = lastMs + intervalMs;
  if (now.getTime() >= nextMs || lastMs > now.getTime()) {
    return {
      due: true,
      reason: "interval-elapsed",
      message:
        `${channel} was last checked at ${last}, ${interval.hours} h or more ago (${interval.field})`,
      next: null,
    };
  }
  const next = new Date(nextMs).toISOString();
  return {
    due: false,
    reason: "not-due",
    message:
      `Not checking ${channel}: last checked at ${last}; the next automatic check is due at ${next} (${interval.field} ${interval.hours}; pass --force to check now)`,
    next,
  };
}

/**
 * Options of {@linkcode checkChannel}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { testEnv } from "../core/env.ts";
 * const manifest = JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * });
 * const requests: Request[] = [];
 * const env = testEnv(new Date("2026-11-27T00:00:00Z"), (input, init) => {
 *   const request = new Request(input, init);
 *   requests.push(request);
 *   return Promise.resolve(
 *     request.headers.get("if-none-match") === '"m1"'
 *       ? new Response(null, { status: 304, headers: { etag: '"m1"' } })
 *       : new Response(manifest, { headers: { etag: '"m1"' } }),
 *   );
 * });
 * const config = validateConfig({ security: { verify_signatures: false } });
 * import { checkChannel, type CheckOptions } from "./check.ts";
 * import { emptyState } from "../root/state.ts";
 * const state = emptyState();
 * state.lifecycle.push({ version: "1.1.0", channel: "stable", state: "rejected", reason: "crashed",
 *   at: "2026-11-26T00:00:00Z", held: null });
 * const options: CheckOptions = {
 *   channel: "stable", platform: "linux-x64", current: "1.0.0", state, trusted: null, env,
 * };
 * assert.equal((await checkChannel(config, options)).decision.action, "none"); // rejected
 * assert.equal((await checkChannel(config, { ...options, force: true })).decision.action, "update");
 * ```
 */
export interface CheckOptions {
  /** The channel to check. */
  channel: string;
  /** The platform key to look up in the manifest. */
  platform: string;
  /** The installed version (null when nothing is installed). */
  current: string | null;
  /** The install's state (staged build, lifecycle: rejected and held versions, cached manifest). */
  state: State;
  /**
   * What was accepted before on this channel (null: nothing yet), from the install's trust
   * state (lib/root/trust_state.ts `trustedFor`, which refuses when that state is damaged).
   * Required, so that no caller can forget the rollback protection.
   */
  trusted: TrustedRecord | null;
  /** Allow installing a lower version. */
  allowDowngrade?: boolean;
  /** Install even a version rolled back from. */
  force?: boolean;
  /** Clock and network. */
  env?: Env;
  /** When the run started: manifest expiry is judged against it (default: now). */
  startedAt?: Date;
  /** The channel's credentials (default: loaded from its `auth` for this check). */
  auth?: RequestAuth;
  /**
   * The install root's random id, for a staged rollout's cohort (lib/root/install_id.ts). Without
   * it the install counts as outside every cohort.
   */
  installId?: string;
  /** Take the newest release whatever the rollout (`--now`, `rollout.early_adopter`). */
  rolloutOverride?: boolean;
}

/**
 * The outcome of a check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { testEnv } from "../core/env.ts";
 * const manifest = JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * });
 * const requests: Request[] = [];
 * const env = testEnv(new Date("2026-11-27T00:00:00Z"), (input, init) => {
 *   const request = new Request(input, init);
 *   requests.push(request);
 *   return Promise.resolve(
 *     request.headers.get("if-none-match") === '"m1"'
 *       ? new Response(null, { status: 304, headers: { etag: '"m1"' } })
 *       : new Response(manifest, { headers: { etag: '"m1"' } }),
 *   );
 * });
 * const config = validateConfig({ security: { verify_signatures: false } });
 * import { checkChannel, type CheckResult } from "./check.ts";
 * import { emptyState } from "../root/state.ts";
 * const result: CheckResult = await checkChannel(config, {
 *   channel: "stable", platform: "linux-x64", current: "1.1.0", state: emptyState(), trusted: null, env,
 * });
 * assert.equal(result.artifact.url, "https://updates.ms11.com/stable/1.1.0/ms11");
 * assert.equal(result.decision.message, "1.1.0 is the newest release on stable");
 * ```
 */
export interface CheckResult {
  /** The channel checked. */
  channel: string;
  /** The installed version. */
  current: string | null;
  /** The channel's manifest. */
  manifest: Manifest;
  /** This platform's artifact. */
  artifact: Artifact;
  /** What to do. */
  decision: UpdateDecision;
  /**
   * Which of the manifest's releases this install is offered under its rollout; when it is the
   * previous one, `manifest` and `artifact` above are that release's (`newest` keeps the top).
   */
  offered: OfferedRelease;
  /** The manifest's own newest version (`manifest.version` unless `previous` is offered). */
  newest: string;
  /** The manifest as fetched (its rollout, yanked versions and minimum version). */
  fetchedManifest: Manifest;
  /** The manifest record to keep for the next conditional check. */
  manifestRecord: ManifestCacheRecord;
  /** Whether the manifest was unchanged (HTTP 304: no body fetched). */
  notModified: boolean;
  /** The trust record to store for the channel (null when signatures are not verified). */
  trust: TrustedRecord | null;
  /** The base URL (`base_url` or a mirror) that served the manifest. */
  mirror: string;
  /** Mirrors tried before it: failed, or behind (serving an older manifest). */
  skippedMirrors: SkippedMirror[];
  /**
   * Whether every mirror was behind (or failed) and the manifest is the one accepted at an
   * earlier check, verified again (lib/trust/mirrors.ts).
   */
  kept: boolean;
  /**
   * Where to download the artifact from, in order: `artifact.url` (on the mirror that served the
   * manifest), then its URL on each other mirror.
   */
  artifactUrls: string[];
}

/**
 * Fetch a channel's manifest and decide whether to update. Touches nothing on disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { publishRelease } from "../publish/release.ts";
 * import { serveReleases } from "../publish/serve.ts";
 * import { readSigningKey, writeKeyPair } from "../publish/signing.ts";
 * const work = await Deno.makeTempDir();
 * const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11 1.1.0\n");
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`, keys: [key],
 * });
 * const server = serveReleases(`${work}/tree`);
 * const config = validateConfig({
 *   update_servers: { stable: { base_url: `${server.url}/stable`, description: "Stable" } },
 *   security: {
 *     require_https: false,
 *     allowed_domains: ["127.0.0.1"],
 *     signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
 *   },
 * });
 * import { checkChannel } from "./check.ts";
 * import { emptyState } from "../root/state.ts";
 * const result = await checkChannel(config, {
 *   channel: "stable", platform: "linux-x64", current: "1.0.0", state: emptyState(), trusted: null,
 * });
 * assert.equal(result.decision.message, "Update available: 1.0.0 -> 1.1.0 on stable");
 * assert.equal(result.artifact.size, 26); // the bytes published
 * await assert.rejects(
 *   checkChannel(config, {
 *     channel: "stable", platform: "windows-x64", current: null, state: emptyState(), trusted: null,
 *   }),
 *   RangeError,
 * );
 * await server.shutdown();
 * ```
 */
export async function checkChannel(config: Config, options: CheckOptions): Promise<CheckResult> {
  const { channel, state } = options;
  const fetched = await fetchFromMirrors(config, channel, {
    env: options.env,
    cached: Object.hasOwn(state.manifests, channel) ? state.manifests[channel] : null,
    trusted: options.trusted,
    startedAt: options.startedAt,
    auth: options.auth,
  });
  const { record, notModified, trust } = fetched;
  const offered = offeredRelease(fetched.manifest, {
    installId: options.installId ?? null,
    now: options.startedAt ?? options.env?.now() ?? new Date(),
    current: options.current,
    override: options.rolloutOverride === true,
  });
  const view = offered.which === "previous" ? asPrevious : (m: Manifest) => m;
  const manifest = view(fetched.manifest);
  const artifact = artifactFor(manifest, options.platform);
  const decision: UpdateDecision = offered.which === "none"
    ? {
      action: "none",
      reason: "not-offered",
      message: `${fetched.manifest.version} on ${channel} is not offered to this install (${
        escapeText(offered.reason)
      })`,
    }
    : decideUpdate(options.current, manifest.version, {
      channel: options.channel,
      allowDowngrade: options.allowDowngrade,
      staged: options.state.staged?.version ?? null,
      lifecycle: options.state.lifecycle,
      force: options.force,
    });
  return {
    offered,
    newest: fetched.manifest.version,
    fetchedManifest: fetched.manifest,
    channel: options.channel,
    current: options.current,
    manifest,
    artifact,
    decision,
    manifestRecord: record,
    notModified,
    trust,
    mirror: fetched.baseUrl,
    skippedMirrors: fetched.skipped,
    kept: fetched.kept,
    artifactUrls: artifactUrls(manifest, new TextEncoder().encode(record.body), {
      platform: options.platform,
      served: fetched.baseUrl,
      bases: baseUrls(config.update_servers[channel]),
      view,
    }),
  };
}

/** The manifest as seen by an install outside its rollout's cohort: its `previous` release. */
function asPrevious(manifest: Manifest): Manifest {
  const previous = manifest.previous;
  if (previous === null) return manifest;
  return {
    ...manifest,
    version: previous.version,
    released_at: previous.released_at,
    notes: null,
    artifacts: previous.artifacts,
    rollout: null,
    previous: null,
  };
}
