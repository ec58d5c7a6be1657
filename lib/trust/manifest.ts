/**
 * The per-channel release manifest (`<base_url>/manifest.json`, see docs/MANIFEST.md).
 * Parsing is pure and strict: wrong types, missing fields, trailing garbage and documents over
 * {@linkcode MAX_MANIFEST_BYTES} are errors. Fields this client does not know are ignored, so that
 * later additions (signatures, expiry, rollout, deltas) do not break it; a change old clients
 * must not ignore raises `schema`.
 *
 * @module
 */
import type { Rollout } from "../core/rollout.ts";
import { parseRolloutFields, type PreviousRelease, type Yank } from "./_manifest_rollout.ts";
import { type KeySet, parseKeySet } from "./keys.ts";
import {
  type Artifact,
  parseArtifact,
  parseUpdater,
  type UpdaterRelease,
} from "./_manifest_artifact.ts";
export type { KeySet };
export type { Delta, DeltaKind } from "./_manifest_deltas.ts";
export {
  type Artifact,
  ARTIFACT_KINDS,
  type ArtifactKind,
  HASH_ALGORITHMS,
  type UpdaterRelease,
} from "./_manifest_artifact.ts";
import { isVersion, parseVersion } from "../core/version.ts";
import { escapeText } from "../core/text.ts";
import {
  type FieldFail,
  isChannelName,
  isIsoTime,
  isObject,
  isPlatformKey,
  showValue as show,
} from "../core/validate.ts";

/**
 * The largest manifest accepted, in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_MANIFEST_BYTES, parseManifest } from "./manifest.ts";
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * assert.throws(() => parseManifest(" ".repeat(MAX_MANIFEST_BYTES + 1), { url }), {
 *   name: "RangeError",
 *   message: `Manifest ${url} is 65537 bytes, more than the 65536 allowed`,
 * });
 * ```
 */
export const MAX_MANIFEST_BYTES = 65536;

/**
 * The manifest schema this client understands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { MANIFEST_SCHEMA, parseManifest } from "./manifest.ts";
 * assert.equal(parseManifest(JSON.stringify(document), { url }).schema, MANIFEST_SCHEMA);
 * assert.throws(
 *   () => parseManifest(JSON.stringify({ ...document, schema: MANIFEST_SCHEMA + 1 }), { url }),
 *   { message: `Manifest ${url}: schema 2 is newer than this client understands (1); update ms11-update` },
 * );
 * ```
 */
export const MANIFEST_SCHEMA = 1;

/**
 * A parsed, validated manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { type Manifest, parseManifest } from "./manifest.ts";
 * const manifest: Manifest = parseManifest(JSON.stringify({ ...document, future_field: true }), { url });
 * assert.equal(manifest.version, "1.1.0");
 * assert.deepEqual([manifest.notes, manifest.serial, manifest.expires, manifest.next_keys, manifest.updater], [null, null, null, null, null]);
 * ```
 */
export interface Manifest {
  /** Manifest schema version (1). */
  schema: number;
  /** The channel this manifest is for. */
  channel: string;
  /** The release's version (semver, canonical form). */
  version: string;
  /** When the release was published (ISO 8601). */
  released_at: string;
  /** Release notes, when the publisher gave some. */
  notes: string | null;
  /** Build per platform key (`linux-x64`, …). */
  artifacts: Record<string, Artifact>;
  /** Rollback protection: grows with every publication on the channel (null when absent). */
  serial: number | null;
  /** Freeze protection: the manifest is refused after this time (ISO 8601; null when absent). */
  expires: string | null;
  /** Key rotation: the channel's next key set, announced under the current keys. */
  next_keys: KeySet | null;
  /** A new ms11-update for installs to update themselves with (null when absent). */
  updater: UpdaterRelease | null;
  /** A staged rollout of `version` (null: every install). */
  rollout: Rollout | null;
  /** What installs outside the rollout's cohort are offered (null: nothing). */
  previous: PreviousRelease<Artifact> | null;
  /** Versions the publisher pulled: never installed, and left where installed. */
  yanked: Yank[];
  /** Installs below this version update at once, whatever the rollout (null: none). */
  minimum_version: string | null;
}

/**
 * Options of {@linkcode parseManifest}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { parseManifest, type ParseManifestOptions } from "./manifest.ts";
 * const options: ParseManifestOptions = { url, channel: "canary" };
 * assert.throws(() => parseManifest(JSON.stringify(document), options), {
 *   message: `Manifest ${url} is for channel "stable", not the requested "canary"`,
 * });
 * ```
 */
export interface ParseManifestOptions {
  /** The URL the manifest was fetched from: relative artifact URLs resolve against it. */
  url: string;
  /** When given, a manifest for another channel is refused. */
  channel?: string;
}

/**
 * Parse and validate a manifest document.
 *
 * Throws `RangeError` for an oversize document, `SyntaxError` for invalid JSON (trailing garbage
 * included) and `TypeError` for a field of the wrong type or value; each message names the
 * manifest URL, the field and the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { parseManifest } from "./manifest.ts";
 * const manifest = parseManifest(JSON.stringify(document), { url });
 * assert.equal(manifest.artifacts["linux-x64"].url, "https://updates.ms11.com/stable/1.1.0/ms11");
 * assert.throws(() => parseManifest(JSON.stringify(document) + "x", { url }), SyntaxError);
 * assert.throws(() => parseManifest(JSON.stringify({ ...document, version: "1.1" }), { url }), {
 *   name: "TypeError",
 *   message: `Manifest ${url}: version must be a semver version, got "1.1"`,
 * });
 * ```
 */
