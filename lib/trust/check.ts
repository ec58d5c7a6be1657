/**
 * Checking a channel: fetch its manifest (size-capped, with the configuration's URL policy),
 * parse it strictly, pick this platform's artifact and decide with {@linkcode decideUpdate}.
 *
 * @module
 */
import { decideUpdate, type UpdateDecision } from "../core/channel.ts";
import type { Config } from "../core/config_schema.ts";
import { fetchLimited } from "../net/fetch.ts";
import type { Env } from "../core/env.ts";
import { httpEnv } from "../net/http_env.ts";
import {
  type Artifact,
  artifactFor,
  type Manifest,
  manifestUrl,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from "./manifest.ts";
import type { ManifestCacheRecord, State } from "../root/state.ts";
import { ConfigError, UntrustedManifestError } from "../core/errors.ts";
import { MAX_SIGNATURE_BYTES, type TrustedRecord, verifyManifest } from "./verify.ts";

/**
 * Options of {@linkcode fetchManifest}.
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
 * import { fetchManifestCached, type FetchManifestOptions } from "./check.ts";
 * const first = await fetchManifestCached(config, "stable", { env });
 * const options: FetchManifestOptions = { env, cached: first.record };
 * const again = await fetchManifestCached(config, "stable", options);
 * assert.equal(requests[1].headers.get("if-none-match"), '"m1"'); // asked "changed since?"
 * assert.equal(again.notModified, true);
 * ```
 */
export interface FetchManifestOptions {
  /** Clock and network. */
  env?: Env;
  /**
   * The channel's manifest as last fetched: its ETag / Last-Modified are sent as conditions, and
   * a 304 Not Modified reuses its body (no manifest bytes cross the network).
   */
  cached?: ManifestCacheRecord | null;
  /** What was accepted before on this channel (rollback protection, rotated keys). */
  trusted?: TrustedRecord | null;
  /** When the run started: expiry is judged against it (default: now). */
  startedAt?: Date;
}

/**
 * A fetched manifest and the record to keep for the next conditional check.
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
 * import { type FetchedManifest, fetchManifestCached } from "./check.ts";
 * const fetched: FetchedManifest = await fetchManifestCached(config, "stable", { env });
 * assert.equal(fetched.manifest.version, "1.1.0");
 * assert.deepEqual(fetched.record, {
 *   url: "https://updates.ms11.com/stable/manifest.json",
 *   etag: '"m1"',
 *   last_modified: null,
 *   body: manifest,
 *   checked_at: "2026-11-27T00:00:00.000Z",
 * });
 * assert.deepEqual([fetched.notModified, fetched.trust], [false, null]); // signatures are off here
 * ```
 */
export interface FetchedManifest {
  /** The parsed manifest. */
  manifest: Manifest;
  /** What to store in the state's `manifests[channel]`. */
  record: ManifestCacheRecord;
  /** Whether the server answered 304 and the cached body was used. */
  notModified: boolean;
  /** The trust record to remember once accepted (null when signatures are not verified). */
  trust: TrustedRecord | null;
}

/**
 * Fetch and parse a channel's manifest from its configured update server.
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
 * import { ConfigError } from "../core/errors.ts";
 * import { fetchManifest } from "./check.ts";
 * assert.equal((await fetchManifest(config, "stable", { env })).version, "1.1.0");
 * assert.equal(requests[0].url, "https://updates.ms11.com/stable/manifest.json");
 * // Signatures are verified by default, and nothing is trusted until a key is pinned:
 * await assert.rejects(fetchManifest(validateConfig({}), "stable", { env }), ConfigError);
 * ```
 */
export async function fetchManifest(
  config: Config,
  channel: string,
  options: FetchManifestOptions = {},
): Promise<Manifest> {
  return (await fetchManifestCached(config, channel, options)).manifest;
}

/**
 * Fetch, parse and (with `security.verify_signatures`) verify a channel's manifest.
 *
 * The fetch is conditional when `options.cached` is given for the same URL: a 304 re-parses the
 * cached body (as strictly as a fresh one), a 200 replaces it. Whichever body is used, its
 * detached signature `manifest.json.sig` (always fetched afresh) must carry valid signatures of
 * those exact bytes from the channel's threshold of pinned keys, and its serial and expiry must
 * pass (see lib/trust/verify.ts).
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
 * import { fetchManifestCached } from "./check.ts";
 * const first = await fetchManifestCached(config, "stable");
 * assert.equal(first.manifest.version, "1.1.0");
 * assert.equal(first.trust?.serial, 1); // signed by the pinned key
 * const again = await fetchManifestCached(config, "stable", { cached: first.record, trusted: first.trust });
 * assert.equal(again.notModified, true); // a 304: the cached body, verified again
 * await server.shutdown();
 * ```
 */
export async function fetchManifestCached(
  config: Config,
  channel: string,
  options: FetchManifestOptions = {},
): Promise<FetchedManifest> {
  // Without an injected environment, the configured CA file (if any) is trusted too.
  using ownEnv = options.env === undefined
    ? await httpEnv({ caFile: config.security.ca_file })
    : null;
  const env = options.env ?? ownEnv!;
  const url = manifestUrl(config.update_servers[channel].base_url);
  const verify = config.security.verify_signatures;
  const pinned = verify && Object.hasOwn(config.security.signing_keys, channel)
    ? config.security.signing_keys[channel]
    : null;
  if (verify && pinned === null) {
    throw new ConfigError(
      `No signing keys are pinned for channel ${channel}: set security.signing_keys.${channel} in the configuration, or set security.verify_signatures to false`,
    );
  }
  const cached = options.cached?.url === url ? options.cached : null;
  const fetchOptions = {
    env,
    maxBytes: MAX_MANIFEST_BYTES,
    requireHttps: config.security.require_https,
    allowedDomains: config.security.allowed_domains,
    maxAttempts: config.max_retry_attempts,
    timeoutMs: Math.min(config.download_timeout_seconds, 60) * 1000,
  };
  const response = await fetchLimited(url, {
    ...fetchOptions,
    ifNoneMatch: cached?.etag ?? null,
    ifModifiedSince: cached?.etag ? null : cached?.last_modified ?? null,
  });
  const checkedAt = env.now().toISOString();
  let body: Uint8Array;
  let record: ManifestCacheRecord;
  if (response.status === 304) {
    if (cached === null) {
      throw new Error(`Manifest ${url} answered HTTP 304 Not Modified to an unconditional request`);
    }
    body = new TextEncoder().encode(cached.body);
    record = { ...cached, checked_at: checkedAt };
  } else {
    if (response.body === null) {
      throw new Error(`Manifest ${url} answered HTTP ${response.status} without a body`);
    }
    body = response.body;
    record = {
      url,
      etag: response.etag,
      last_modified: response.lastModified,
      body: new TextDecoder().decode(response.body),
      checked_at: checkedAt,
    };
  }
  const manifest = parseManifest(body, { url: response.url, channel });
  const notModified = response.status === 304;
  if (pinned === null) return { manifest, record, notModified, trust: null };
  const signatureUrl = `${url}.sig`;
  let signature: Uint8Array;
  try {
    const got = await fetchLimited(signatureUrl, {
      ...fetchOptions,
      maxBytes: MAX_SIGNATURE_BYTES,
    });
    signature = got.body ?? new Uint8Array(0);
  } catch (error) {
    throw new UntrustedManifestError(
      url,
      "signature-missing",
      `Manifest ${url} is refused: its signature ${signatureUrl} could not be fetched (${
        (error as Error).message
      })`,
    );
  }
  const trust = await verifyManifest(body, signature, {
    url,
    signatureUrl,
    channel,
    manifest,
    pinned,
    trusted: options.trusted ?? null,
    startedAt: options.startedAt ?? env.now(),
  });
  return { manifest, record, notModified, trust };
}

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
  /** `forced`, `never-checked`, `interval-elapsed`, `disabled` or `not-due`. */
  reason: "forced" | "never-checked" | "interval-elapsed" | "disabled" | "not-due";
  /** One line for people. */
  message: string;
  /** When the next automatic check is due (ISO 8601), when it is known. */
  next: string | null;
}

