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
import { type Delta, parseDeltas } from "./_manifest_deltas.ts";
export type { KeySet };
export type { Delta, DeltaKind } from "./_manifest_deltas.ts";
import { isVersion, parseVersion } from "../core/version.ts";
import { escapeText } from "../core/text.ts";
import {
  type FieldFail,
  isChannelName,
  isObject,
  isPlatformKey,
  isSha256Hex,
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
 * How an artifact is installed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kindOfFile } from "../publish/release.ts";
 * import type { ArtifactKind } from "./manifest.ts";
 * const kind: ArtifactKind = kindOfFile("ms11-1.1.0.zip");
 * assert.equal(kind, "zip");
 * ```
 */
export type ArtifactKind = "executable" | "tar.gz" | "zip";

/**
 * The kinds of artifact this client installs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { ARTIFACT_KINDS, parseManifest } from "./manifest.ts";
 * assert.deepEqual(ARTIFACT_KINDS, ["executable", "tar.gz", "zip"]);
 * const dmg = { ...document, artifacts: { "macos-arm64": { ...document.artifacts["linux-x64"], kind: "dmg" } } };
 * assert.throws(() => parseManifest(JSON.stringify(dmg), { url }), {
 *   message: `Manifest ${url}: artifacts.macos-arm64.kind must be one of executable, tar.gz, zip, got "dmg"`,
 * });
 * ```
 */
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ["executable", "tar.gz", "zip"];

/**
 * One platform's build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { type Artifact, artifactFor, parseManifest } from "./manifest.ts";
 * const artifact: Artifact = artifactFor(parseManifest(JSON.stringify(document), { url }), "linux-x64");
 * assert.deepEqual(artifact, {
 *   url: "https://updates.ms11.com/stable/1.1.0/ms11", // resolved against the manifest's URL
 *   size: 3,
 *   sha256: "a".repeat(64),
 *   kind: "executable",
 * });
 * ```
 */
export interface Artifact {
  /** Absolute URL (relative URLs in the document are resolved against the manifest's URL). */
  url: string;
  /** Exact size in bytes. */
  size: number;
  /** SHA-256 of the artifact file, lowercase hex. */
  sha256: string;
  /** `executable` (a single file), `tar.gz` or `zip` (a directory build). */
  kind: ArtifactKind;
  /**
   * For an archive: the bytes of content it holds once extracted, when the manifest declares
   * it (`expanded_size`). Extraction stops at the first byte over it; the disk-space preflight
   * counts it. Absent for an executable and for manifests that do not declare it.
   */
  expanded_size?: number;
  /** Deltas from earlier versions to this build (docs/DELTA.md), when the manifest lists any. */
  deltas?: Delta[];
}

/**
 * The hash algorithms this client verifies artifacts with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { HASH_ALGORITHMS, parseManifest } from "./manifest.ts";
 * assert.deepEqual(HASH_ALGORITHMS, ["sha256"]);
 * const { sha256: _, ...rest } = document.artifacts["linux-x64"];
 * const blake3Only = { ...document, artifacts: { "linux-x64": { ...rest, hashes: { blake3: "ab" } } } };
 * assert.throws(() => parseManifest(JSON.stringify(blake3Only), { url }), {
 *   message: `Manifest ${url}: artifacts.linux-x64 has no hash this client can verify (it has blake3; this client verifies sha256)`,
 * });
 * ```
 */
