/**
 * Check a release tree before it is published, as a client would (`verify-release`): the
 * signatures, expiry and serial of every channel's manifest, and every artifact it names inside
 * the tree.
 *
 * @module
 */
import { checkArtifact, DEFAULT_EXECUTABLE } from "./artifact_check.ts";
import { type KeySet, type Manifest, parseManifest } from "../trust/manifest.ts";
import { verifyManifest } from "../trust/verify.ts";
import { NotLaunchableError } from "../core/errors.ts";
import { hashFile } from "../core/hash.ts";
import { isChannelName } from "../core/validate.ts";
import { type RolloutState, rolloutState } from "./rollout_state.ts";
import { type VerifiedDelta, verifyDeltas } from "./_verify_deltas.ts";

export type { VerifiedDelta };

/**
 * Options of {@linkcode verifyRelease}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11\n");
 * import { readSigningKey, writeKeyPair } from "./signing.ts";
 * const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
 * import { publishRelease, verifyRelease, type VerifyReleaseOptions } from "./release.ts";
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`, keys: [key],
 *   releasedAt: new Date("2026-11-20T10:00:00Z"),
 * });
 * const options: VerifyReleaseOptions = { keys: { threshold: 1, keys: [key.publicKey] }, now: new Date("2027-01-01T00:00:00Z") };
 * const [stable] = await verifyRelease(`${work}/tree`, options);
 * assert.equal(stable.problems.length, 1);
 * assert.match(stable.problems[0], /expired at 2026-12-20T10:00:00Z/);
 * ```
 */
export interface VerifyReleaseOptions {
  /** The public keys and threshold the clients pin. */
  keys: KeySet;
  /** The file clients start (default `ms11`): every build in the tree must be launchable as it. */
  executable?: string;
  /** The time to judge expiry against (default now). */
  now?: Date;
}

/**
 * One channel of a verified tree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11\n");
 * import { readSigningKey, writeKeyPair } from "./signing.ts";
 * const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
 * import { publishRelease, type VerifiedChannel, verifyRelease } from "./release.ts";
 * const { manifest } = await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`, keys: [key],
 * });
 * const channels: VerifiedChannel[] = await verifyRelease(`${work}/tree`, { keys: { threshold: 1, keys: [key.publicKey] } });
 * assert.deepEqual(channels, [
 *   { channel: "stable", version: "1.1.0", serial: 1, expires: manifest.expires, problems: [],
 *     rollout: { version: "1.1.0", share_basis_points: 10000, staged: false, ramp: null, paused: false,
 *       paused_at: null, previous: null, yanked: [], minimum_version: null }, deltas: [] },
 * ]);
 * ```
 */
export interface VerifiedChannel {
  /** The channel. */
  channel: string;
  /** Its version, when the manifest could be read. */
  version: string | null;
  /** Its serial. */
  serial: number | null;
  /** Its expiry. */
  expires: string | null;
  /** What is wrong with it (empty: ready to publish). */
  problems: string[];
  /** Its rollout state (share, ramp step, pause, yanked, minimum), when it could be read. */
  rollout: RolloutState | null;
  /** The deltas its artifacts list, each checked (docs/DELTA.md, "Publishing deltas"). */
  deltas: VerifiedDelta[];
}

/**
 * Check a release tree before it is published, as a client would: every
 * `<channel>/manifest.json` parses, is signed by the threshold of `keys`, has a serial and has
 * not expired, and every artifact it names inside the tree (the updater's included) has the
 * declared size and SHA-256, and each build's makes a build a client accepts and can launch
 * (`executable`; lib/publish/artifact_check.ts). Every delta listed has its size and SHA-256,
 * and rebuilds the artifact from its `from` build when that is in the tree
 * (lib/publish/_verify_deltas.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11\n");
 * import { readSigningKey, writeKeyPair } from "./signing.ts";
 * const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
 * import { publishRelease, verifyRelease } from "./release.ts";
 * const { artifactPath } = await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`, keys: [key],
 * });
 * const keys = { threshold: 1, keys: [key.publicKey] };
 * assert.deepEqual((await verifyRelease(`${work}/tree`, { keys }))[0].problems, []); // ready to upload
 * await Deno.writeTextFile(artifactPath, "tampered");
 * const [{ problems }] = await verifyRelease(`${work}/tree`, { keys });
 * assert.match(problems[0], new RegExp(`^Artifact ${artifactPath} \\(linux-x64\\) has 8 bytes`));
 * ```
 */
