/**
 * Disk-space preflight: before a download, make sure the install root's filesystem has room for
 * the artifact, its extraction and a safety margin, and fail early with the numbers otherwise.
 * The backups kept are already on disk (the current build becomes one at the next apply, and
 * pruning then removes the oldest), so they need no new room.
 *
 * @module
 */
import type { ArtifactKind } from "../trust/manifest.ts";

/** Bytes kept free beyond the estimate: 16 MiB. */
export const SPACE_MARGIN_BYTES = 16 * 1024 * 1024;

/** What an update needs, in bytes. */
export interface SpaceNeed {
  /** The download. */
  artifact: number;
  /** The build extracted from it (none for an executable: the download is moved in). */
  extraction: number;
  /** The safety margin. */
  margin: number;
  /** The sum. */
  total: number;
}

/** Options of {@linkcode spaceNeeded}. */
export interface SpaceNeededOptions {
  /** Size of the current build, the best guess of an extracted build's size (default 0). */
  currentBuildBytes?: number;
}

/**
 * The bytes an update needs: the artifact, plus for an archive its extraction (estimated as the
 * larger of twice the archive and the current build), plus {@linkcode SPACE_MARGIN_BYTES}. Pure.
 *
 * @example
 * ```ts
 * import { spaceNeeded, SPACE_MARGIN_BYTES } from "./space.ts";
 * const need = spaceNeeded("tar.gz", 1000, { currentBuildBytes: 5000 });
 * console.assert(need.total === 1000 + 5000 + SPACE_MARGIN_BYTES);
 * ```
 */
export function spaceNeeded(
  kind: ArtifactKind,
  size: number,
  options: SpaceNeededOptions = {},
): SpaceNeed {
  const extraction = kind === "executable" ? 0 : Math.max(2 * size, options.currentBuildBytes ?? 0);
  const margin = SPACE_MARGIN_BYTES;
  return { artifact: size, extraction, margin, total: size + extraction + margin };
}

/**
 * Free bytes available to this user on the filesystem holding `path`.
 *
 * @example
 * ```ts
 * import { freeBytes } from "./space.ts";
 * console.assert(await freeBytes(Deno.cwd()) > 0);
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
 * import { treeBytes } from "./space.ts";
 * console.assert(await treeBytes("/nonexistent") === 0);
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

/** Options of {@linkcode checkFreeSpace}. */
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
 * import { checkFreeSpace, spaceNeeded } from "./space.ts";
 * const need = spaceNeeded("executable", 100);
 * await checkFreeSpace(Deno.cwd(), need, { probe: () => Promise.resolve(1) })
 *   .catch((e) => console.assert(e.message.startsWith("Not enough free space")));
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
      `Not enough free space in ${path}: need ${need.total} bytes (artifact ${need.artifact}, extraction ${need.extraction}, margin ${need.margin}), ${free} available`,
    );
  }
}
