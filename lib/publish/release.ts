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
import { renameDurable, tempSibling } from "../core/fs.ts";
import { type SigningKey, writeSignedManifest } from "./signing.ts";
import { checkArtifact, DEFAULT_EXECUTABLE } from "./artifact_check.ts";
import {
  type ArtifactKind,
  type KeySet,
  type Manifest,
  MANIFEST_SCHEMA,
  parseManifest,
} from "../trust/manifest.ts";
import { ConfigError } from "../core/errors.ts";
import { hashFile } from "../core/hash.ts";
import { inspectArchive } from "../archive/extract.ts";
import { isChannelName, isPlatformKey } from "../core/validate.ts";
import { compareVersions, isVersion, parseVersion } from "../core/version.ts";
import { updaterField, type UpdaterFile } from "./_updater.ts";
import { releaseFields, type RolloutPlan } from "./_rollout.ts";
import type { RolloutState } from "./rollout_state.ts";
import { recordArtifact, releaseSources } from "./_release_sources.ts";
import { BLOCK_HEADER_BYTES, HEADER_BYTES } from "../delta/_wire.ts";
import {
  checkDeltaSettings,
  type DeltaEntry,
  type DeltaSettings,
  makeReleaseDeltas,
  missingDeltaTools,
  type SkippedDelta,
} from "./_release_deltas.ts";

export type { DeltaEntry, DeltaSettings, RolloutPlan, RolloutState, SkippedDelta, UpdaterFile };
export { DEFAULT_DELTA_COUNT } from "./_release_deltas.ts";
export { MAX_DELTAS } from "../trust/_manifest_deltas.ts";
export {
  type VerifiedChannel,
  verifyRelease,
  type VerifyReleaseOptions,
} from "./verify_release.ts";

// Where the tree will be served is not known here: relative URLs are checked against a stand-in.
const PLACEHOLDER_URL = "https://release.invalid/channel/manifest.json";

/**
 * Options of {@linkcode publishRelease}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11\n");
 * import { publishRelease, type PublishOptions } from "./release.ts";
 * const options: PublishOptions = {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`,
 *   releasedAt: new Date("2026-11-20T10:00:00Z"), notes: "Faster start",
 * };
 * const { manifest } = await publishRelease(`${work}/tree`, options);
 * assert.deepEqual([manifest.notes, manifest.expires], ["Faster start", "2026-12-20T10:00:00Z"]);
 * await assert.rejects(publishRelease(`${work}/tree`, options), RangeError); // already the current version
 * await publishRelease(`${work}/tree`, { ...options, platform: "linux-arm64", republish: true });
 * ```
 */
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
  /**
   * Publish the channel's current version again (to add or replace a platform, or to re-sign it
   * with a later expiry); without it, a version not higher than the channel's is refused.
   */
  republish?: boolean;
  /** Keys that sign the manifest (`manifest.json.sig`); none publishes an unsigned manifest. */
  keys?: readonly SigningKey[];
  /** When the manifest expires (default: 30 days after `releasedAt`). */
  expires?: Date;
  /** Announce the channel's next key set (key rotation; see docs/SECURITY.md). */
  nextKeys?: KeySet;
  /**
   * A new ms11-update to offer with this publication (the manifest's `updater`, see
   * docs/MANIFEST.md); without it the channel's current offer is carried over.
   */
  updater?: UpdaterFile;
  /**
   * The file clients start (their configuration's `executable`, default `ms11`): an archive that
   * does not hold it at its top level as an executable file is refused before anything is
   * written (lib/publish/artifact_check.ts).
   */
  executable?: string;
  /**
   * A staged rollout (a share or a ramp; docs/UPDATE_POLICY.md, "Staged rollouts
   * (publisher)"); without it, every install is offered the release.
   */
  rollout?: RolloutPlan;
  /**
   * Deltas from the channel's last releases in the tree to this one (docs/DELTA.md, "Publishing
   * deltas"): `{}` makes them from the last 3, each kept when under half the artifact's size,
   * and publishes without them, said in `warnings`, when bsdiff is not installed. Without it, no
   * deltas (the `release` command passes `{}` unless told otherwise).
   */
  deltas?: DeltaSettings;
}

/**
 * What a build is published as: the parts of {@linkcode PublishOptions} that name it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReleaseName } from "./release.ts";
 * const name: ReleaseName = { channel: "canary", version: "1.5.0-canary.3", platform: "linux-x64" };
 * assert.equal(name.channel, "canary");
 * ```
 */
export type ReleaseName = Pick<PublishOptions, "channel" | "version" | "platform">;

/**
 * Check what a build is to be published as: a semver version, a channel name, a platform key, in
 * that order. These are the publisher's input, so a bad one is a {@linkcode ConfigError} naming
 * the value (the CLI exits 2). Returns the version in canonical form. {@linkcode publishRelease}
 * checks the same; the CLI calls this first, before it reads keys or the artifact.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkReleaseName } from "./release.ts";
 * assert.equal(checkReleaseName({ channel: "stable", version: "v1.2.0", platform: "linux-x64" }), "1.2.0");
 * assert.throws(
 *   () => checkReleaseName({ channel: "Stable", version: "1.2.0", platform: "linux-x64" }),
 *   { name: "ConfigError" },
 * );
 * ```
 */
