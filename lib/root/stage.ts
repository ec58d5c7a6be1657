/**
 * Staging: a verified artifact becomes a build directory `builds/<version>` and is recorded as
 * the build to swap in at the next launch. The build is assembled in a private temporary
 * directory beside its final place and renamed into it, so a half-made build is never visible.
 *
 * @module
 */
import {
  exists,
  type FileIdentity,
  fileIdentity,
  removeIfExists,
  renameDurable,
  sameFile,
  syncDir,
} from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";
import { type SealEntry, sealOf } from "./seal.ts";
import { statStamp } from "./stamp.ts";
import { ChecksumMismatchError, NotLaunchableError } from "../core/errors.ts";
import { launchProblem } from "../core/launchable.ts";
import { hashFile } from "../core/hash.ts";
import type { ProgressSink } from "../core/env.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import type { ArtifactKind } from "../trust/manifest.ts";
import type { State } from "./state.ts";
import { ensureDir, MODES, refuseLinks } from "./safe.ts";

/**
 * Options of {@linkcode stageBuild}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile } from "../core/hash.ts";
 * import { layoutOf } from "./layout.ts";
 * import { stageBuild, type StageOptions } from "./stage.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const artifact = `${layout.downloads}/ms11-1.1.0`;
 * await Deno.mkdir(layout.downloads, { recursive: true });
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11 1.1.0\n");
 * const { sha256 } = await hashFile(artifact); // as the download verified it
 * const options: StageOptions = {
 *   version: "1.1.0",
 *   channel: "stable",
 *   kind: "executable",
 *   sha256,
 *   executable: "ms11",
 *   now: new Date("2026-11-27T00:00:00Z"),
 *   state: emptyState(),
 * };
 * await stageBuild(layout, artifact, options);
 * assert.deepEqual(options.state.staged, { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T00:00:00.000Z" });
 * ```
 */
export interface StageOptions {
  /** The release's version. */
  version: string;
  /** The channel it came from. */
  channel: string;
  /** How the artifact is installed. */
  kind: ArtifactKind;
  /** The verified SHA-256 of the artifact. */
  sha256: string;
  /** For an archive: the content its signed manifest declares (`expanded_size`), enforced. */
  expandedSize?: number;
  /**
   * The identity of the downloaded file when it was verified and fsynced (the download's
   * `identity`): staging checks it is moving that very file, unchanged, and reads none of it.
   * Without it an executable is hashed where it lies and fsynced (one more read).
   */
  identity?: FileIdentity;
  /** The application's file name inside the build (must exist in it). */
  executable: string;
  /**
   * Leave the artifact where it is (an executable is hard-linked into the build), for the caller
   * to remove once the build is recorded as staged: a kill before then loses no download.
   * Default false: the artifact is consumed.
   */
  keepArtifact?: boolean;
  /** The time to record (default now). */
  now?: Date;
  /** Progress of extraction. */
  onProgress?: ProgressSink;
  /** The state to record the build in (the caller writes it, holding the lock). */
  state: State;
  /**
   * For an archive kind: make the build folder at the path given (which must not exist yet)
   * instead of extracting `artifact`, and return its verified seal (a folder delta's rebuild,
   * lib/actions/_delta_step.ts). `artifact` is then not read.
   */
  rebuild?: (dir: string) => Promise<string>;
}

export { sweepLeftovers } from "./sweep.ts";

/**
 * What {@linkcode hasBuild} looks for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { hasBuild, type HasBuildQuery } from "./stage.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.1.0`, { recursive: true });
 * const query: HasBuildQuery = { state: emptyState(), version: "1.1.0", sha256: "a".repeat(64) };
 * assert.equal(await hasBuild(layout, query), false); // a directory, but no record of its bytes
 * ```
 */
export interface HasBuildQuery {
  /** The state holding the build records. */
  state: State;
  /** The version. */
  version: string;
  /** The SHA-256 of the artifact the build must have been made from. */
  sha256: string;
}

