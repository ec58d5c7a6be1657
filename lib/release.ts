/**
 * The publisher's side: add a build to a release tree that any static host serves.
 *
 * ```
 * <tree>/<channel>/manifest.json
 * <tree>/<channel>/<version>/<file>
 * ```
 *
 * The channel's `base_url` is `<where the tree is served>/<channel>`.
 *
 * @module
 */
import { renameDurable, tempSibling, writeFileAtomic } from "./_fs.ts";
import { type ArtifactKind, type Manifest, MANIFEST_SCHEMA, parseManifest } from "./manifest.ts";
import { hashFile } from "./verify.ts";
import { compareVersions, parseVersion } from "./version.ts";

// Where the tree will be served is not known here: relative URLs are checked against a stand-in.
const PLACEHOLDER_URL = "https://release.invalid/channel/manifest.json";
const CHANNEL = /^[a-z][a-z0-9_-]{0,31}$/;
const PLATFORM = /^[a-z0-9]+-[a-z0-9_]+$/;

/** Options of {@linkcode publishRelease}. */
export interface PublishOptions {
  /** The channel. */
  channel: string;
  /** The release's version: higher than the channel's current one, or equal to add a platform. */
  version: string;
  /** The platform key (`linux-x64`, …). */
  platform: string;
  /** The artifact file. */
  artifact: string;
  /** Its kind (default: from the file name: `.tar.gz`/`.tgz`, `.zip`, else `executable`). */
  kind?: ArtifactKind;
  /** Release time (default now). */
  releasedAt?: Date;
  /** Release notes. */
  notes?: string;
}

/** What {@linkcode publishRelease} wrote. */
export interface PublishResult {
  /** The manifest written. */
  manifest: Manifest;
  /** Its path. */
  manifestPath: string;
  /** Where the artifact was copied. */
  artifactPath: string;
}

/**
 * The artifact kind a file name suggests.
 *
 * @example
 * ```ts
 * import { kindOfFile } from "./release.ts";
 * console.assert(kindOfFile("ms11-1.1.0.tar.gz") === "tar.gz");
 * console.assert(kindOfFile("ms11") === "executable");
 * ```
 */
export function kindOfFile(name: string): ArtifactKind {
  if (/\.(tar\.gz|tgz)$/i.test(name)) return "tar.gz";
  if (/\.zip$/i.test(name)) return "zip";
  return "executable";
}

/** The channel's current manifest, validated, with its artifacts as written (URLs unresolved). */
async function readExisting(
  path: string,
  channel: string,
): Promise<{ manifest: Manifest; artifacts: Record<string, unknown> } | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const manifest = parseManifest(bytes, { url: PLACEHOLDER_URL, channel });
  return { manifest, artifacts: JSON.parse(new TextDecoder().decode(bytes)).artifacts };
}

/**
 * Add a build to a release tree: hash the artifact (streamed), copy it to
 * `<tree>/<channel>/<version>/`, and write the channel's manifest atomically. A version lower
 * than the channel's current one is refused; the same version adds (or replaces) a platform.
 *
 * @example
 * ```ts
 * import { publishRelease } from "./release.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho 1.0.0\n");
 * const { manifest } = await publishRelease(tree, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact,
 * });
 * console.assert(manifest.artifacts["linux-x64"].size === 21);
 * ```
 */
export async function publishRelease(
  tree: string,
  options: PublishOptions,
): Promise<PublishResult> {
  const version = parseVersion(options.version);
  if (!CHANNEL.test(options.channel)) {
    throw new TypeError(
      `Invalid channel ${JSON.stringify(options.channel)}: expected a name like stable`,
    );
  }
  if (!PLATFORM.test(options.platform)) {
    throw new TypeError(
      `Invalid platform ${JSON.stringify(options.platform)}: expected a key like linux-x64`,
    );
  }
  const channelDir = `${tree}/${options.channel}`;
  const manifestPath = `${channelDir}/manifest.json`;
  const existing = await readExisting(manifestPath, options.channel);
  if (existing !== null && compareVersions(version, existing.manifest.version) < 0) {
    throw new RangeError(
      `Cannot publish ${version} on ${options.channel}: the channel already has ${existing.manifest.version}`,
    );
  }
  const name = options.artifact.slice(options.artifact.lastIndexOf("/") + 1);
  const kind = options.kind ?? kindOfFile(name);
  const { sha256, size } = await hashFile(options.artifact);
  const versionDir = `${channelDir}/${version}`;
  await Deno.mkdir(versionDir, { recursive: true });
  const artifactPath = `${versionDir}/${name}`;
  const tmp = tempSibling(artifactPath);
  await Deno.copyFile(options.artifact, tmp);
  await renameDurable(tmp, artifactPath);
  const same = existing !== null && existing.manifest.version === version;
  const artifacts: Record<string, unknown> = same ? existing.artifacts : {};
  artifacts[options.platform] = {
    url: `${encodeURIComponent(version)}/${encodeURIComponent(name)}`,
    size,
    sha256,
    kind,
  };
  const document = {
    schema: MANIFEST_SCHEMA,
    channel: options.channel,
    version,
    released_at: (options.releasedAt ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    notes: options.notes ?? (same ? existing.manifest.notes : null),
    artifacts,
  };
  const text = JSON.stringify(document, null, 2) + "\n";
  const manifest = parseManifest(text, { url: PLACEHOLDER_URL, channel: options.channel });
  await writeFileAtomic(manifestPath, text);
  return { manifest, manifestPath, artifactPath };
}
