/**
 * Fetching a channel's manifest and its signatures as one consistent pair: conditionally (a 304
 * costs no manifest bytes), size-capped, with the configuration's URL policy, parsed strictly
 * and verified (lib/trust/verify.ts). lib/trust/check.ts decides what to do with it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Config } from "../core/config_schema.ts";
import type { Env } from "../core/env.ts";
import { AccessDeniedError, ConfigError, UntrustedManifestError } from "../core/errors.ts";
import { loadCredentials, type RequestAuth } from "../net/credentials.ts";
import { fetchLimited, type FetchLimitedOptions } from "../net/fetch.ts";
import { httpEnv } from "../net/http_env.ts";
import type { ManifestCacheRecord } from "../root/state.ts";
import type { KeySet } from "./keys.ts";
import { type Manifest, manifestUrl, MAX_MANIFEST_BYTES, parseManifest } from "./manifest.ts";
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
 * import { fetchManifestCached, type FetchManifestOptions } from "./fetch_manifest.ts";
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
  /**
   * The channel's credentials, loaded once by the caller for the manifest, its signatures and the
   * artifact (default: loaded here from the channel's `auth`).
   */
  auth?: RequestAuth;
  /**
   * The base URL to fetch from: the channel's `base_url` or one of its `mirrors` (default
   * `base_url`); lib/trust/mirrors.ts tries them in turn.
   */
  baseUrl?: string;
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
 * import { type FetchedManifest, fetchManifestCached } from "./fetch_manifest.ts";
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
 * import { fetchManifest } from "./fetch_manifest.ts";
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
 * cached body (as strictly as a fresh one), a 200 replaces it. Whichever body is used, a
 * detached signature file (always fetched afresh) must carry valid signatures of those exact
 * bytes from the channel's threshold of pinned keys, and its serial and expiry must pass (see
 * lib/trust/verify.ts). The manifest and its signatures are read as one pair: a body fetched now
 * is verified with `signatures/<its sha256>.sig` when the server has it (else
 * `manifest.json.sig`); a cached body with `manifest.json.sig`, and when that refuses it (or it
 * no longer parses) the manifest is fetched again without the condition, since two manifests
 * can share a validator (docs/MANIFEST.md, "Reading the manifest and its signatures as one
 * pair").
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
 * import { fetchManifestCached } from "./fetch_manifest.ts";
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
  const url = manifestUrl(options.baseUrl ?? config.update_servers[channel].base_url);
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
  const auth = options.auth ?? { channel, credentials: await loadCredentials(config, channel) };
  const fetchOptions = {
    env,
    auth,
    maxBytes: MAX_MANIFEST_BYTES,
    requireHttps: config.security.require_https,
    allowedDomains: config.security.allowed_domains,
    maxAttempts: config.max_retry_attempts,
    timeoutMs: Math.min(config.download_timeout_seconds, 60) * 1000,
  };
  const pair = { url, channel, pinned, fetchOptions, options, env };
  if (cached === null) return await fetchPair(pair, null);
  const first = await fetchPair(pair, cached).catch((error) => ({ error }));
  if (!("error" in first)) return first;
  // The server said "not modified" but the kept body did not pass with the signature file
  // fetched now (or no longer parses): a validator can be shared by two manifests (nginx's ETag
  // is the modification second and the size), so the kept body may be the old one. Ask once
  // more without the condition: the manifest and its signatures are then read as one pair.
  if (!(first.error instanceof NotModifiedRefused)) throw first.error;
  return await fetchPair(pair, null);
}

/** A refusal of a kept body after a 304: the caller asks again unconditionally. */
class NotModifiedRefused extends Error {
  override name = "NotModifiedRefused";
}

/** What {@linkcode fetchPair} needs of {@linkcode fetchManifestCached}. */
interface PairContext {
  url: string;
  channel: string;
  pinned: KeySet | null;
  fetchOptions: FetchLimitedOptions & { env: Env };
  options: FetchManifestOptions;
  env: Env;
}

