/**
 * The publisher's side of a folder delta: what changed between two folder builds, in one file
 * (docs/DELTA.md, "The folder delta").
 *
 * Both folders must be builds as clients have them, i.e. as lib/archive/extract.ts extracts the
 * release archives (modes without setuid, setgid, sticky, group or other write; no hard links,
 * devices or FIFOs): the delta carries seals computed on them, which the client's folders must
 * match exactly. Unchanged files are not in the delta at all; a file whose content is found
 * elsewhere in the old build (a rename, a copy, a mode change) is copied from there; a changed
 * file is a binary patch (bsdiff, see make.ts) against the old file at the same path (or, for a
 * file that moved and changed, the one old file of the same name), or the whole file when that
 * is smaller; a new file is whole; removed paths are listed.
 *
 * The delta is applied once before it is kept, and must rebuild the new folder's seal.
 *
 * @module
 */
import { constants, zstdCompressSync } from "node:zlib";
import { dirMode, fileMode } from "../archive/_paths.ts";
import { dirOf, removeIfExists, renameDurable, tempSibling } from "../core/fs.ts";
import { type FileDigest, hashFile } from "../core/hash.ts";
import { treeDigest } from "../root/seal.ts";
import { applyFolderDelta } from "./folder.ts";
import {
  FOLDER_MAGIC,
  FOLDER_MAGIC_V1,
  type FolderIndex,
  INDEX_FORMAT,
  type IndexEntry,
  MAX_INDEX_BYTES,
} from "./_folder_index.ts";
import { encodePatch } from "./_make_patch.ts";
import { decodeHeader, HEADER_BYTES } from "./_wire.ts";
import { MAX_PACK_BYTES, PACK_FILE_BYTES } from "./_folder_pack.ts";
import { byDepth, type TreeNode, walkTree } from "./_tree.ts";
import { DEFAULT_MAX_MEMORY, DEFAULT_MAX_RATIO, defaultConcurrency, levelOption } from "./make.ts";

/**
 * Options of {@linkcode makeFolderDelta}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MakeFolderDeltaOptions } from "./make_folder.ts";
 * const options: MakeFolderDeltaOptions = { out: "/tmp/1.0.0-1.1.0.fdz", fullSize: 4_174_590 };
 * assert.equal(options.fullSize, 4_174_590);
 * ```
 */
export interface MakeFolderDeltaOptions {
  /** Where to write the delta (replaced atomically if it exists). */
  out: string;
  /** Bytes of the full download (the new build's archive) the delta competes with. */
  fullSize: number;
  /** Keep the delta only when it is smaller than this share of `fullSize` (default 0.5). */
  maxRatio?: number;
  /** zstd level, 1-22 (default 19). */
  level?: number;
  /** Refuse (RangeError) a file whose bsdiff would need more memory than this (default 4 GiB). */
  maxMemory?: number;
  /** Blocks compressed at once (default: the number of CPUs, at most 4). */
  concurrency?: number;
  /** Stops bsdiff. */
  signal?: AbortSignal;
  /**
   * The format to write: 2 (default, MS11FDZ2: each blob without its patch header) or 1
   * (MS11FDZ1, what clients before it read).
   */
  formatVersion?: 1 | 2;
}

/**
 * What {@linkcode makeFolderDelta} made.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MakeFolderDeltaResult } from "./make_folder.ts";
 * const seal = { seal: "ab".repeat(32) };
 * const result: MakeFolderDeltaResult = {
 *   written: true, size: 900, sha256: "cd".repeat(32), fullSize: 40_000, ratio: 0.0225,
 *   from: seal, to: seal, kept: 10, copied: 0, patched: 1, whole: 0, removed: 0, entries: 1,
 * };
 * assert.ok(result.ratio < 0.05);
 * ```
 */
export interface MakeFolderDeltaResult {
  /** Whether the delta was kept at `out` (false: not worth it, nothing written). */
  written: boolean;
  /** Bytes of the delta (also when it was not kept). */
  size: number;
  /** SHA-256 of the delta file, or null when it was not kept. */
  sha256: string | null;
  /** The full download's bytes it was compared with. */
  fullSize: number;
  /** `size / fullSize`. */
  ratio: number;
  /** The old build's seal. */
  from: { seal: string };
  /** The new build's seal (what the client verifies). */
  to: { seal: string };
  /** Files taken unchanged from the old build (not in the delta). */
  kept: number;
  /** Files copied from another path of the old build or with another mode. */
  copied: number;
  /** Files carried as binary patches. */
  patched: number;
  /** Files carried whole. */
  whole: number;
  /** Old paths listed as removed. */
  removed: number;
  /** Entries in the index. */
  entries: number;
}

/** Refuse a folder that is not a build as extraction makes it. */
function checkModes(dir: string, tree: Map<string, TreeNode>): void {
  for (const [path, node] of tree) {
    const wanted = node.kind === "file"
      ? fileMode(node.mode)
      : node.kind === "dir"
      ? dirMode(node.mode)
      : node.mode;
    if (wanted !== node.mode) {
      throw new RangeError(
        `Cannot make a folder delta from ${dir}: ${path} has mode 0${
          node.mode.toString(8)
        }, which extraction makes 0${wanted.toString(8)}; pass builds as extracted`,
      );
    }
  }
}

