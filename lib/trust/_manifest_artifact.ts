// Private: the artifact entries of a manifest (the channel's builds and the updater's own),
// checked strictly: url, size, sha256 (or hashes), kind, expanded size, deltas. Re-exported by
// manifest.ts, which is what callers import.
import { type Delta, parseDeltas } from "./_manifest_deltas.ts";
import { isVersion, parseVersion } from "../core/version.ts";
import { escapeText } from "../core/text.ts";
import {
  type FieldFail,
  isObject,
  isPlatformKey,
  isSha256Hex,
  showValue as show,
} from "../core/validate.ts";

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

/**
 * The manifest's optional `updater` field, checked like the artifacts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUpdater } from "./_manifest_artifact.ts";
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const fail = (field: string, expected: string, value: unknown): never => {
 *   throw new TypeError(`${field} must be ${expected}, got ${JSON.stringify(value)}`);
 * };
 * const context = { where: `Manifest ${url}`, url, fail };
 * assert.equal(parseUpdater(undefined, context), null);
 * const bundle = { url: "updater/0.2.0/u.tar.gz", size: 3, sha256: "a".repeat(64), kind: "tar.gz" };
 * assert.equal(parseUpdater({ version: "0.2.0", artifacts: { bundle } }, context)?.version, "0.2.0");
 * assert.throws(() => parseUpdater({ version: "0.2", artifacts: { bundle } }, context), {
 *   message: 'updater.version must be a semver version, got "0.2"',
 * });
 * ```
 */
export function parseUpdater(value: unknown, context: ArtifactContext): UpdaterRelease | null {
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
 * What {@linkcode parseArtifact} needs to check an entry and to say what is wrong with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ArtifactContext, parseArtifact } from "./_manifest_artifact.ts";
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const context: ArtifactContext = {
 *   where: `Manifest ${url}`,
 *   url,
 *   fail: (field, expected, value) => {
 *     throw new TypeError(`Manifest ${url}: ${field} must be ${expected}, got ${JSON.stringify(value)}`);
 *   },
 * };
 * const entry = { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" };
 * assert.equal(parseArtifact("artifacts.linux-x64", entry, context).url, "https://updates.ms11.com/stable/1.1.0/ms11");
 * assert.throws(() => parseArtifact("artifacts.linux-x64", { ...entry, size: -1 }, context), {
 *   message: `Manifest ${url}: artifacts.linux-x64.size must be a non-negative integer, got -1`,
 * });
 * ```
 */
export interface ArtifactContext {
  /** `Manifest <url>`, the start of every message. */
  where: string;
  /** The manifest's URL: relative artifact URLs resolve against it. */
  url: string;
  /** Throws the `TypeError` naming the field, what was expected and the value. */
  fail: FieldFail;
}

/**
 * One artifact entry (`field` names it in messages): url, size, sha256 (or hashes), kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ArtifactContext, parseArtifact } from "./_manifest_artifact.ts";
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const context: ArtifactContext = {
 *   where: `Manifest ${url}`,
 *   url,
 *   fail: (field, expected, value) => {
 *     throw new TypeError(`Manifest ${url}: ${field} must be ${expected}, got ${JSON.stringify(value)}`);
 *   },
 * };
 * const entry = { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" };
 * assert.equal(parseArtifact("artifacts.linux-x64", entry, context).url, "https://updates.ms11.com/stable/1.1.0/ms11");
 * assert.throws(() => parseArtifact("artifacts.linux-x64", { ...entry, size: -1 }, context), {
 *   message: `Manifest ${url}: artifacts.linux-x64.size must be a non-negative integer, got -1`,
 * });
 * ```
 */
export function parseArtifact(field: string, value: unknown, context: ArtifactContext): Artifact {
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
