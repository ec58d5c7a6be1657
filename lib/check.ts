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

/** Options of {@linkcode fetchManifest}. */
export interface FetchManifestOptions {
  /** Clock and network. */
  env?: Env;
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
  const url = manifestUrl(config.update_servers[channel].base_url);
  const response = await fetchLimited(url, {
    env: options.env ?? realEnv(),
    maxBytes: MAX_MANIFEST_BYTES,
    requireHttps: config.security.require_https,
    allowedDomains: config.security.allowed_domains,
    maxAttempts: config.max_retry_attempts,
    timeoutMs: Math.min(config.download_timeout_seconds, 60) * 1000,
  });
  if (response.body === null) {
    throw new Error(`Manifest ${url} answered HTTP ${response.status} without a body`);
  }
  return parseManifest(response.body, { url: response.url, channel });
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
  const manifest = await fetchManifest(config, options.channel, { env: options.env });
  const artifact = artifactFor(manifest, options.platform);
  const decision = decideUpdate(options.current, manifest.version, {
    channel: options.channel,
    allowDowngrade: options.allowDowngrade,
    staged: options.state.staged?.version ?? null,
    rejected: options.state.rejected,
    force: options.force,
  });
  return { channel: options.channel, current: options.current, manifest, artifact, decision };
}
