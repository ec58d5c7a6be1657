/**
 * A channel served by several base URLs (`base_url` and `mirrors` in the configuration): the
 * order they are tried in (the one that served last first), the manifest fetched from the first
 * that gives one this client can accept, and the artifact's URL on each of them. Signatures make
 * any mirror as good as another: a mirror only decides whether the client gets an answer.
 *
 * A mirror that fails (network errors, 5xx and timeouts after its retries, a 404, a refused
 * signature) is skipped. A mirror that serves a validly signed manifest older than the one
 * accepted before (a lower serial: a cache or mirror behind) is skipped too: rollback
 * protection never accepts it, and it is not an attack that blocks the update. When no mirror
 * has a manifest at least as new as the accepted one, the accepted manifest (kept in the state)
 * still stands if it verifies again with its manifest-addressed signatures (`verifyKept`): the
 * update it offered goes on from the caches that are behind, since artifacts never change. Only
 * when that is not possible either is the check an error, a {@linkcode ManifestBehindError}
 * that says to try later, and nothing changes.
 *
 * @module
 */
import { baseUrls, type Config, type UpdateServer } from "../core/config_schema.ts";
import { ConfigError, ManifestBehindError, UntrustedManifestError } from "../core/errors.ts";
import {
  type FetchedManifest,
  fetchManifestCached,
  type FetchManifestOptions,
  verifyKept,
} from "./fetch_manifest.ts";
import { artifactFor, manifestUrl, parseManifest } from "./manifest.ts";
import { loadCredentials } from "../net/credentials.ts";
import { httpEnv } from "../net/http_env.ts";

/**
 * A mirror skipped on the way to the one that served.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SkippedMirror } from "./mirrors.ts";
 * const skipped: SkippedMirror = {
 *   base_url: "https://cdn.ms11.com/stable",
 *   outcome: "behind",
 *   message: "https://cdn.ms11.com/stable/manifest.json serves serial 4 (1.0.0)",
 * };
 * assert.equal(skipped.outcome, "behind");
 * ```
 */
export interface SkippedMirror {
  /** The mirror's base URL. */
  base_url: string;
  /** `behind` (a valid, older manifest) or `failed` (anything else). */
  outcome: "behind" | "failed";
  /** One line: what it served, or why it failed. */
  message: string;
}

/**
 * A manifest fetched from one of a channel's mirrors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MirrorFetched } from "./mirrors.ts";
 * const where: Pick<MirrorFetched, "baseUrl" | "skipped" | "kept"> = {
 *   baseUrl: "https://updates.ms11.com/stable",
 *   skipped: [],
 *   kept: false,
 * };
 * assert.equal(where.skipped.length, 0);
 * ```
 */
export interface MirrorFetched extends FetchedManifest {
  /** The base URL that served it. */
  baseUrl: string;
  /** The mirrors tried before it, in order. */
  skipped: SkippedMirror[];
  /**
   * Whether every mirror that answered was behind, so that this is the manifest accepted at an
   * earlier check, kept in the state and verified again (`verifyKept`); `baseUrl` is then the
   * mirror its signatures came from.
   */
  kept: boolean;
}

/**
 * The order in which a channel's base URLs are tried: the configured order (`base_url`, then
 * `mirrors`), except that the one whose manifest URL is `remembered` (the state's record of the
 * last manifest accepted, `manifests[channel].url`) comes first. An unknown or null
 * `remembered` keeps the configured order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { mirrorOrder } from "./mirrors.ts";
 * const server = validateConfig({
 *   update_servers: {
 *     stable: {
 *       base_url: "https://updates.ms11.com/stable",
 *       mirrors: ["https://cdn.ms11.com/a/stable", "https://cdn.ms11.com/b/stable"],
 *     },
 *   },
 * }).update_servers.stable;
 * assert.deepEqual(mirrorOrder(server, "https://cdn.ms11.com/b/stable/manifest.json"), [
 *   "https://cdn.ms11.com/b/stable",
 *   "https://updates.ms11.com/stable",
 *   "https://cdn.ms11.com/a/stable",
 * ]);
 * assert.equal(mirrorOrder(server, null)[0], "https://updates.ms11.com/stable");
 * assert.equal(mirrorOrder(server, "https://gone.example/manifest.json")[0], "https://updates.ms11.com/stable");
 * ```
 */
