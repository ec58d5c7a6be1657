/**
 * The client's side of a folder delta: rebuild a folder build (what a tar.gz or zip build
 * extracts to) from the old build on disk and a folder delta (docs/DELTA.md, "The folder delta").
 *
 * The new build is assembled in a fresh private folder: the old build's files that did not
 * change are copied, changed files are rebuilt from binary patches, new files unpacked whole,
 * each checked against its SHA-256; removed paths are not copied. Every path is judged before
 * anything is written, by the rules extraction uses (lib/archive/_paths.ts): no `..`, no absolute
 * path, no write through a symlink, no symlink leading outside, modes without setuid, setgid,
 * sticky and group or other write. The old build must have the seal the delta was made from, and
 * the result must have the seal it was made to, before success is declared; on any failure the
 * new folder is removed and the error propagates ({@linkcode DeltaError} for the delta's faults).
 *
 * @module
 */
import type { ProgressSink } from "../core/env.ts";
import { UnsafeArchiveError } from "../core/errors.ts";
import { dirOf, removeIfExists, syncDir, syncTree } from "../core/fs.ts";
import { hashFile } from "../core/hash.ts";
import {
  checkAllLinks,
  checkLinkTarget,
  claim,
  dirMode,
  fileMode,
  newTree,
} from "../archive/_paths.ts";
import { treeDigest } from "../root/seal.ts";
import { DeltaError } from "./errors.ts";
import {
  type FileEntry,
  FOLDER_HEADER_BYTES,
  FOLDER_MAGIC,
  FOLDER_MAGIC_V1,
  type FolderIndex,
  INDEX_VERSIONS,
  MAX_INDEX_BYTES,
  parseIndex,
} from "./_folder_index.ts";
import { frameLimit } from "./_wire.ts";
import { inflateExact } from "./_inflate.ts";
import { readExact, readPack, writePacked } from "./_folder_pack.ts";
import { workingKernel } from "./_rebuild.ts";
import { rebuildEntry } from "./_folder_entry.ts";
import type { Kernel } from "./_kernel.ts";
import { byDepth, type TreeNode, walkTree } from "./_tree.ts";

/**
 * Options of {@linkcode applyFolderDelta}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApplyFolderDeltaOptions } from "./folder.ts";
 * const options: ApplyFolderDeltaOptions = { out: "/opt/ms11/builds/.staging-1.1.0", sync: false };
 * assert.equal(options.sync, false);
 * ```
 */
export interface ApplyFolderDeltaOptions {
  /** The folder to create (it must not exist); mode 0700, as extraction makes it. */
  out: string;
  /** The seal the new build must have, from the signed manifest (default: the delta's own). */
  seal?: string;
  /** fsync every file and folder written (default true, as extraction does). */
  sync?: boolean;
  /** Refuse a new build of more entries than this (default 100,000, as extraction). */
  maxEntries?: number;
  /** Refuse a new build of more bytes than this (default 8 GiB, as extraction). */
  maxBytes?: number;
  /** Receives `{phase: "extract", done, total}` in bytes of files written. */
  onProgress?: ProgressSink;
  /** Stops the rebuild between files; the new folder is removed. */
  signal?: AbortSignal;
}

/**
 * What {@linkcode applyFolderDelta} made.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApplyFolderDeltaResult } from "./folder.ts";
 * const result: ApplyFolderDeltaResult = {
 *   seal: "ab".repeat(32), files: 3, bytes: 120, kept: 1, copied: 0, patched: 1, whole: 1, removed: 0,
 * };
 * assert.equal(result.kept + result.copied + result.patched + result.whole, result.files);
 * ```
 */
export interface ApplyFolderDeltaResult {
  /** The new build's seal (as verified). */
  seal: string;
  /** Regular files written. */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** Files copied unchanged from the same path of the old build. */
  kept: number;
  /** Files copied from another path or with another mode (renames, duplicates). */
  copied: number;
  /** Files rebuilt from a binary patch. */
  patched: number;
  /** Files unpacked whole. */
  whole: number;
  /** Paths of the old build not carried over. */
  removed: number;
}

/** Default of {@linkcode ApplyFolderDeltaOptions.maxEntries} (extraction's default). */
const DEFAULT_MAX_ENTRIES = 100_000;
/** Default of {@linkcode ApplyFolderDeltaOptions.maxBytes}: 8 GiB (extraction's default). */
const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;