export function parseManifest(
  document: string | Uint8Array,
  options: ParseManifestOptions,
): Manifest {
  const where = `Manifest ${options.url}`;
  const size = typeof document === "string"
    ? new TextEncoder().encode(document).length
    : document.length;
  if (size > MAX_MANIFEST_BYTES) {
    throw new RangeError(`${where} is ${size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`);
  }
  let text: string;
  try {
    // A leading byte order mark is skipped, given as bytes (the decoder does it) or as text.
    text = typeof document === "string"
      ? document.replace(/^\uFEFF/, "")
      : new TextDecoder("utf-8", { fatal: true }).decode(document);
  } catch {
    throw new SyntaxError(`${where} is not valid UTF-8`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`${where} is not valid JSON: ${escapeText((error as Error).message)}`);
  }
  const fail: FieldFail = (field, expected, value) => {
    throw new TypeError(`${where}: ${field} must be ${expected}, got ${show(value)}`);
  };
  if (!isObject(raw)) fail("the document", "a JSON object", raw);
  const doc = raw as Record<string, unknown>;

  if (!Number.isInteger(doc.schema) || (doc.schema as number) < 1) {
    fail("schema", "a positive integer", doc.schema);
  }
  if ((doc.schema as number) > MANIFEST_SCHEMA) {
    throw new TypeError(
      `${where}: schema ${doc.schema} is newer than this client understands (${MANIFEST_SCHEMA}); update ms11-update`,
    );
  }
  if (!isChannelName(doc.channel)) {
    fail("channel", "a channel name", doc.channel);
  }
  if (options.channel !== undefined && doc.channel !== options.channel) {
    throw new TypeError(
      `${where} is for channel ${show(doc.channel)}, not the requested ${show(options.channel)}`,
    );
  }
  if (!isVersion(doc.version)) fail("version", "a semver version", doc.version);
  if (typeof doc.released_at !== "string" || !isIsoTime(doc.released_at)) {
    fail("released_at", "an ISO 8601 time such as 2026-11-20T10:00:00Z", doc.released_at);
  }
  if (doc.notes !== undefined && doc.notes !== null && typeof doc.notes !== "string") {
    fail("notes", "a string", doc.notes);
  }
  if (!isObject(doc.artifacts)) fail("artifacts", "an object keyed by platform", doc.artifacts);
  const artifacts: Record<string, Artifact> = {};
  for (const [platform, value] of Object.entries(doc.artifacts as Record<string, unknown>)) {
    if (!isPlatformKey(platform)) fail("artifacts key", "a platform such as linux-x64", platform);
    artifacts[platform] = parseArtifact(`artifacts.${platform}`, value, {
      where,
      url: options.url,
      fail,
    });
  }
  if (Object.keys(artifacts).length === 0) {
    fail("artifacts", "an object with at least one platform", doc.artifacts);
  }
  if (
    doc.serial !== undefined && (!Number.isSafeInteger(doc.serial) || (doc.serial as number) < 1)
  ) {
    fail("serial", "a positive integer", doc.serial);
  }
  if (doc.expires !== undefined && (typeof doc.expires !== "string" || !isIsoTime(doc.expires))) {
    fail("expires", "an ISO 8601 time such as 2026-12-20T10:00:00Z", doc.expires);
  }
  let next_keys: KeySet | null = null;
  if (doc.next_keys !== undefined && doc.next_keys !== null) {
    next_keys = parseKeySet(doc.next_keys, "next_keys", fail);
  }
  return {
    schema: doc.schema as number,
    channel: doc.channel as string,
    version: parseVersion(doc.version as string),
    released_at: doc.released_at as string,
    notes: (doc.notes as string | undefined) ?? null,
    artifacts,
    serial: (doc.serial as number | undefined) ?? null,
    expires: (doc.expires as string | undefined) ?? null,
    next_keys,
    updater: parseUpdater(doc.updater, { where, url: options.url, fail }),
    ...parseRolloutFields<Artifact>(doc, {
      fail,
      isTime: isIsoTime,
      artifacts: (field, value) => {
        if (!isObject(value) || Object.keys(value).length === 0) {
          fail(field, "an object with at least one platform", value);
        }
        const out: Record<string, Artifact> = {};
        for (const [platform, entry] of Object.entries(value as Record<string, unknown>)) {
          if (!isPlatformKey(platform)) {
            fail(`${field} key`, "a platform such as linux-x64", platform);
          }
          out[platform] = parseArtifact(`${field}.${platform}`, entry, {
            where,
            url: options.url,
            fail,
          });
        }
        return out;
      },
    }),
  };
}

/**
 * The manifest URL of a channel's base URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { manifestUrl } from "./manifest.ts";
 * assert.equal(manifestUrl("https://u.ms11.com/stable"), "https://u.ms11.com/stable/manifest.json");
 * assert.equal(manifestUrl("https://u.ms11.com/stable//"), "https://u.ms11.com/stable/manifest.json");
 * ```
 */
export function manifestUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/manifest.json`;
}

/**
 * The artifact for `platform`, or a `RangeError` listing the platforms the release has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { artifactFor, parseManifest } from "./manifest.ts";
 * const manifest = parseManifest(JSON.stringify(document), { url });
 * assert.equal(artifactFor(manifest, "linux-x64").size, 3);
 * assert.throws(() => artifactFor(manifest, "windows-x64"), {
 *   name: "RangeError",
 *   message: "Release 1.1.0 on stable has no build for platform windows-x64 (it has linux-x64)",
 * });
 * ```
 */
export function artifactFor(manifest: Manifest, platform: string): Artifact {
  const artifact = manifest.artifacts[platform];
  if (!artifact) {
    throw new RangeError(
      `Release ${manifest.version} on ${manifest.channel} has no build for platform ${platform} (it has ${
        Object.keys(manifest.artifacts).join(", ") || "none"
      })`,
    );
  }
  return artifact;
}