/**
 * Whether `builds/<version>` already holds a build made from an artifact with this SHA-256, so
 * that staging it again needs no download.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { hasBuild } from "./stage.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptyState();
 * const sha256 = "a".repeat(64);
 * state.builds["1.1.0"] = {
 *   version: "1.1.0", channel: "stable", sha256, kind: "executable", installed_at: "2026-11-27T00:00:00Z", retired_at: null,
 * };
 * assert.equal(await hasBuild(layout, { state, version: "1.1.0", sha256 }), false); // no directory
 * await Deno.mkdir(`${layout.builds}/1.1.0`, { recursive: true });
 * assert.equal(await hasBuild(layout, { state, version: "1.1.0", sha256 }), true);
 * assert.equal(await hasBuild(layout, { state, version: "1.1.0", sha256: "b".repeat(64) }), false);
 * ```
 */
export async function hasBuild(layout: Layout, query: HasBuildQuery): Promise<boolean> {
  const { state, version, sha256 } = query;
  return state.builds[version]?.sha256 === sha256 && await exists(buildDir(layout, version));
}

/**
 * Turn the verified artifact at `artifact` into `builds/<version>` and record it as staged in
 * `options.state` (the caller writes the state, holding the lock). An executable is moved into the build
 * with mode 0755; an archive is extracted safely. The artifact file is consumed.
 *
 * Throws a `NotLaunchableError` when the build would not launch (no `executable` at its top
 * level, or not an executable file: see lib/core/launchable.ts), or an error when
 * `builds/<version>` is the current build made from different bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exists } from "../core/fs.ts";
 * import { hashFile } from "../core/hash.ts";
 * import { layoutOf } from "./layout.ts";
 * import { stageBuild } from "./stage.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const artifact = `${layout.downloads}/ms11-1.1.0`;
 * await Deno.mkdir(layout.downloads, { recursive: true });
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11 1.1.0\n");
 * const { sha256 } = await hashFile(artifact); // as the download verified it
 * const state = emptyState();
 * const options = { version: "1.1.0", channel: "stable", kind: "executable", sha256, executable: "ms11", state } as const;
 * const dir = await stageBuild(layout, artifact, options);
 * assert.equal(dir, `${layout.builds}/1.1.0`);
 * assert.equal((await Deno.stat(`${dir}/ms11`)).mode! & 0o777, 0o755);
 * assert.equal(await exists(artifact), false); // consumed
 * assert.equal(state.staged?.version, "1.1.0");
 * assert.equal(state.builds["1.1.0"].sha256, sha256);
 * ```
 */
