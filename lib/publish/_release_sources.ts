/**
 * Private to lib/publish/release.ts and verify_release.ts: where each release's artifacts are in a
 * release tree. Every publication writes `<channel>/<version>/.release.json` (a dot file: not
 * uploaded, not served) naming the file of each platform with its size, SHA-256 and kind, so
 * that a later release finds the builds it makes deltas from. For a version without it (one
 * published before the record existed), the channel's manifest is asked: its own version's
 * artifacts, and its `previous`.
 *
 * @module
 */
import { writeFileAtomic } from "../core/fs.ts";
import { hashFile } from "../core/hash.ts";
import { compareVersions, isVersion, parseVersion } from "../core/version.ts";
import type { ArtifactKind } from "../trust/manifest.ts";

/**
 * The record's file name inside a version folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECORD_FILE } from "./_release_sources.ts";
 * assert.ok(RECORD_FILE.startsWith(".")); // never uploaded (lib/publish/_tree.ts skips dot files)
 * ```
 */
export const RECORD_FILE = ".release.json";

/**
 * One platform's artifact of a release, as the record holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RecordedArtifact } from "./_release_sources.ts";
 * const entry: RecordedArtifact = { file: "ms11", size: 21, sha256: "ab".repeat(32), kind: "executable" };
 * assert.equal(entry.kind, "executable");
 * ```
 */
export interface RecordedArtifact {
  /** Its file name in the version folder. */
  file: string;
  size: number;
  sha256: string;
  kind: ArtifactKind;
  /** An archive's extracted bytes (the manifest's `expanded_size`). */
  expanded_size?: number;
}

/**
 * Record `entry` as `platform`'s artifact of the release in `versionDir` (other platforms kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECORD_FILE, recordArtifact } from "./_release_sources.ts";
 * const dir = await Deno.makeTempDir();
 * const entry = { file: "ms11", size: 3, sha256: "ab".repeat(32), kind: "executable" as const };
 * await recordArtifact(dir, "linux-x64", entry);
 * await recordArtifact(dir, "linux-arm64", { ...entry, file: "ms11-arm64" });
 * const record = JSON.parse(await Deno.readTextFile(`${dir}/${RECORD_FILE}`));
 * assert.deepEqual(Object.keys(record.artifacts), ["linux-x64", "linux-arm64"]);
 * ```
 */
export async function recordArtifact(
  versionDir: string,
  platform: string,
  entry: RecordedArtifact,
): Promise<void> {
  const artifacts = await readRecord(versionDir) ?? {};
  artifacts[platform] = entry;
  const text = JSON.stringify({ artifacts }, null, 2) + "\n";
  await writeFileAtomic(`${versionDir}/${RECORD_FILE}`, text);
}

/** The record of a version folder, or null when it has none (or one that does not parse). */
async function readRecord(versionDir: string): Promise<Record<string, RecordedArtifact> | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(`${versionDir}/${RECORD_FILE}`));
    const artifacts = value?.artifacts;
    return typeof artifacts === "object" && artifacts !== null && !Array.isArray(artifacts)
      ? artifacts
      : null;
  } catch {
    return null;
  }
}

/**
 * An earlier release's artifact found in the tree, checked against what was published.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReleaseSource } from "./_release_sources.ts";
 * const source: ReleaseSource = {
 *   version: "1.0.0", path: "/srv/releases/stable/1.0.0/ms11", size: 21, sha256: "ab".repeat(32),
 *   kind: "executable",
 * };
 * assert.equal(source.version, "1.0.0");
 * ```
 */
export interface ReleaseSource {
  version: string;
  /** The artifact file. */
  path: string;
  size: number;
  sha256: string;
  kind: ArtifactKind;
  expanded_size?: number;
}

/** A manifest artifact entry (as written) as a record entry, if it is a file of the tree. */
function fromManifest(version: string, value: unknown): RecordedArtifact | null {
  if (typeof value !== "object" || value === null) return null;
  const a = value as Record<string, unknown>;
  if (typeof a.url !== "string" || typeof a.sha256 !== "string") return null;
  const prefix = `${encodeURIComponent(version)}/`;
  if (!a.url.startsWith(prefix) || a.url.slice(prefix.length).includes("/")) return null;
  let file: string;
  try {
    file = decodeURIComponent(a.url.slice(prefix.length));
  } catch {
    return null;
  }
  return {
    file,
    size: a.size as number,
    sha256: a.sha256,
    kind: a.kind as ArtifactKind,
    ...(typeof a.expanded_size === "number" ? { expanded_size: a.expanded_size } : {}),
  };
}