export function mirrorOrder(server: UpdateServer, remembered: string | null): string[] {
  const bases = baseUrls(server);
  const i = remembered === null ? -1 : bases.findIndex((b) => manifestUrl(b) === remembered);
  return i <= 0 ? bases : [bases[i], ...bases.filter((_, j) => j !== i)];
}

/**
 * Options of {@linkcode fetchFromMirrors}: those of `fetchManifestCached` (its `baseUrl` is
 * chosen here), plus the manifest URL that served last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FetchFromMirrorsOptions } from "./mirrors.ts";
 * const options: FetchFromMirrorsOptions = { remembered: "https://cdn.ms11.com/stable/manifest.json" };
 * assert.ok(options.remembered?.endsWith("/manifest.json"));
 * ```
 */
export interface FetchFromMirrorsOptions extends Omit<FetchManifestOptions, "baseUrl"> {
  /** The manifest URL that served the channel last (default: the cached record's URL). */
  remembered?: string | null;
}

/**
 * Fetch and verify a channel's manifest from the first of its mirrors
 * ({@linkcode mirrorOrder}) that gives one this client accepts, skipping those that fail or are
 * behind (see the module's description); when every one is behind or failed, the manifest
 * accepted before (`options.cached`, when it is the `options.trusted` one) verified again
 * (`kept: true`). With one base URL, its failure is thrown as it is; with several, one error
 * names every mirror's. A configuration error (no pinned keys) is thrown at once.
 *
 * @throws {ManifestBehindError} no mirror has a manifest at least as new as the one accepted,
 * at least one serves an older valid one, and the accepted one cannot be verified again
 * @throws {UntrustedManifestError} every mirror's manifest was refused (the first one's reason)
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
 * const down = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("down for maintenance", { status: 503 }));
 * const server = serveReleases(`${work}/tree`);
 * const config = validateConfig({
 *   max_retry_attempts: 1,
 *   update_servers: {
 *     stable: { base_url: `http://127.0.0.1:${down.addr.port}/stable`, mirrors: [`${server.url}/stable`] },
 *   },
 *   security: {
 *     require_https: false,
 *     allowed_domains: ["127.0.0.1"],
 *     signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
 *   },
 * });
 * import { fetchFromMirrors } from "./mirrors.ts";
 * const fetched = await fetchFromMirrors(config, "stable");
 * assert.equal(fetched.manifest.version, "1.1.0");
 * assert.equal(fetched.baseUrl, `${server.url}/stable`);
 * assert.deepEqual(fetched.skipped.map((s) => s.outcome), ["failed"]);
 * assert.match(fetched.skipped[0].message, /HTTP 503 Service Unavailable/);
 * await down.shutdown();
 * await server.shutdown();
 * ```
 */