async function hashes(dir: string, tree: Map<string, TreeNode>) {
  const out = new Map<string, FileDigest>();
  for (const [path, node] of tree) {
    if (node.kind === "file") out.set(path, await hashFile(`${dir}/${path}`));
  }
  return out;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The block count in the header of the patch file `path` (written by encodePatch). */
async function blockCount(path: string): Promise<number> {
  using file = await Deno.open(path, { read: true });
  const bytes = new Uint8Array(HEADER_BYTES);
  let filled = 0;
  while (filled < bytes.length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  const header = decodeHeader(bytes);
  if (typeof header === "string") throw new Error(`Patch ${path} is unreadable: ${header}`);
  return header.blocks;
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await file.write(data.subarray(done));
}

/**
 * Make the folder delta from the build `oldDir` to the build `newDir` at `options.out`, if it
 * is worth it: kept only when smaller than `maxRatio` × `fullSize`, and only after applying it
 * once rebuilt `newDir`'s seal. Otherwise nothing is written and `written` is false.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeFolderDelta } from "./make_folder.ts";
 * const dir = await Deno.makeTempDir();
 * for (const v of ["1", "2"]) {
 *   await Deno.mkdir(`${dir}/v${v}`);
 *   for (let i = 0; i < 50; i++) await Deno.writeTextFile(`${dir}/v${v}/f${i}.txt`, `file ${i}\n`);
 *   await Deno.writeTextFile(`${dir}/v${v}/version.txt`, `version ${v}\n`);
 * }
 * const result = await makeFolderDelta(`${dir}/v1`, `${dir}/v2`, {
 *   out: `${dir}/delta.fdz`, fullSize: 20_000,
 * });
 * assert.ok(result.written);
 * assert.equal(result.kept, 50);
 * assert.equal(result.entries, 1);
 * ```
 */
export async function makeFolderDelta(
  oldDir: string,
  newDir: string,
  options: MakeFolderDeltaOptions,
): Promise<MakeFolderDeltaResult> {
  const maxRatio = options.maxRatio ?? DEFAULT_MAX_RATIO;
  if (!(maxRatio > 0 && maxRatio <= 1)) {
    throw new RangeError(`Delta option maxRatio must be in (0, 1], got ${options.maxRatio}`);
  }
  const { fullSize } = options;
  if (!Number.isSafeInteger(fullSize) || fullSize < 0) {
    throw new RangeError(`Delta option fullSize must be a non-negative integer, got ${fullSize}`);
  }
  const encode = {
    level: levelOption(options.level),
    concurrency: options.concurrency ?? defaultConcurrency(),
    maxMemory: options.maxMemory ?? DEFAULT_MAX_MEMORY,
    signal: options.signal,
  };
  const version = options.formatVersion ?? 2;
  if (version !== 1 && version !== 2) {
    throw new RangeError(`Delta option formatVersion must be 1 or 2, got ${version}`);
  }
  const skip = version === 2 ? HEADER_BYTES : 0;
  const old = await walkTree(oldDir);
  const next = await walkTree(newDir);
  checkModes(oldDir, old);
  checkModes(newDir, next);
  const oldHashes = await hashes(oldDir, old);
  const newHashes = await hashes(newDir, next);
  const from = { seal: await treeDigest(oldDir) };
  const to = { seal: await treeDigest(newDir) };

  const removed: string[] = [];
  for (const [path, node] of old) {
    const ancestorGone = removed.some((r) => path.startsWith(`${r}/`));
    if (!ancestorGone && next.get(path)?.kind !== node.kind) removed.push(path);
  }
  const gone = (path: string) => removed.some((r) => path === r || path.startsWith(`${r}/`));
  const bySha = new Map<string, string>();
  for (const [path, digest] of oldHashes) {
    if (!bySha.has(digest.sha256)) bySha.set(digest.sha256, path);
  }
  const byName = new Map<string, string[]>();
  for (const path of oldHashes.keys()) {
    byName.set(baseName(path), [...byName.get(baseName(path)) ?? [], path]);
  }

  const work = await Deno.makeTempDir({ dir: dirOf(options.out), prefix: ".ms11-fdz-" });
  const tmp = tempSibling(options.out);
  const counts = { kept: 0, copied: 0, patched: 0, whole: 0 };
  try {
    const entries: IndexEntry[] = [];
    const blobs: string[] = [];
    let blobBytes = 0;
    const packed: Uint8Array[] = [];
    let packBytes = 0;
    for (const path of byDepth(next.keys())) {
      const node = next.get(path)!;
      const was = gone(path) ? undefined : old.get(path);
      if (node.kind === "dir") {
        if (was?.kind !== "dir" || was.mode !== node.mode) {
          entries.push({ path, type: "dir", mode: node.mode });
        }
        continue;
      }
      if (node.kind === "symlink") {
        if (was?.kind !== "symlink" || was.target !== node.target) {
          entries.push({ path, type: "symlink", target: node.target });
        }
        continue;
      }
      const digest = newHashes.get(path)!;
      const base = { path, type: "file" as const, mode: node.mode, ...digest };
      if (was?.kind === "file" && oldHashes.get(path)!.sha256 === digest.sha256) {
        if (was.mode === node.mode) counts.kept++;
        else {
          entries.push({ ...base, copy: path });
          counts.copied++;
        }
        continue;
      }
      const same = bySha.get(digest.sha256);
      if (same !== undefined) {
        entries.push({ ...base, copy: same });
        counts.copied++;
        continue;
      }
      const named = byName.get(baseName(path)) ?? [];
      const source = was?.kind === "file"
        ? path
        : named.length === 1 && !next.has(named[0])
        ? named[0]
        : null;
      const input = { path: `${newDir}/${path}`, digest };
      const whole = `${work}/${blobs.length}.whole`;
      let best = whole;
      let bestSize = (await encodePatch(null, input, whole, encode)).size;
      let patchFrom: string | null = null;
      if (source !== null && digest.size > 0 && oldHashes.get(source)!.size > 0) {
        const patch = `${work}/${blobs.length}.patch`;
        const { size } = await encodePatch(
          { path: `${oldDir}/${source}`, digest: oldHashes.get(source)! },
          input,
          patch,
          encode,
        );
        if (size < bestSize) {
          await removeIfExists(whole);
          best = patch;
          bestSize = size;
          patchFrom = source;
        } else await removeIfExists(patch);
      }
      if (
        version === 2 && patchFrom === null && digest.size <= PACK_FILE_BYTES &&
        packBytes + digest.size <= MAX_PACK_BYTES
      ) {
        // A small whole file goes into the pack, to be compressed with the others.
        await removeIfExists(best);
        packed.push(await Deno.readFile(`${newDir}/${path}`));
        entries.push({ ...base, pack: { at: packBytes } });
        packBytes += digest.size;
        counts.whole++;
        continue;
      }
      const blob = version === 2
        ? { offset: blobBytes, size: bestSize - skip, blocks: await blockCount(best) }
        : { offset: blobBytes, size: bestSize };
      if (patchFrom === null) {
        entries.push({ ...base, data: blob });
        counts.whole++;
      } else {
        entries.push({ ...base, patch: { from: patchFrom, ...blob } });
        counts.patched++;
      }
      blobs.push(best);
      blobBytes += blob.size;
    }
    const index: FolderIndex = { format: INDEX_FORMAT, version, from, to, removed, entries };
    if (packed.length > 0) {
      const all = new Uint8Array(packBytes);
      let at = 0;
      for (const part of packed) {
        all.set(part, at);
        at += part.length;
      }
      const frame = zstdCompressSync(all, {
        params: { [constants.ZSTD_c_compressionLevel]: encode.level },
      });
      await Deno.writeFile(`${work}/pack`, frame);
      index.pack = { offset: blobBytes, size: frame.length, bytes: packBytes };
      blobs.push(`${work}/pack`);
      blobBytes += frame.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(index));
    if (json.length > MAX_INDEX_BYTES) {
      throw new RangeError(
        `Folder delta index of ${json.length} bytes is above the limit of ${MAX_INDEX_BYTES}`,
      );
    }
    const frame = zstdCompressSync(json, {
      params: { [constants.ZSTD_c_compressionLevel]: encode.level },
    });
    const head = new Uint8Array(16);
    head.set(new TextEncoder().encode(version === 2 ? FOLDER_MAGIC : FOLDER_MAGIC_V1));
    new DataView(head.buffer).setUint32(8, frame.length, true);
    new DataView(head.buffer).setUint32(12, json.length, true);
    const size = head.length + frame.length + blobBytes;
    const ratio = fullSize === 0 ? Infinity : size / fullSize;
    const result = {
      size,
      fullSize,
      ratio,
      from,
      to,
      ...counts,
      removed: removed.length,
      entries: entries.length,
    };
    if (!(ratio < maxRatio)) return { written: false, sha256: null, ...result };
    {
      using out = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
      await writeAll(out, head);
      await writeAll(out, frame);
      for (const blob of blobs) {
        using input = await Deno.open(blob, { read: true });
        if (blob !== `${work}/pack`) await input.seek(skip, Deno.SeekMode.Start);
        const buffer = new Uint8Array(1024 * 1024);
        for (let n = await input.read(buffer); n !== null; n = await input.read(buffer)) {
          await writeAll(out, buffer.subarray(0, n));
        }
      }
    }
    await applyFolderDelta(oldDir, tmp, { out: `${work}/check`, seal: to.seal, sync: false });
    const { sha256 } = await hashFile(tmp);
    await renameDurable(tmp, options.out);
    return { written: true, sha256, ...result };
  } finally {
    await removeIfExists(tmp);
    await removeIfExists(work, true);
  }
}
