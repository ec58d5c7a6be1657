/**
 * Disk-space preflight: before a download, make sure the install root's filesystem has room for
 * the artifact, its extraction and a safety margin, and fail early with the numbers otherwise.
 * The backups kept are already on disk (the current build becomes one at the next apply, and
 * pruning then removes the oldest), so they need no new room.
 *
 * @module
 */
import type { ArtifactKind } from "../trust/manifest.ts";

/**
 * Bytes kept free beyond the estimate: 16 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SPACE_MARGIN_BYTES, spaceNeeded } from "./space.ts";
 * assert.equal(SPACE_MARGIN_BYTES, 16 * 1024 * 1024);
 * assert.equal(spaceNeeded("executable", 0).total, SPACE_MARGIN_BYTES);
 * ```
 */
export const SPACE_MARGIN_BYTES = 16 * 1024 * 1024;

/**
 * What an update needs, in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SpaceNeed, spaceNeeded } from "./space.ts";
 * const need: SpaceNeed = spaceNeeded("zip", 1000);
 * assert.equal(need.extraction, 2000); // twice the archive, with no current build to go by
 * assert.equal(need.total, need.artifact + need.extraction + need.margin);
 * ```
 */
export interface SpaceNeed {
  /** The download: what is not on disk yet of it. */
  artifact: number;
  /** What is on disk of it already (a partial being resumed), when anything is. */
  downloaded?: number;
  /** The build extracted from it (none for an executable: the download is moved in). */
  extraction: number;
  /** The safety margin. */
  margin: number;
  /** The sum. */
  total: number;
}

/**
 * Options of {@linkcode spaceNeeded}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spaceNeeded, type SpaceNeededOptions } from "./space.ts";
 * const options: SpaceNeededOptions = { currentBuildBytes: 5000 };
 * assert.equal(spaceNeeded("tar.gz", 1000, options).extraction, 5000);
 * assert.equal(spaceNeeded("executable", 1000, options).extraction, 0); // moved in, not extracted
 * ```
 */
export interface SpaceNeededOptions {
  /** Size of the current build, the best guess of an extracted build's size (default 0). */
  currentBuildBytes?: number;
  /** An archive's content as its signed manifest declares it (`expanded_size`): no guess. */
  expandedSize?: number;
  /** Bytes of the artifact already on disk (a partial download being resumed). */
  downloaded?: number;
}

/**
 * The bytes an update needs: the artifact, plus for an archive its extraction (the expanded size
 * its manifest declares, else estimated as the larger of twice the archive and the current
 * build), plus {@linkcode SPACE_MARGIN_BYTES}. Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SPACE_MARGIN_BYTES, spaceNeeded } from "./space.ts";
 * assert.deepEqual(spaceNeeded("tar.gz", 1000, { currentBuildBytes: 5000 }), {
 *   artifact: 1000,
 *   extraction: 5000,
 *   margin: SPACE_MARGIN_BYTES,
 *   total: 1000 + 5000 + SPACE_MARGIN_BYTES,
 * });
 * // Declared by the manifest: no guess.
 * assert.equal(spaceNeeded("tar.gz", 1000, { expandedSize: 90_000 }).extraction, 90_000);
 * // Resuming: only what is not on disk yet.
 * assert.deepEqual(spaceNeeded("executable", 1000, { downloaded: 400 }), {
 *   artifact: 600, downloaded: 400, extraction: 0, margin: SPACE_MARGIN_BYTES, total: 600 + SPACE_MARGIN_BYTES,
 * });
 * ```
 */
export function spaceNeeded(
  kind: ArtifactKind,
  size: number,
  options: SpaceNeededOptions = {},
): SpaceNeed {
  const extraction = kind === "executable"
    ? 0
    : options.expandedSize ?? Math.max(2 * size, options.currentBuildBytes ?? 0);
  const margin = SPACE_MARGIN_BYTES;
  const downloaded = Math.min(size, Math.max(0, options.downloaded ?? 0));
  const artifact = size - downloaded;
  return {
    artifact,
    ...(downloaded > 0 ? { downloaded } : {}),
    extraction,
    margin,
    total: artifact + extraction + margin,
  };
}

/**
 * Free bytes available to this user on the filesystem holding `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { freeBytes } from "./space.ts";
 * const free = await freeBytes(await Deno.makeTempDir());
 * assert.ok(Number.isSafeInteger(free) && free > 0);
 * await assert.rejects(freeBytes(`${await Deno.makeTempDir()}/missing`), { code: "ENOENT" });
 * ```
 */
export async function freeBytes(path: string): Promise<number> {
  const { statfs } = await import("node:fs/promises");
  const info = await statfs(path);
  return Number(info.bavail) * Number(info.bsize);
}

/**
 * Total bytes of the regular files under `dir` (0 when it does not exist).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { treeBytes } from "./space.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/lib`);
 * await Deno.writeFile(`${dir}/ms11`, new Uint8Array(100));
 * await Deno.writeFile(`${dir}/lib/data`, new Uint8Array(20));
 * await Deno.symlink("ms11", `${dir}/link`); // not a regular file: not counted
 * assert.equal(await treeBytes(dir), 120);
 * assert.equal(await treeBytes(`${dir}/missing`), 0);
 * ```
 */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) total += await treeBytes(path);
      else if (entry.isFile) total += (await Deno.lstat(path)).size;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

/**
 * Options of {@linkcode checkFreeSpace}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFreeSpace, type CheckFreeSpaceOptions, spaceNeeded } from "./space.ts";
 * const options: CheckFreeSpaceOptions = { probe: () => Promise.resolve(64 * 1024 * 1024) };
 * await checkFreeSpace("/opt/ms11", spaceNeeded("executable", 1024), options); // room enough
 * await assert.rejects(checkFreeSpace("/opt/ms11", spaceNeeded("executable", 64 * 1024 * 1024), options));
 * ```
 */
export interface CheckFreeSpaceOptions {
  /** Measures free bytes (default {@linkcode freeBytes}); tests inject a small disk. */
  probe?: (path: string) => Promise<number>;
}

/**
 * Throw when the filesystem of `path` has less free space than `need.total`, naming every
 * number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFreeSpace, spaceNeeded } from "./space.ts";
 * const need = spaceNeeded("executable", 100);
 * await assert.rejects(checkFreeSpace("/opt/ms11", need, { probe: () => Promise.resolve(1) }), {
 *   message: `Not enough free space in /opt/ms11: need ${need.total} bytes (artifact 100, extraction 0, margin ${need.margin}), 1 available`,
 * });
 * ```
 */
export async function checkFreeSpace(
  path: string,
  need: SpaceNeed,
  options: CheckFreeSpaceOptions = {},
): Promise<void> {
  const free = await (options.probe ?? freeBytes)(path);
  if (free < need.total) {
    throw new Error(
      `Not enough free space in ${path}: need ${need.total} bytes (artifact ${need.artifact}${
        need.downloaded ? ` more, ${need.downloaded} already downloaded` : ""
      }, extraction ${need.extraction}, margin ${need.margin}), ${free} available`,
    );
  }
}