export const HASH_ALGORITHMS: readonly string[] = ["sha256"];

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
 * The manifest's `updater`: a version of ms11-update itself, per form (docs/MANIFEST.md): a
 * compiled executable per platform key (kind `executable`), and the code-split bundle under the
 * key `bundle` (an archive holding `main.js` and its chunks at its top level).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const document = {
 *   schema: 1, channel: "stable", version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 *   updater: { version: "0.2.0", artifacts: {
 *     "linux-x64": { url: "updater/0.2.0/ms11-update", size: 9, sha256: "b".repeat(64), kind: "executable" },
 *     bundle: { url: "updater/0.2.0/ms11-update.tar.gz", size: 7, sha256: "c".repeat(64), kind: "tar.gz" },
 *   } },
 * };
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * import { parseManifest, type UpdaterRelease } from "./manifest.ts";
 * const updater: UpdaterRelease | null = parseManifest(JSON.stringify(document), { url }).updater;
 * assert.equal(updater?.artifacts.bundle.url, "https://updates.ms11.com/stable/updater/0.2.0/ms11-update.tar.gz");
 * const bad = { ...document, updater: { ...document.updater, artifacts: { bundle: { ...document.updater.artifacts.bundle, kind: "executable" } } } };
 * assert.throws(() => parseManifest(JSON.stringify(bad), { url }), {
 *   message: `Manifest ${url}: updater.artifacts.bundle.kind must be tar.gz or zip (a code-split bundle), got "executable"`,
 * });
 * ```
 */
export interface UpdaterRelease {
  /** Its version (semver, canonical form). */
  version: string;
  /** Per platform key (a compiled executable) and `bundle` (an archive of the code-split bundle). */
  artifacts: Record<string, Artifact>;
}

/** The manifest's optional `updater` field, checked like the artifacts. */
function parseUpdater(value: unknown, context: ArtifactContext): UpdaterRelease | null {
  const { fail } = context;
  if (value === undefined || value === null) return null;
  if (!isObject(value)) return fail("updater", "an object with version and artifacts", value);
  if (!isVersion(value.version)) fail("updater.version", "a semver version", value.version);
  if (!isObject(value.artifacts) || Object.keys(value.artifacts).length === 0) {
    fail("updater.artifacts", "an object with at least one entry", value.artifacts);
  }
  const artifacts: Record<string, Artifact> = {};
  for (const [key, entry] of Object.entries(value.artifacts as Record<string, unknown>)) {
    if (key !== "bundle" && !isPlatformKey(key)) {
      fail("updater.artifacts key", "a platform such as linux-x64, or bundle", key);
    }
    const field = `updater.artifacts.${key}`;
    const artifact = parseArtifact(field, entry, context);
    if (key === "bundle" && artifact.kind === "executable") {
      fail(`${field}.kind`, "tar.gz or zip (a code-split bundle)", artifact.kind);
    }
    if (key !== "bundle" && artifact.kind !== "executable") {
      fail(`${field}.kind`, "executable (a compiled ms11-update)", artifact.kind);
    }
    artifacts[key] = artifact;
  }
  return { version: parseVersion(value.version as string), artifacts };
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

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Whether `text` is an ISO 8601 time with a zone whose date and time exist. */
function isIsoTime(text: string): boolean {
  const m = ISO_TIME.exec(text);
  if (m === null || Number.isNaN(Date.parse(text))) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 &&
    minute <= 59 && second <= 60;
}

/** What {@linkcode parseArtifact} needs to check an entry and to say what is wrong with it. */
interface ArtifactContext {
  /** `Manifest <url>`, the start of every message. */
  where: string;
  /** The manifest's URL: relative artifact URLs resolve against it. */
  url: string;
  /** Throws the `TypeError` naming the field, what was expected and the value. */
  fail: FieldFail;
}

/** One artifact entry (`field` names it in messages): url, size, sha256 (or hashes), kind. */
function parseArtifact(field: string, value: unknown, context: ArtifactContext): Artifact {
  const { where, fail } = context;
  if (!isObject(value)) fail(field, "an object", value);
  const a = value as Record<string, unknown>;
  if (typeof a.url !== "string" || a.url.length === 0) fail(`${field}.url`, "a URL", a.url);
  let url: URL;
  try {
    url = new URL(a.url as string, context.url);
  } catch {
    return fail(`${field}.url`, "a valid URL", a.url);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    fail(`${field}.url`, "an http(s) URL", a.url);
  }
  if (!Number.isSafeInteger(a.size) || (a.size as number) < 0) {
    fail(`${field}.size`, "a non-negative integer", a.size);
  }
  let sha256 = a.sha256;
  if (a.hashes !== undefined) {
    if (!isObject(a.hashes)) fail(`${field}.hashes`, "an object keyed by algorithm", a.hashes);
    const hashes = a.hashes as Record<string, unknown>;
    for (const [algorithm, digest] of Object.entries(hashes)) {
      if (typeof digest !== "string" || !/^[0-9a-f]+$/.test(digest)) {
        fail(`${field}.hashes.${escapeText(algorithm)}`, "lowercase hex digits", digest);
      }
    }
    const known = Object.keys(hashes).filter((h) => HASH_ALGORITHMS.includes(h));
    if (known.length === 0 && a.sha256 === undefined) {
      throw new TypeError(
        `${where}: ${field} has no hash this client can verify (it has ${
          Object.keys(hashes).map(escapeText).join(", ") || "none"
        }; this client verifies ${HASH_ALGORITHMS.join(", ")})`,
      );
    }
    if (hashes.sha256 !== undefined) {
      if (sha256 !== undefined && sha256 !== hashes.sha256) {
        throw new TypeError(
          `${where}: ${field}.sha256 and ${field}.hashes.sha256 differ (${show(sha256)}, ${
            show(hashes.sha256)
          })`,
        );
      }
      sha256 = hashes.sha256;
    }
  }
  if (!isSha256Hex(sha256)) {
    fail(`${field}.sha256`, "64 lowercase hex digits", sha256);
  }
  if (!ARTIFACT_KINDS.includes(a.kind as ArtifactKind)) {
    fail(`${field}.kind`, `one of ${ARTIFACT_KINDS.join(", ")}`, a.kind);
  }
  if (
    a.expanded_size !== undefined &&
    (!Number.isSafeInteger(a.expanded_size) || (a.expanded_size as number) < 0)
  ) {
    fail(`${field}.expanded_size`, "a non-negative integer", a.expanded_size);
  }
  return {
    url: url.href,
    size: a.size as number,
    sha256: sha256 as string,
    kind: a.kind as ArtifactKind,
    // An archive's extracted size; meaningless for a single executable (its size is `size`).
    ...(a.expanded_size !== undefined && a.kind !== "executable"
      ? { expanded_size: a.expanded_size as number }
      : {}),
    ...(a.deltas === undefined ? {} : {
      deltas: parseDeltas(`${field}.deltas`, a.deltas, {
        url: context.url,
        fail,
        artifactKind: a.kind as string,
      }),
    }),
  };
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