export async function verifyRelease(
  tree: string,
  options: VerifyReleaseOptions,
): Promise<VerifiedChannel[]> {
  const now = options.now ?? new Date();
  const channels: VerifiedChannel[] = [];
  const names = (await Array.fromAsync(Deno.readDir(tree)))
    .filter((e) => e.isDirectory && isChannelName(e.name)).map((e) => e.name).sort();
  for (const channel of names) {
    const path = `${tree}/${channel}/manifest.json`;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      continue;
    }
    const result: VerifiedChannel = {
      channel,
      version: null,
      serial: null,
      expires: null,
      problems: [],
      rollout: null,
      deltas: [],
    };
    channels.push(result);
    const base = `https://release.invalid/${channel}/`;
    let manifest: Manifest;
    try {
      manifest = parseManifest(bytes, { url: `${base}manifest.json`, channel });
    } catch (error) {
      result.problems.push((error as Error).message.replace(`${base}manifest.json`, path));
      continue;
    }
    Object.assign(result, {
      version: manifest.version,
      serial: manifest.serial,
      expires: manifest.expires,
    });
    try {
      const signature = await Deno.readFile(`${path}.sig`).catch(() => {
        throw new Error(`Manifest ${path} has no signature file ${path}.sig`);
      });
      await verifyManifest(bytes, signature, {
        url: path,
        signatureUrl: `${path}.sig`,
        channel,
        manifest,
        pinned: options.keys,
        trusted: null,
        startedAt: now,
      });
    } catch (error) {
      result.problems.push((error as Error).message);
    }
    // The updater's files are checked for size and SHA-256; what makes one work (its --version,
    // its reading of an install) is the client's smoke test (lib/self/smoke.ts).
    const updaters = Object.entries(manifest.updater?.artifacts ?? {})
      .map(([key, artifact]) => [`updater ${key}`, artifact] as const);
    // The previous release (what installs outside a rollout's cohort run) must be in the tree too.
    const raw = JSON.parse(new TextDecoder().decode(bytes));
    const previous = Object.entries(raw.previous?.artifacts ?? {}).map(([key, value]) => {
      const artifact = value as Manifest["artifacts"][string];
      return [`previous ${key}`, { ...artifact, url: new URL(artifact.url, base).href }] as const;
    });
    result.rollout = rolloutState(raw, now);
    const all = [...Object.entries(manifest.artifacts), ...previous, ...updaters];
    for (const [platform, artifact] of all) {
      if (!artifact.url.startsWith(base)) continue; // hosted elsewhere: not in this tree
      const file = `${tree}/${channel}/${decodeURIComponent(artifact.url.slice(base.length))}`;
      let digest;
      try {
        digest = await hashFile(file);
      } catch {
        result.problems.push(`Artifact ${file} (${platform}) is missing`);
        continue;
      }
      if (digest.size !== artifact.size || digest.sha256 !== artifact.sha256) {
        result.problems.push(
          `Artifact ${file} (${platform}) has ${digest.size} bytes and sha256 ${digest.sha256}; the manifest says ${artifact.size} bytes and ${artifact.sha256}`,
        );
        continue;
      }
      if (platform.startsWith("updater ")) continue;
      try {
        // What clients will enforce: what a client's extraction refuses, the executable, and
        // (where the manifest declares it) exactly the declared expanded size.
        await checkArtifact(file, {
          kind: artifact.kind,
          executable: options.executable ?? DEFAULT_EXECUTABLE,
          expandedSize: artifact.kind === "executable" ? undefined : artifact.expanded_size,
        });
      } catch (error) {
        const message = (error as Error).message;
        result.problems.push(
          error instanceof NotLaunchableError
            ? `Artifact ${file} (${platform})${message.slice(file.length)}`
            : `Artifact ${file} (${platform}) would be refused by clients: ${message}`,
        );
      }
    }
    const checked = await verifyDeltas(`${tree}/${channel}`, { manifest, raw, base });
    result.deltas = checked.deltas;
    result.problems.push(...checked.problems);
  }
  return channels;
}