/** What goes at one path of the new build. */
type Planned =
  | { kind: "dir"; mode: number }
  | { kind: "symlink"; target: string }
  | { kind: "file"; mode: number; size: number; entry: FileEntry | null };

function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Folder delta option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Read the container's header and index. */
async function readIndex(
  file: Deno.FsFile,
  delta: string,
  maxEntries: number,
): Promise<{ index: FolderIndex; blobStart: number }> {
  const size = (await file.stat()).size;
  const head = await readExact(file, 0, FOLDER_HEADER_BYTES);
  const version = head.length < 8
    ? undefined
    : INDEX_VERSIONS[new TextDecoder().decode(head.subarray(0, 8))];
  if (version === undefined) {
    throw new DeltaError(
      delta,
      "format",
      `not a folder delta (no ${FOLDER_MAGIC} or ${FOLDER_MAGIC_V1} magic)`,
    );
  }
  if (head.length < FOLDER_HEADER_BYTES) {
    throw new DeltaError(delta, "corrupt", "folder delta is truncated in its header");
  }
  const view = new DataView(head.buffer, head.byteOffset, FOLDER_HEADER_BYTES);
  const frameBytes = view.getUint32(8, true);
  const indexBytes = view.getUint32(12, true);
  if (indexBytes > MAX_INDEX_BYTES) {
    throw new DeltaError(
      delta,
      "unsafe",
      `index declares ${indexBytes} bytes, more than the limit of ${MAX_INDEX_BYTES}`,
    );
  }
  if (frameBytes > frameLimit(indexBytes)) {
    throw new DeltaError(
      delta,
      "corrupt",
      `index frame of ${frameBytes} bytes for ${indexBytes} bytes of index`,
    );
  }
  const blobStart = FOLDER_HEADER_BYTES + frameBytes;
  if (blobStart > size) {
    throw new DeltaError(delta, "corrupt", "folder delta is truncated in its index");
  }
  const frame = await readExact(file, FOLDER_HEADER_BYTES, frameBytes);
  const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let json: string;
  try {
    json = text.decode(inflateExact(delta, "index", frame, indexBytes));
  } catch (error) {
    if (error instanceof DeltaError) throw error;
    throw new DeltaError(delta, "corrupt", "index is not valid UTF-8", { cause: error });
  }
  const index = parseIndex(json, {
    label: delta,
    blobBytes: size - blobStart,
    maxEntries,
    version,
  });
  return { index, blobStart };
}

/** Turn a refusal of the path rules into a DeltaError. */
function unsafe(delta: string, error: unknown): unknown {
  if (!(error instanceof UnsafeArchiveError)) return error;
  const reason = error.message.slice(error.message.indexOf(" refused: ") + 10);
  return new DeltaError(
    delta,
    "unsafe",
    `entry ${JSON.stringify(error.entry)} refused: ${reason}`,
    { cause: error },
  );
}

