/**
 * Staging: a verified artifact becomes a build directory `builds/<version>` and is recorded as
 * the build to swap in at the next launch. The build is assembled in a private temporary
 * directory beside its final place and renamed into it, so a half-made build is never visible.
 *
 * @module
 */
import { exists, removeIfExists, renameDurable, syncDir } from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";
import { treeDigest } from "./seal.ts";
import { ChecksumMismatchError, NotLaunchableError } from "../core/errors.ts";
import { launchProblem } from "../core/launchable.ts";
import { hashFile } from "../core/hash.ts";
import type { ProgressSink } from "../core/env.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import type { ArtifactKind } from "../trust/manifest.ts";
import type { State } from "./state.ts";

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
  /** The application's file name inside the build (must exist in it). */
  executable: string;
  /** The time to record (default now). */
  now?: Date;
  /** Progress of extraction. */
  onProgress?: ProgressSink;
  /** The state to record the build in (the caller writes it, holding the lock). */
  state: State;
}

/**
 * Remove leftovers of interrupted staging or pruning (`builds/.staging-*`, `builds/.trash-*`).
 * The caller holds the lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { sweepLeftovers } from "./stage.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const name of ["1.0.0", ".staging-1.1.0-x1", ".trash-0.9.0-17"]) {
 *   await Deno.mkdir(`${layout.builds}/${name}`, { recursive: true });
 * }
 * assert.deepEqual((await sweepLeftovers(layout)).sort(), [".staging-1.1.0-x1", ".trash-0.9.0-17"]);
 * assert.deepEqual([...Deno.readDirSync(layout.builds)].map((e) => e.name), ["1.0.0"]);
 * assert.deepEqual(await sweepLeftovers(layoutOf(`${layout.root}/missing`)), []);
 * ```
 */
export async function sweepLeftovers(layout: Layout): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(layout.builds)) {
      if (/^\.(staging|trash)-/.test(entry.name)) {
        await removeIfExists(`${layout.builds}/${entry.name}`, true);
        removed.push(entry.name);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}

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
  await Deno.mkdir(layout.builds, { recursive: true });
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const tmp = `${layout.builds}/.staging-${version}-${rand}`;
  let seal: string;
  try {
    if (options.kind === "executable") {
      await Deno.mkdir(tmp, { mode: 0o700 });
      const target = `${tmp}/${options.executable}`;
      await renameDurable(artifact, target);
      await Deno.chmod(target, 0o755);
      // The bytes sealed are the bytes verified: hash the file where it now lies.
      const { sha256 } = await hashFile(target);
      if (sha256 !== options.sha256) {
        throw new ChecksumMismatchError(target, options.sha256, sha256);
      }
      // Durable before it can become current (the download leaves that to staging).
      using file = await Deno.open(target, { read: true });
      await file.sync();
    } else {
      // Loaded only for archives: an executable build needs none of the archive code.
      const { extractArchive } = await import("../archive/extract.ts");
      await extractArchive(artifact, tmp, { kind: options.kind, onProgress: options.onProgress });
      await removeIfExists(artifact);
      const problem = await launchProblem(tmp, options.executable);
      if (problem !== null) {
        throw new NotLaunchableError(
          `Release ${version} is not launchable: its ${options.kind} archive ${problem}`,
        );
      }
    }
    await Deno.chmod(tmp, 0o755);
    await syncDir(tmp);
    seal = await treeDigest(tmp);
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
    // A refused artifact (an unsafe or unlaunchable archive) does not linger in downloads/.
    await removeIfExists(artifact);
    throw error;
  }
  record(options, seal);
  return final;
}

/**
 * Record `options.version` as an installed build and as staged.
 */
function record(options: StageOptions, seal: string): void {
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
  };
  state.staged = { version: options.version, channel: options.channel, staged_at: at };
}