export function checkReleaseName(name: ReleaseName): string {
  if (!isVersion(name.version)) {
    throw new ConfigError(
      `Invalid version ${JSON.stringify(name.version)}: expected a semver version`,
    );
  }
  if (!isChannelName(name.channel)) {
    throw new ConfigError(
      `Invalid channel ${
        JSON.stringify(name.channel)
      }: expected a channel name like stable or canary (a-z, 0-9, -, _)`,
    );
  }
  if (!isPlatformKey(name.platform)) {
    throw new ConfigError(
      `Invalid platform ${JSON.stringify(name.platform)}: expected a key like linux-x64`,
    );
  }
  return parseVersion(name.version);
}

/**
 * The default manifest lifetime: 30 days.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11\n");
 * import { DEFAULT_EXPIRY_MS, publishRelease } from "./release.ts";
 * const releasedAt = new Date("2026-11-20T10:00:00Z");
 * const { manifest } = await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact: `${work}/ms11`, releasedAt,
 * });
 * assert.equal(Date.parse(manifest.expires!) - releasedAt.getTime(), DEFAULT_EXPIRY_MS); // 30 days
 * ```
 */
export const DEFAULT_EXPIRY_MS = 30 * 24 * 3600 * 1000;

/**
 * What {@linkcode publishRelease} wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11\n");
 * import { readSigningKey, writeKeyPair } from "./signing.ts";
 * const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
 * import { publishRelease, type PublishResult } from "./release.ts";
 * const result: PublishResult = await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`, keys: [key],
 * });
 * assert.equal(result.manifestPath, `${work}/tree/stable/manifest.json`);
 * assert.equal(result.artifactPath, `${work}/tree/stable/1.1.0/ms11`);
 * assert.equal(result.signaturePath, `${work}/tree/stable/manifest.json.sig`);
 * ```
 */
export interface PublishResult {
  /** The manifest written. */
  manifest: Manifest;
  /** Its path. */
  manifestPath: string;
  /** Where the artifact was copied. */
  artifactPath: string;
  /** The signature file, or null for an unsigned manifest. */
  signaturePath: string | null;
  /** The deltas written and listed for this platform (newest `from` first). */
  deltas: DeltaEntry[];
  /** The deltas not listed: not worth it, or not made (with the reason). */
  skippedDeltas: SkippedDelta[];
  /** What the publisher should know (deltas not made because bsdiff is missing). */
  warnings: string[];
}

/**
 * The artifact kind a file name suggests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kindOfFile } from "./release.ts";
 * assert.equal(kindOfFile("ms11-1.1.0.tar.gz"), "tar.gz");
 * assert.equal(kindOfFile("ms11-1.1.0.TGZ"), "tar.gz");
 * assert.equal(kindOfFile("ms11-1.1.0.zip"), "zip");
 * assert.equal(kindOfFile("ms11"), "executable");
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
): Promise<{ manifest: Manifest; raw: Record<string, unknown> } | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const manifest = parseManifest(bytes, { url: PLACEHOLDER_URL, channel });
  const raw = JSON.parse(new TextDecoder().decode(bytes));
  return { manifest, raw };
}

/**
 * Add a build to a release tree: hash the artifact (streamed), copy it to
 * `<tree>/<channel>/<version>/`, and write the channel's manifest atomically. A version not
 * higher than the channel's current one is refused, unless `republish` publishes the current
 * version again (adding or replacing a platform, or refreshing its expiry). With `deltas`, deltas from the channel's last releases in the tree are written beside the artifact
 * and listed in the manifest (lib/publish/_release_deltas.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho 1.0.0\n");
 * const { manifest, signaturePath } = await publishRelease(tree, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact,
 * });
 * assert.equal(manifest.artifacts["linux-x64"].size, 21);
 * assert.equal(manifest.serial, 1);
 * assert.equal(signaturePath, null); // no keys: unsigned
 * await assert.rejects(
 *   publishRelease(tree, { channel: "stable", version: "0.9.0", platform: "linux-x64", artifact }),
 *   { name: "RangeError", message: "Cannot publish 0.9.0 on stable: the channel already has 1.0.0" },
 * );
 * ```
 */