export async function fetchFromMirrors(
  config: Config,
  channel: string,
  options: FetchFromMirrorsOptions = {},
): Promise<MirrorFetched> {
  const remembered = options.remembered !== undefined
    ? options.remembered
    : options.cached?.url ?? null;
  // Without an injected environment, the configured CA file (if any) is trusted too.
  using ownEnv = options.env === undefined
    ? await httpEnv({ caFile: config.security.ca_file })
    : null;
  const env = options.env ?? ownEnv!;
  const order = mirrorOrder(config.update_servers[channel], remembered);
  // The channel's credentials, read once for every server tried: each request carries them only
  // to their own origins (the base URL's and auth.send_to), so a mirror elsewhere gets none.
  const auth = options.auth ?? { channel, credentials: await loadCredentials(config, channel) };
  const skipped: SkippedMirror[] = [];
  const errors: unknown[] = [];
  for (const baseUrl of order) {
    try {
      const fetched = await fetchManifestCached(config, channel, {
        ...options,
        env,
        baseUrl,
        auth,
      });
      return { ...fetched, baseUrl, skipped, kept: false };
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      errors.push(error);
      skipped.push(skippedMirror(baseUrl, error));
    }
  }
  const trusted = options.trusted ?? null;
  const behind = skipped.some((s) => s.outcome === "behind");
  if (behind && trusted !== null && options.cached != null) {
    // The update the user was offered must not wait for the caches: the manifest accepted
    // before still stands when it verifies again with its own signatures.
    for (const baseUrl of order) {
      const kept = await verifyKept(config, channel, {
        cached: options.cached,
        trusted,
        baseUrl,
        env,
        startedAt: options.startedAt,
        auth,
      }).catch(() => null);
      if (kept !== null) return { ...kept, baseUrl, skipped, kept: true };
    }
  }
  if (behind && trusted !== null) {
    const accepted = `serial ${trusted.serial} (${trusted.version}) already accepted on ${channel}`;
    const later = "nothing was accepted, try again later";
    if (order.length === 1) {
      throw new ManifestBehindError(
        channel,
        trusted.serial,
        `${
          skipped[0].message
        }, older than ${accepted}: the server or a cache in front of it is behind, or replays an old release; ${later}`,
      );
    }
    throw new ManifestBehindError(
      channel,
      trusted.serial,
      `No mirror of ${channel} has a manifest as new as ${accepted}: ${
        skipped.map((s) => s.message).join("; ")
      }; ${later}`,
    );
  }
  if (order.length === 1) throw errors[0];
  const message = `No mirror of ${channel} could be used (${order.length} tried): ${
    skipped.map((s) => s.message).join("; ")
  }`;
  const first = errors[0];
  if (errors.every((e) => e instanceof UntrustedManifestError)) {
    const untrusted = first as UntrustedManifestError;
    throw new UntrustedManifestError(untrusted.url, untrusted.reason, message, untrusted.served);
  }
  throw new Error(message, { cause: first });
}

/** What a mirror's failure says: behind (a valid older manifest), or failed. */
function skippedMirror(baseUrl: string, error: unknown): SkippedMirror {
  if (
    error instanceof UntrustedManifestError && error.reason === "rollback" && error.served !== null
  ) {
    const { serial, version } = error.served;
    return {
      base_url: baseUrl,
      outcome: "behind",
      message: `Manifest ${error.url} has serial ${serial} (${version})`,
    };
  }
  return { base_url: baseUrl, outcome: "failed", message: (error as Error).message };
}

/**
 * The URLs of this platform's artifact, the mirror that served the manifest first, then the
 * others in the order given: a relative artifact URL resolves against each mirror's manifest
 * URL (an absolute one is the same everywhere, and listed once).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseManifest } from "./manifest.ts";
 * import { artifactUrls } from "./mirrors.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * }));
 * const served = "https://cdn.ms11.com/stable";
 * const manifest = parseManifest(bytes, { url: `${served}/manifest.json` });
 * assert.deepEqual(
 *   artifactUrls(manifest, bytes, {
 *     platform: "linux-x64",
 *     served,
 *     bases: ["https://updates.ms11.com/stable", served],
 *   }),
 *   ["https://cdn.ms11.com/stable/1.1.0/ms11", "https://updates.ms11.com/stable/1.1.0/ms11"],
 * );
 * ```
 */
export function artifactUrls(
  manifest: FetchedManifest["manifest"],
  bytes: Uint8Array,
  where: {
    platform: string;
    served: string;
    bases: readonly string[];
    /** Which of each mirror's releases is meant (the offered one; default: the manifest's own). */
    view?: (manifest: FetchedManifest["manifest"]) => FetchedManifest["manifest"];
  },
): string[] {
  const view = where.view ?? ((m) => m);
  const urls = [artifactFor(manifest, where.platform).url];
  for (const base of where.bases) {
    if (base === where.served) continue;
    try {
      const other = parseManifest(bytes, { url: manifestUrl(base) });
      urls.push(artifactFor(view(other), where.platform).url);
    } catch {
      // The same bytes parsed once already: cannot fail differently.
    }
  }
  return [...new Set(urls)];
}