/** The new build, path by path, from the old one and the index; checks it all. */
function plan(
  delta: string,
  old: Map<string, TreeNode>,
  index: FolderIndex,
  limits: { maxEntries: number; maxBytes: number },
): { order: string[]; nodes: Map<string, Planned> } {
  const corrupt = (detail: string) => new DeltaError(delta, "corrupt", detail);
  const nodes = new Map<string, Planned>();
  for (const [path, node] of old) {
    if (node.kind === "dir") nodes.set(path, { kind: "dir", mode: node.mode });
    else if (node.kind === "symlink") nodes.set(path, { kind: "symlink", target: node.target });
    else nodes.set(path, { kind: "file", mode: node.mode, size: node.size, entry: null });
  }
  const removed = new Set(index.removed);
  for (const path of removed) {
    if (!old.has(path)) {
      throw corrupt(`removes ${JSON.stringify(path)}, which the old build does not have`);
    }
  }
  // A removed directory goes with everything in it: drop every path with a removed ancestor.
  for (const path of old.keys()) {
    for (let at = path.length; at > 0; at = path.lastIndexOf("/", at - 1)) {
      if (removed.has(path.slice(0, at))) {
        nodes.delete(path);
        break;
      }
    }
  }
  for (const entry of index.entries) {
    const existing = nodes.get(entry.path);
    if (existing?.kind === "dir" && entry.type !== "dir") {
      throw corrupt(
        `replaces the directory ${
          JSON.stringify(entry.path)
        } with a ${entry.type} without removing it`,
      );
    }
    if (entry.type === "dir") nodes.set(entry.path, { kind: "dir", mode: entry.mode });
    else if (entry.type === "symlink") {
      nodes.set(entry.path, { kind: "symlink", target: entry.target });
    } else {
      const source = entry.copy ?? entry.patch?.from;
      if (source !== undefined && old.get(source)?.kind !== "file") {
        throw corrupt(
          `entry ${JSON.stringify(entry.path)} is made from ${
            JSON.stringify(source)
          }, which is not a file of the old build`,
        );
      }
      nodes.set(entry.path, { kind: "file", mode: entry.mode, size: entry.size, entry });
    }
  }
  if (nodes.size > limits.maxEntries) {
    throw new DeltaError(
      delta,
      "unsafe",
      `new build has ${nodes.size} entries, more than the limit of ${limits.maxEntries}`,
    );
  }
  let bytes = 0;
  for (const node of nodes.values()) if (node.kind === "file") bytes += node.size;
  if (bytes > limits.maxBytes) {
    throw new DeltaError(
      delta,
      "unsafe",
      `new build holds ${bytes} bytes, more than the limit of ${limits.maxBytes}`,
    );
  }
  const order = byDepth(nodes.keys());
  const tree = newTree();
  try {
    for (const path of order) {
      const node = nodes.get(path)!;
      const parts = path.split("/");
      const missing = claim(tree, delta, path, parts, node.kind);
      if (missing.length > 0) {
        throw corrupt(
          `entry ${JSON.stringify(path)} is in ${
            JSON.stringify(missing.at(-1))
          }, which is not a directory of the new build`,
        );
      }
      if (node.kind === "symlink") {
        checkLinkTarget(tree, delta, path, parts, node.target);
        tree.links.set(path, { entry: path, target: node.target });
      }
    }
    checkAllLinks(tree, delta);
  } catch (error) {
    throw unsafe(delta, error);
  }
  return { order, nodes };
}

/**
 * Rebuild the folder build `options.out` from the old build `oldDir` and the folder delta file
 * `delta`, and verify it: every rebuilt or copied-from-elsewhere file against its SHA-256, the
 * old build and the whole result against their seals (lib/root/seal.ts).
 *
 * Refused with {@linkcode DeltaError} before anything is written: a file that is not a folder
 * delta or an index that is not exactly right (`format`, `corrupt`), a path with `..`, an
 * absolute path, a path through a symlink, a symlink leading outside, more entries or bytes than
 * the limits (`unsafe`), an old build with another seal than the delta was made from
 * (`source`), a delta made to another seal than `options.seal` (`mismatch`). Refused while
 * writing, the new folder removed: any binary patch fault (see applyPatch), a file or the
 * whole result with another hash (`mismatch`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyFolderDelta } from "./folder.ts";
 * import { makeFolderDelta } from "./make_folder.ts";
 * const dir = await Deno.makeTempDir();
 * for (const v of ["1", "2"]) {
 *   await Deno.mkdir(`${dir}/v${v}/lib`, { recursive: true });
 *   await Deno.writeTextFile(`${dir}/v${v}/lib/same.txt`, "unchanged\n".repeat(500));
 *   await Deno.writeTextFile(`${dir}/v${v}/version.txt`, `version ${v}\n`);
 * }
 * const made = await makeFolderDelta(`${dir}/v1`, `${dir}/v2`, {
 *   out: `${dir}/delta.fdz`, fullSize: 10_000,
 * });
 * const result = await applyFolderDelta(`${dir}/v1`, `${dir}/delta.fdz`, {
 *   out: `${dir}/rebuilt`, seal: made.to.seal,
 * });
 * assert.equal(result.kept, 1);
 * assert.equal(await Deno.readTextFile(`${dir}/rebuilt/version.txt`), "version 2\n");
 * ```
 */