/**
 * Decide whether an unattended run checks the network now: never while `auto_check_enabled` is
 * false, otherwise when this channel was never checked or its last check (a 200 or a 304) is
 * `check_interval_hours` old or more. A last check in the future (a clock set back) counts as
 * due. `force` always checks. People running `ms11-update` or `check` are not subject to this.
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
  const intervalMs = config.check_interval_hours * 3_600_000;
  const nextMs = lastMs + intervalMs;
  if (now.getTime() >= nextMs || lastMs > now.getTime()) {
    return {
      due: true,
      reason: "interval-elapsed",
      message:
        `${channel} was last checked at ${last}, ${config.check_interval_hours} h or more ago`,
      next: null,
    };
  }
  const next = new Date(nextMs).toISOString();
  return {
    due: false,
    reason: "not-due",
    message:
      `Not checking ${channel}: last checked at ${last}; the next automatic check is due at ${next} (check_interval_hours ${config.check_interval_hours}; pass --force to check now)`,
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
 * const options: CheckOptions = { channel: "stable", platform: "linux-x64", current: "1.0.0", state, env };
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
  /** The install's state (staged build, build lifecycle: rejected and held versions). */
  state: State;
  /** Allow installing a lower version. */
  allowDowngrade?: boolean;
  /** Install even a version rolled back from. */
  force?: boolean;
  /** Clock and network. */
  env?: Env;
  /** When the run started: manifest expiry is judged against it (default: now). */
  startedAt?: Date;
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
 *   channel: "stable", platform: "linux-x64", current: "1.1.0", state: emptyState(), env,
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
  /** The manifest record to keep for the next conditional check. */
  manifestRecord: ManifestCacheRecord;
  /** Whether the manifest was unchanged (HTTP 304: no body fetched). */
  notModified: boolean;
  /** The trust record to store for the channel (null when signatures are not verified). */
  trust: TrustedRecord | null;
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
 *   channel: "stable", platform: "linux-x64", current: "1.0.0", state: emptyState(),
 * });
 * assert.equal(result.decision.message, "Update available: 1.0.0 -> 1.1.0 on stable");
 * assert.equal(result.artifact.size, 26); // the bytes published
 * await assert.rejects(
 *   checkChannel(config, { channel: "stable", platform: "windows-x64", current: null, state: emptyState() }),
 *   RangeError,
 * );
 * await server.shutdown();
 * ```
 */
export async function checkChannel(config: Config, options: CheckOptions): Promise<CheckResult> {
  const { channel, state } = options;
  const { manifest, record, notModified, trust } = await fetchManifestCached(config, channel, {
    env: options.env,
    cached: Object.hasOwn(state.manifests, channel) ? state.manifests[channel] : null,
    trusted: Object.hasOwn(state.trusted, channel) ? state.trusted[channel] : null,
    startedAt: options.startedAt,
  });
  const artifact = artifactFor(manifest, options.platform);
  const decision = decideUpdate(options.current, manifest.version, {
    channel: options.channel,
    allowDowngrade: options.allowDowngrade,
    staged: options.state.staged?.version ?? null,
    lifecycle: options.state.lifecycle,
    force: options.force,
  });
  return {
    channel: options.channel,
    current: options.current,
    manifest,
    artifact,
    decision,
    manifestRecord: record,
    notModified,
    trust,
  };
}