export async function stageBuild(
  layout: Layout,
  artifact: string,
  options: StageOptions,
): Promise<string> {
  const { version, state } = options;
  const final = buildDir(layout, version);
  await ensureDir(layout, layout.builds, MODES.builds);
  await refuseLinks(layout, final);
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const tmp = `${layout.builds}/.staging-${version}-${rand}`;
  let entries: SealEntry[] = [];
  let rebuiltSeal: string | null = null;
  try {
    if (options.kind === "executable") {
      await Deno.mkdir(tmp, { mode: 0o700 });
      const target = `${tmp}/${options.executable}`;
      await place(artifact, target, options.keepArtifact ?? false);
      await checkVerified(target, options);
      entries = [{ path: options.executable, kind: "file", mode: 0o755, sha256: options.sha256 }];
    } else if (options.rebuild !== undefined) {
      rebuiltSeal = await options.rebuild(tmp);
      const problem = await launchProblem(tmp, options.executable);
      if (problem !== null) {
        throw new NotLaunchableError(`Release ${version} is not launchable: its build ${problem}`);
      }
    } else {
      // Loaded only for archives: an executable build needs none of the archive code.
      const { extractArchive } = await import("../archive/extract.ts");
      const written: SealEntry[] = [];
      await extractArchive(artifact, tmp, {
        kind: options.kind,
        onProgress: options.onProgress,
        expandedSize: options.expandedSize,
        onEntry: (entry) => written.push(entry),
      });
      entries = written;
      if (!options.keepArtifact) await removeIfExists(artifact);
      const problem = await launchProblem(tmp, options.executable);
      if (problem !== null) {
        throw new NotLaunchableError(
          `Release ${version} is not launchable: its ${options.kind} archive ${problem}`,
        );
      }
    }
    await Deno.chmod(tmp, MODES.builds);
    await syncDir(tmp);
    faultPoint("after-verify");
    if (await exists(final)) {
      if ((await currentVersion(layout)) === version) {
        throw new Error(
          `Build ${version} is current but was made from other bytes (sha256 ${
            state.builds[version]?.sha256 ?? "unknown"
          }); refusing to replace a running build with a different ${version}`,
        );
      }
      const trash = `${layout.builds}/.trash-${version}-${rand}`;
      await Deno.rename(final, trash);
      await removeIfExists(trash, true);
    }
    await renameDurable(tmp, final);
  } catch (error) {
    await removeIfExists(tmp, true);
    // A refused artifact (an unsafe or unlaunchable archive, not the file verified) does not
    // linger in downloads/; one that met a full disk or another system error is kept, so that
    // the next run stages it without downloading it again.
    if (typeof (error as { code?: unknown }).code !== "string") await removeIfExists(artifact);
    throw error;
  }
  // The seal from what was verified and written; the stamp from lstat alone: nothing is read.
  record(options, rebuiltSeal ?? sealOf(entries), await statStamp(final));
  return final;
}

/**
 * Put the downloaded executable at `target`: a hard link when the download is to be kept until
 * the build is recorded (where the filesystem has none, a rename), else a rename.
 */
async function place(artifact: string, target: string, keep: boolean): Promise<void> {
  if (keep) {
    try {
      await Deno.link(artifact, target);
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw error;
    }
  }
  await renameDurable(artifact, target);
}

/**
 * Check that the executable moved to `target` is the file the download verified: with the
 * download's identity, by device, inode, size and mtime (and its mode, set before the
 * download's one fsync), reading nothing; without one, by hashing it where it lies and
 * fsyncing it.
 */
async function checkVerified(target: string, options: StageOptions): Promise<void> {
  const expected = options.identity;
  if (expected === undefined) {
    await Deno.chmod(target, 0o755);
    const { sha256 } = await hashFile(target);
    if (sha256 !== options.sha256) {
      throw new ChecksumMismatchError(target, options.sha256, sha256);
    }
    using file = await Deno.open(target, { read: true });
    await file.sync();
    return;
  }
  const info = await Deno.lstat(target);
  const found = fileIdentity(info);
  if (!info.isFile || !sameFile(expected, found)) {
    throw new Error(
      `Artifact ${target} is not the file that was verified (inode ${expected.ino}, ${expected.size} bytes, mtime ${expected.mtimeMs}; found inode ${found.ino}, ${found.size} bytes, mtime ${found.mtimeMs}); nothing staged`,
    );
  }
  if (((info.mode ?? 0o755) & 0o777) !== 0o755) {
    await Deno.chmod(target, 0o755);
    using file = await Deno.open(target, { read: true });
    await file.sync(); // the mode change, durable (no data to write)
  }
}

/**
 * Record `options.version` as an installed build and as staged.
 */
function record(options: StageOptions, seal: string, stamp: string): void {
  const { state } = options;
  const at = (options.now ?? new Date()).toISOString();
  state.builds[options.version] = {
    version: options.version,
    channel: options.channel,
    sha256: options.sha256,
    kind: options.kind,
    installed_at: at,
    retired_at: null,
    tree_sha256: seal,
    stat_sha256: stamp,
  };
  state.staged = { version: options.version, channel: options.channel, staged_at: at };
}