/**
 * Fetch the manifest (conditionally when `cached` is given) and its signatures, and verify the
 * pair. For a body fetched now, the signatures are read from `signatures/<sha256 of the
 * body>.sig` beside the manifest, which names what it signs (object-storage publishing writes
 * it; docs/DEPLOYMENT.md), and from `manifest.json.sig` when that is 404. For a kept body (a
 * 304) only `manifest.json.sig` is read: it is fetched afresh and says whether the kept body is
 * still the channel's manifest. Any failure of a kept body is a {@linkcode NotModifiedRefused}
 * whose cause is the error.
 */
async function fetchPair(
  ctx: PairContext,
  cached: ManifestCacheRecord | null,
): Promise<FetchedManifest> {
  const { url, channel, pinned, fetchOptions, options, env } = ctx;
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
  const notModified = response.status === 304;
  try {
    const manifest = parseManifest(body, { url: response.url, channel });
    if (pinned === null) return { manifest, record, notModified, trust: null };
    const signature = await fetchSignatures(url, notModified ? null : body, fetchOptions);
    const trust = await verifyManifest(body, signature.bytes, {
      url,
      signatureUrl: signature.url,
      channel,
      manifest,
      pinned,
      trusted: options.trusted ?? null,
      startedAt: options.startedAt ?? env.now(),
    });
    return { manifest, record, notModified, trust };
  } catch (error) {
    if (notModified) throw new NotModifiedRefused((error as Error).message, { cause: error });
    throw error;
  }
}

/**
 * The signature file of the manifest at `url`: for `body` (fetched now) its manifest-addressed
 * one when the server has it, else `manifest.json.sig`. A failure to fetch is an
 * {@linkcode UntrustedManifestError} (`signature-missing`).
 */
async function fetchSignatures(
  url: string,
  body: Uint8Array | null,
  fetchOptions: FetchLimitedOptions,
): Promise<{ url: string; bytes: Uint8Array }> {
  const get = async (signatureUrl: string, notFound: boolean) => {
    try {
      return await fetchLimited(signatureUrl, {
        ...fetchOptions,
        maxBytes: MAX_SIGNATURE_BYTES,
        notFound,
      });
    } catch (error) {
      // A 401 or 403 says what to configure: not hidden inside "could not be fetched".
      if (error instanceof AccessDeniedError) throw error;
      throw new UntrustedManifestError(
        url,
        "signature-missing",
        `Manifest ${url} is refused: its signature ${signatureUrl} could not be fetched (${
          (error as Error).message
        })`,
      );
    }
  };
  if (body !== null) {
    const addressed = signaturesUrl(url, body);
    const got = await get(addressed, true);
    if (got.status !== 404) return { url: addressed, bytes: got.body ?? new Uint8Array(0) };
  }
  const plain = `${url}.sig`;
  return { url: plain, bytes: (await get(plain, false)).body ?? new Uint8Array(0) };
}

/**
 * Options of {@linkcode verifyKept}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VerifyKeptOptions } from "./fetch_manifest.ts";
 * const options: Pick<VerifyKeptOptions, "baseUrl"> = { baseUrl: "https://cdn.ms11.com/stable" };
 * assert.ok(options.baseUrl.startsWith("https://"));
 * ```
 */
export interface VerifyKeptOptions {
  /** The channel's manifest as last fetched (`manifests[channel]` of the state). */
  cached: ManifestCacheRecord;
  /** The manifest accepted last on the channel: the kept one must be its exact bytes. */
  trusted: TrustedRecord;
  /** Where to fetch its signatures from (`signatures/<sha256>.sig` under this base URL). */
  baseUrl: string;
  /** Clock and network. */
  env: Env;
  /** The channel's credentials (sent when `baseUrl` is on one of their origins). */
  auth?: RequestAuth;
  /** When the run started: expiry is judged against it (default: now). */
  startedAt?: Date;
}