export async function applyFolderDelta(
  oldDir: string,
  delta: string,
  options: ApplyFolderDeltaOptions,
): Promise<ApplyFolderDeltaResult> {
  const maxEntries = limit("maxEntries", options.maxEntries, DEFAULT_MAX_ENTRIES);
  const maxBytes = limit("maxBytes", options.maxBytes, DEFAULT_MAX_BYTES);
  const sync = options.sync ?? true;
  options.signal?.throwIfAborted();
  using file = await Deno.open(delta, { read: true });
  const { index, blobStart } = await readIndex(file, delta, maxEntries);
  if (options.seal !== undefined && index.to.seal !== options.seal) {
    throw new DeltaError(
      delta,
      "mismatch",
      `delta makes a build with seal ${index.to.seal}, expected ${options.seal}`,
    );
  }
  let old: Map<string, TreeNode>;
  let oldSeal: string;
  try {
    old = await walkTree(oldDir);
    oldSeal = await treeDigest(oldDir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw error;
    throw new DeltaError(delta, "source", `old build ${oldDir} cannot be read: ${error}`, {
      cause: error,
    });
  }
  if (oldSeal !== index.from.seal) {
    throw new DeltaError(
      delta,
      "source",
      `old build ${oldDir} has seal ${oldSeal}, the delta was made from ${index.from.seal}`,
    );
  }
  const { order, nodes } = plan(delta, old, index, { maxEntries, maxBytes });
  try {
    await Deno.mkdir(options.out, { mode: 0o700 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new Deno.errors.AlreadyExists(
        `Cannot apply ${delta}: destination ${options.out} already exists`,
      );
    }
    throw error;
  }
  const result: ApplyFolderDeltaResult = {
    seal: index.to.seal,
    files: 0,
    bytes: 0,
    kept: 0,
    copied: 0,
    patched: 0,
    whole: 0,
    removed: index.removed.length,
  };
  // One working memory for every file rebuilt (allocated at the first).
  let kernel: Kernel | undefined;
  // The small files packed together (decompressed at the first of them).
  let pack: Uint8Array | undefined;
  const total = [...nodes.values()].reduce((n, v) => n + (v.kind === "file" ? v.size : 0), 0);
  try {
    await Deno.chmod(options.out, 0o700);
    for (const path of order) {
      options.signal?.throwIfAborted();
      const node = nodes.get(path)!;
      const target = `${options.out}/${path}`;
      if (node.kind === "dir") {
        await Deno.mkdir(target, { mode: 0o700 });
        continue;
      }
      if (node.kind === "symlink") continue;
      const entry = node.entry;
      if (entry === null) {
        await Deno.copyFile(`${oldDir}/${path}`, target);
        result.kept++;
      } else if (entry.copy !== undefined) {
        await Deno.copyFile(`${oldDir}/${entry.copy}`, target);
        const got = await hashFile(target);
        if (got.sha256 !== entry.sha256 || got.size !== entry.size) {
          throw new DeltaError(
            delta,
            "mismatch",
            `file ${JSON.stringify(path)} copied from ${
              JSON.stringify(entry.copy)
            } has sha256 ${got.sha256} (${got.size} bytes), expected ${entry.sha256} (${entry.size} bytes)`,
          );
        }
        result.copied++;
      } else if (entry.pack !== undefined) {
        pack ??= await readPack({ file, blobStart, label: delta }, index.pack!);
        const bytes = pack.subarray(entry.pack.at, entry.pack.at + entry.size);
        await writePacked(bytes, target, { entry, label: delta });
        result.whole++;
      } else {
        kernel ??= workingKernel();
        await rebuildEntry(entry, target, {
          file,
          delta,
          blobStart,
          oldDir,
          old,
          kernel,
          version: index.version,
        });
        if (entry.patch !== undefined) result.patched++;
        else result.whole++;
      }
      await Deno.chmod(target, fileMode(node.mode));
      result.files++;
      result.bytes += node.size;
      options.onProgress?.({ phase: "extract", done: result.bytes, total });
    }
    for (const path of order) {
      const node = nodes.get(path)!;
      if (node.kind === "symlink") await Deno.symlink(node.target, `${options.out}/${path}`);
    }
    for (const path of order.toReversed()) {
      const node = nodes.get(path)!;
      if (node.kind === "dir") await Deno.chmod(`${options.out}/${path}`, dirMode(node.mode));
    }
    if (sync) {
      await syncTree(options.out);
      await syncDir(dirOf(options.out.replace(/(.)\/+$/, "$1")));
    }
    const seal = await treeDigest(options.out);
    if (seal !== index.to.seal) {
      throw new DeltaError(
        delta,
        "mismatch",
        `rebuilt build ${options.out} has seal ${seal}, expected ${index.to.seal}`,
      );
    }
  } catch (error) {
    await removeIfExists(options.out, true);
    throw error;
  }
  return result;
}
