// Private: one file of a folder delta rebuilt from its blob (lib/delta/folder.ts).
import { DeltaError } from "./errors.ts";
import type { FileEntry } from "./_folder_index.ts";
import type { Kernel } from "./_kernel.ts";
import { type PatchRegion, readPatchHeader, rebuild } from "./_rebuild.ts";
import type { TreeNode } from "./_tree.ts";
import { EMPTY_SHA256, type PatchHeader } from "./_wire.ts";

/**
 * Rebuild the file of `entry` at `target` from its blob (a patch from an old file, or a whole
 * file) and check its SHA-256; in a version 2 delta the blob has no patch header and the header
 * is made from the entry and the old file's size. Throws {@linkcode DeltaError}; the caller
 * removes the new folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rebuildEntry } from "./_folder_entry.ts";
 * import { encodePatch } from "./_make_patch.ts";
 * import { workingKernel } from "./_rebuild.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/new`, "abc");
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * const input = { path: `${dir}/new`, digest: { size: 3, sha256 } };
 * await encodePatch(null, input, `${dir}/blob`, { level: 3, concurrency: 1, maxMemory: 2 ** 30 });
 * using file = await Deno.open(`${dir}/blob`);
 * const size = (await file.stat()).size;
 * const entry = { path: "a.txt", type: "file" as const, mode: 0o644, size: 3, sha256, data: { offset: 0, size } };
 * await rebuildEntry(entry, `${dir}/a.txt`, {
 *   file, delta: "d.fdz", blobStart: 0, oldDir: dir, old: new Map(), kernel: workingKernel(), version: 1,
 * });
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "abc");
 * ```
 */
export async function rebuildEntry(
  entry: FileEntry,
  target: string,
  from: {
    file: Deno.FsFile;
    delta: string;
    blobStart: number;
    oldDir: string;
    old: Map<string, TreeNode>;
    kernel: Kernel;
    version: 1 | 2;
  },
): Promise<void> {
  const { file, delta, blobStart, oldDir, old } = from;
  const blob = entry.patch ?? entry.data!;
  const label = `${delta} entry ${JSON.stringify(entry.path)}`;
  const region: PatchRegion = { file, start: blobStart + blob.offset, length: blob.size, label };
  const oldSize = entry.patch === undefined ? 0 : old.get(entry.patch.from)!.size;
  let header: PatchHeader;
  if (from.version === 2) {
    // The blob is the patch's blocks; its header is what the index says (checked by parseIndex).
    region.bare = true;
    header = {
      oldSize,
      newSize: entry.size,
      blocks: blob.blocks!,
      oldSha256: EMPTY_SHA256,
      newSha256: entry.sha256,
    };
  } else header = await readPatchHeader(region);
  if (header.newSize !== entry.size || header.newSha256 !== entry.sha256) {
    throw new DeltaError(
      label,
      "corrupt",
      `patch makes ${header.newSize} bytes with sha256 ${header.newSha256}, the index says ${entry.size} bytes with sha256 ${entry.sha256}`,
    );
  }
  if (header.oldSize !== oldSize) {
    throw new DeltaError(
      label,
      "corrupt",
      `patch was made from a file of ${header.oldSize} bytes, its source has ${oldSize}`,
    );
  }
  using oldFile = entry.patch === undefined
    ? null
    : await Deno.open(`${oldDir}/${entry.patch.from}`, { read: true });
  using out = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
  const made = await rebuild(region, header, { old: oldFile, out, kernel: from.kernel });
  if (made.sha256 !== entry.sha256) {
    throw new DeltaError(
      label,
      "mismatch",
      `rebuilt file has sha256 ${made.sha256}, expected ${entry.sha256}`,
    );
  }
}