/**
 * Verify again the manifest accepted at an earlier check, kept in the state, when every server
 * of the channel serves an older one (a cache or mirror behind): its bytes must be those of the
 * trust record (`sha256`), its signatures are read from its manifest-addressed file
 * `signatures/<sha256>.sig` under `baseUrl` (immutable: a cache that is behind on
 * `manifest.json` still serves it, or fills it from the origin), and it must still pass
 * {@linkcode verifyManifest} (the keys trusted now, not expired). The state's record is
 * returned as it is, so the next check asks the same server again; `notModified` is true.
 *
 * @returns the kept manifest, or null when it cannot be used: not the accepted bytes, or no
 * addressed signature file on this server (a 404, as on a host serving a tree written before
 * `release` wrote it)
 * @throws {UntrustedManifestError} its signatures no longer verify, or it expired
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { testEnv } from "../core/env.ts";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * import { signaturesUrl, verifyKept } from "./fetch_manifest.ts";
 * const key = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * const body = JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", serial: 6, released_at: "2026-11-20T10:00:00Z",
 *   expires: "2026-12-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * });
 * const bytes = new TextEncoder().encode(body);
 * const addressed = signaturesUrl("https://cdn.ms11.com/stable/manifest.json", bytes);
 * const signature = await signDocument(bytes, [key]);
 * const env = testEnv(new Date("2026-11-27T00:00:00Z"), (input) =>
 *   Promise.resolve(new Request(input).url === addressed ? new Response(signature) : new Response("", { status: 404 })));
 * const config = validateConfig({ security: { signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } } } });
 * const cached = {
 *   url: "https://updates.ms11.com/stable/manifest.json", etag: null, last_modified: null, body,
 *   checked_at: "2026-11-26T00:00:00.000Z",
 * };
 * const { createHash } = await import("node:crypto");
 * const trusted = {
 *   serial: 6, sha256: createHash("sha256").update(bytes).digest("hex"), version: "1.1.0",
 *   expires: "2026-12-20T10:00:00Z", accepted_at: "2026-11-26T00:00:00.000Z", keys: null, pinned: null,
 * };
 * const kept = await verifyKept(config, "stable", { cached, trusted, baseUrl: "https://cdn.ms11.com/stable", env });
 * assert.equal(kept?.manifest.version, "1.1.0");
 * assert.equal(kept?.manifest.artifacts["linux-x64"].url, "https://cdn.ms11.com/stable/1.1.0/ms11");
 * assert.deepEqual([kept?.record, kept?.notModified, kept?.trust], [cached, true, trusted]);
 * // Elsewhere there is no addressed signature file: the kept manifest cannot be used there.
 * assert.equal(await verifyKept(config, "stable", { cached, trusted, baseUrl: "https://updates.ms11.com/stable", env }), null);
 * ```
 */
export async function verifyKept(
  config: Config,
  channel: string,
  options: VerifyKeptOptions,
): Promise<FetchedManifest | null> {
  const { cached, trusted, env } = options;
  const body = new TextEncoder().encode(cached.body);
  if (createHash("sha256").update(body).digest("hex") !== trusted.sha256) return null;
  const pinned = Object.hasOwn(config.security.signing_keys, channel)
    ? config.security.signing_keys[channel]
    : null;
  if (!config.security.verify_signatures || pinned === null) return null;
  const url = manifestUrl(options.baseUrl);
  const signatureUrl = signaturesUrl(url, body);
  const response = await fetchLimited(signatureUrl, {
    env,
    maxBytes: MAX_SIGNATURE_BYTES,
    requireHttps: config.security.require_https,
    allowedDomains: config.security.allowed_domains,
    maxAttempts: config.max_retry_attempts,
    timeoutMs: Math.min(config.download_timeout_seconds, 60) * 1000,
    notFound: true,
    auth: options.auth,
  });
  if (response.status === 404) return null;
  const manifest = parseManifest(body, { url, channel });
  const trust = await verifyManifest(body, response.body ?? new Uint8Array(0), {
    url,
    signatureUrl,
    channel,
    manifest,
    pinned,
    trusted,
    startedAt: options.startedAt ?? env.now(),
  });
  return { manifest, record: cached, notModified: true, trust };
}

/**
 * The manifest-addressed signature file of a manifest's exact bytes:
 * `<folder of the manifest>/signatures/<sha256 of the bytes>.sig`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signaturesUrl } from "./fetch_manifest.ts";
 * assert.equal(
 *   signaturesUrl("https://u.ms11.com/stable/manifest.json", new TextEncoder().encode("abc")),
 *   "https://u.ms11.com/stable/signatures/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.sig",
 * );
 * ```
 */
export function signaturesUrl(url: string, bytes: Uint8Array): string {
  const digest = createHash("sha256").update(bytes).digest("hex");
  return new URL(`signatures/${digest}.sig`, url).href;
}