export async function publishRelease(
  tree: string,
  options: PublishOptions,
): Promise<PublishResult> {
  const version = checkReleaseName(options);
  const settings = checkDeltaSettings(options.deltas);
  const channelDir = `${tree}/${options.channel}`;
  const manifestPath = `${channelDir}/manifest.json`;
  const existing = await readExisting(manifestPath, options.channel);
  if (existing !== null) {
    const order = compareVersions(version, existing.manifest.version);
    if (order < 0) {
      throw new RangeError(
        `Cannot publish ${version} on ${options.channel}: the channel already has ${existing.manifest.version}`,
      );
    }
    if (order === 0 && !options.republish) {
      throw new RangeError(
        `Cannot publish ${version} on ${options.channel}: it is already the channel's current version (republish it to add a platform or refresh its expiry)`,
      );
    }
  }
  const rollout = releaseFields(existing?.raw ?? null, {
    version,
    plan: options.rollout,
    now: options.releasedAt ?? new Date(),
    channel: options.channel,
  });
  const releasedAt = options.releasedAt ?? new Date();
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
  const expires = options.expires ?? new Date(releasedAt.getTime() + DEFAULT_EXPIRY_MS);
  if (expires.getTime() <= releasedAt.getTime()) {
    throw new RangeError(
      `Cannot publish ${version} on ${options.channel}: it would expire at ${
        iso(expires)
      }, not after its release at ${iso(releasedAt)}`,
    );
  }
  const name = options.artifact.slice(options.artifact.lastIndexOf("/") + 1);
  const kind = options.kind ?? kindOfFile(name);
  try {
    // What a client would refuse is refused here, before anything is published.
    await checkArtifact(options.artifact, {
      kind,
      executable: options.executable ?? DEFAULT_EXECUTABLE,
    });
  } catch (error) {
    if (error instanceof Error) {
      error.message = `Cannot publish ${version} on ${options.channel}: ${error.message}`;
    }
    throw error;
  }
  const { sha256, size } = await hashFile(options.artifact);
  // An archive is read as a client will extract it (every check, nothing written): what it
  // holds once extracted goes into the signed manifest, which clients enforce.
  const expanded = kind === "executable" ? null : await inspectArchive(options.artifact, { kind });
  const warnings: string[] = [];
  // No binary patch is smaller than its headers (116 bytes): an executable that small gets none.
  const pays = kind !== "executable" || size > HEADER_BYTES + BLOCK_HEADER_BYTES;
  let sources = settings.count === 0 || !pays ? [] : await releaseSources(channelDir, {
    version,
    platform: options.platform,
    count: settings.count,
    kind,
    raw: existing?.raw,
  });
  if (sources.length > 0) {
    const missing = await missingDeltaTools();
    if (missing !== null && settings.required) {
      throw new Error(`Cannot publish ${version} on ${options.channel} with deltas: ${missing}`);
    }
    if (missing !== null) {
      warnings.push(`Publishing ${version} on ${options.channel} without deltas: ${missing}`);
      sources = [];
    }
  }
  const versionDir = `${channelDir}/${version}`;
  await Deno.mkdir(versionDir, { recursive: true });
  const artifactPath = `${versionDir}/${name}`;
  const tmp = tempSibling(artifactPath);
  await Deno.copyFile(options.artifact, tmp);
  await renameDurable(tmp, artifactPath);
  const expandedSize = expanded === null ? {} : { expanded_size: expanded.bytes };
  await recordArtifact(versionDir, options.platform, {
    file: name,
    size,
    sha256,
    kind,
    ...expandedSize,
  });
  const same = existing !== null && existing.manifest.version === version;
  // Republishing the same build (to refresh its expiry) keeps the deltas it already has.
  const before = same
    ? (existing.raw.artifacts as Record<string, Record<string, unknown>>)[options.platform]
    : undefined;
  const reuse = before?.sha256 === sha256 && Array.isArray(before.deltas) ? before.deltas : [];
  const { deltas, skipped } = await makeReleaseDeltas(
    { path: artifactPath, version, name, size, kind, ...expandedSize },
    sources,
    { ...settings, reuse },
  );
  const artifacts: Record<string, unknown> = same
    ? existing.raw.artifacts as Record<string, unknown>
    : {};
  artifacts[options.platform] = {
    url: `${encodeURIComponent(version)}/${encodeURIComponent(name)}`,
    size,
    sha256,
    kind,
    ...expandedSize,
    ...(deltas.length === 0 ? {} : { deltas }),
  };
  const document: Record<string, unknown> = {
    schema: MANIFEST_SCHEMA,
    channel: options.channel,
    version,
    serial: (existing?.manifest.serial ?? 0) + 1,
    released_at: iso(releasedAt),
    expires: iso(expires),
    notes: options.notes ?? (same ? existing.manifest.notes : null),
    artifacts,
  };
  Object.assign(document, rollout);
  if (options.nextKeys !== undefined) document.next_keys = options.nextKeys;
  const updater = await updaterField(channelDir, {
    current: existing?.raw.updater,
    updater: options.updater,
    platform: options.platform,
  });
  if (updater !== undefined && updater !== null) document.updater = updater;
  const text = JSON.stringify(document, null, 2) + "\n";
  const bytes = new TextEncoder().encode(text);
  const manifest = parseManifest(bytes, { url: PLACEHOLDER_URL, channel: options.channel });
  const signaturePath = await writeSignedManifest(manifestPath, bytes, options.keys ?? []);
  return {
    manifest,
    manifestPath,
    artifactPath,
    signaturePath,
    deltas,
    skippedDeltas: skipped,
    warnings,
  };
}
