/**
 * Checking a channel: fetch its manifest (size-capped, with the configuration's URL policy),
 * parse it strictly, pick this platform's artifact and decide with {@linkcode decideUpdate}.
 *
 * @module
 */
import { decideUpdate, type UpdateDecision } from "./channel.ts";
import type { Config } from "./config.ts";
import { fetchLimited } from "./download.ts";
import { type Env, realEnv } from "./env.ts";
import {
  type Artifact,
  artifactFor,
  type Manifest,
  manifestUrl,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from "./manifest.ts";
import type { State } from "./state.ts";
import { ConfigError, UntrustedManifestError } from "./errors.ts";
import { MAX_SIGNATURE_BYTES, type TrustedRecord, verifyManifest } from "./trust.ts";

/** Options of {@linkcode fetchManifest}. */
export interface FetchManifestOptions {
  /** Clock and network. */
  env?: Env;
  /** What was accepted before on this channel (rollback protection, rotated keys). */
  trusted?: TrustedRecord | null;
  /** When the run started: expiry is judged against it (default: now). */
  startedAt?: Date;
}

/** A fetched manifest and, when signatures are verified, the trust record to store. */
export interface VerifiedManifest {
  /** The manifest. */
  manifest: Manifest;
  /** The record to remember once accepted (null when signatures are not verified). */
  trust: TrustedRecord | null;
}

/**
 * Fetch, parse and (with `security.verify_signatures`) verify a channel's manifest: its detached
 * signature `manifest.json.sig` must carry valid signatures of the exact bytes from the channel's
 * threshold of pinned keys, and its serial and expiry must pass (see lib/trust.ts).
 *
 * @example
 * ```ts ignore
 * import { defaultConfig } from "./config.ts";
 * import { fetchVerifiedManifest } from "./check.ts";
 * const { manifest, trust } = await fetchVerifiedManifest(defaultConfig(), "stable");
 * console.log(manifest.version, trust?.serial);
 * ```
 */
export async function fetchVerifiedManifest(
  config: Config,
  channel: string,
  options: FetchManifestOptions = {},
): Promise<VerifiedManifest> {
  const env = options.env ?? realEnv();
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
  const fetchOptions = {
    env,
    maxBytes: MAX_MANIFEST_BYTES,
    requireHttps: config.security.require_https,
    allowedDomains: config.security.allowed_domains,
    maxAttempts: config.max_retry_attempts,
    timeoutMs: Math.min(config.download_timeout_seconds, 60) * 1000,
  };
  const response = await fetchLimited(url, fetchOptions);
  if (response.body === null) {
    throw new Error(`Manifest ${url} answered HTTP ${response.status} without a body`);
  }
  const manifest = parseManifest(response.body, { url: response.url, channel });
  if (pinned === null) return { manifest, trust: null };
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
  const trust = await verifyManifest(response.body, signature, {
    url,
    signatureUrl,
    channel,
    manifest,
    pinned,
    trusted: options.trusted ?? null,
    startedAt: options.startedAt ?? env.now(),
  });
  return { manifest, trust };
}

/**
 * Fetch and parse a channel's manifest from its configured update server.
 *
 * @example
 * ```ts ignore
 * import { defaultConfig } from "./config.ts";
 * import { fetchManifest } from "./check.ts";
 * const manifest = await fetchManifest(defaultConfig(), "stable");
 * console.log(manifest.version);
 * ```
 */
export async function fetchManifest(
  config: Config,
  channel: string,
  options: FetchManifestOptions = {},
): Promise<Manifest> {
  return (await fetchVerifiedManifest(config, channel, options)).manifest;
}

/** Options of {@linkcode checkChannel}. */
export interface CheckOptions {
  /** The channel to check. */
  channel: string;
  /** The platform key to look up in the manifest. */
  platform: string;
  /** The installed version (null when nothing is installed). */
  current: string | null;
  /** The install's state (staged build, rejected versions). */
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

/** The outcome of a check. */
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
  /** The trust record to store for the channel (null when signatures are not verified). */
  trust: TrustedRecord | null;
}

/**
 * Fetch a channel's manifest and decide whether to update. Touches nothing on disk.
 *
 * @example
 * ```ts ignore
 * import { defaultConfig } from "./config.ts";
 * import { checkChannel } from "./check.ts";
 * import { emptyState } from "./state.ts";
 * const result = await checkChannel(defaultConfig(), {
 *   channel: "stable", platform: "linux-x64", current: "1.0.0", state: emptyState(),
 * });
 * console.log(result.decision.message);
 * ```
 */
export async function checkChannel(config: Config, options: CheckOptions): Promise<CheckResult> {
  const { manifest, trust } = await fetchVerifiedManifest(config, options.channel, {
    env: options.env,
    trusted: Object.hasOwn(options.state.trusted, options.channel)
      ? options.state.trusted[options.channel]
      : null,
    startedAt: options.startedAt,
  });
  const artifact = artifactFor(manifest, options.platform);
  const decision = decideUpdate(options.current, manifest.version, {
    channel: options.channel,
    allowDowngrade: options.allowDowngrade,
    staged: options.state.staged?.version ?? null,
    rejected: options.state.rejected,
    force: options.force,
  });
  return {
    channel: options.channel,
    current: options.current,
    manifest,
    artifact,
    decision,
    trust,
  };
}