/**
 * `platform`'s artifact of `version` in the channel folder `channelDir`: from the version's
 * record, else from `raw` (the channel's manifest as written: its own artifacts when it is
 * `version`'s, or its `previous`'s). Null when it is not found, or the file is no longer the one
 * published (another size or SHA-256: it is hashed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * import { releaseSource } from "./_release_sources.ts";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho 1.0.0\n");
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact: `${work}/ms11`,
 * });
 * const source = await releaseSource(`${work}/tree/stable`, { version: "1.0.0", platform: "linux-x64" });
 * assert.equal(source?.path, `${work}/tree/stable/1.0.0/ms11`);
 * assert.equal(await releaseSource(`${work}/tree/stable`, { version: "1.0.0", platform: "linux-arm64" }), null);
 * ```
 */
export async function releaseSource(
  channelDir: string,
  options: { version: string; platform: string; raw?: Record<string, unknown> | null },
): Promise<ReleaseSource | null> {
  const { version, platform } = options;
  const versionDir = `${channelDir}/${version}`;
  let entry: RecordedArtifact | null = (await readRecord(versionDir))?.[platform] ?? null;
  const raw = options.raw;
  if (entry === null && raw) {
    const previous = raw.previous as Record<string, unknown> | undefined;
    const artifacts = raw.version === version
      ? raw.artifacts
      : previous?.version === version
      ? previous.artifacts
      : undefined;
    entry = fromManifest(version, (artifacts as Record<string, unknown> | undefined)?.[platform]);
  }
  if (entry === null || typeof entry.file !== "string" || entry.file.includes("/")) return null;
  const path = `${versionDir}/${entry.file}`;
  const digest = await hashFile(path).catch(() => null);
  if (digest === null || digest.size !== entry.size || digest.sha256 !== entry.sha256) return null;
  return {
    version,
    path,
    size: digest.size,
    sha256: digest.sha256,
    kind: entry.kind,
    ...(entry.expanded_size === undefined ? {} : { expanded_size: entry.expanded_size }),
  };
}

/**
 * The channel's last `count` releases below `version` that have an artifact for `platform`
 * in the tree of the same family as `kind` (an executable, or an archive: a tar.gz build's delta
 * may come from a zip build), newest first: the version folders of `channelDir`, by semver.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * import { releaseSources } from "./_release_sources.ts";
 * const work = await Deno.makeTempDir();
 * for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
 *   await Deno.writeTextFile(`${work}/ms11`, `#!/bin/sh\necho ${version}\n`);
 *   await publishRelease(`${work}/tree`, {
 *     channel: "stable", version, platform: "linux-x64", artifact: `${work}/ms11`,
 *   });
 * }
 * const options = { version: "2.0.0", platform: "linux-x64", count: 2, kind: "executable" as const };
 * const found = await releaseSources(`${work}/tree/stable`, options);
 * assert.deepEqual(found.map((s) => s.version), ["1.2.0", "1.1.0"]);
 * assert.deepEqual(await releaseSources(`${work}/tree/stable`, { ...options, kind: "zip" }), []);
 * ```
 */
export async function releaseSources(
  channelDir: string,
  options: {
    version: string;
    platform: string;
    count: number;
    kind: ArtifactKind;
    raw?: Record<string, unknown> | null;
  },
): Promise<ReleaseSource[]> {
  const versions: string[] = [];
  try {
    for await (const entry of Deno.readDir(channelDir)) {
      if (!entry.isDirectory || !isVersion(entry.name)) continue;
      if (parseVersion(entry.name) !== entry.name) continue;
      if (compareVersions(entry.name, options.version) < 0) versions.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  versions.sort((a, b) => compareVersions(b, a));
  const found: ReleaseSource[] = [];
  for (const version of versions) {
    if (found.length >= options.count) break;
    const source = await releaseSource(channelDir, { ...options, version });
    const family = (k: ArtifactKind) => k === "executable";
    if (source !== null && family(source.kind) === family(options.kind)) found.push(source);
  }
  return found;
}
