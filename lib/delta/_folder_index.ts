// Private: the layout of a folder delta (docs/DELTA.md, "The folder delta") and the strict
// reading of its index. All integers are little-endian.
//
//   magic        8 bytes  "MS11FDZ2" (or "MS11FDZ1", still read)
//   index frame  u32      bytes of the zstd frame holding the index
//   index size   u32      bytes of the index (JSON, UTF-8), at most 16 MiB
//   index        the zstd frame
//   blobs        binary patches (_wire.ts), referred to by the index by offset and size from
//                here; a patch made from nothing holds a whole file. In MS11FDZ1 (index version
//                1) each is a whole patch, its 96-byte header included; in MS11FDZ2 (version 2)
//                only its blocks: the header's fields are the index entry's (new size and
//                SHA-256), the old file's size and the blob's `blocks`
import { isSha256Hex } from "../core/hash.ts";
import { entryParts } from "../archive/_paths.ts";
import { UnsafeArchiveError } from "../core/errors.ts";
import { DeltaError } from "./errors.ts";
import { BLOCK_HEADER_BYTES } from "./_wire.ts";
import { MAX_PACK_BYTES, type PackSpan } from "./_folder_pack.ts";

/**
 * The first 8 bytes of a folder delta.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FOLDER_MAGIC } from "./_folder_index.ts";
 * assert.equal(FOLDER_MAGIC.length, 8);
 * ```
 */
export const FOLDER_MAGIC = "MS11FDZ2";
/**
 * The magic of the first folder delta format (index version 1, blobs with their patch headers),
 * still read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FOLDER_MAGIC_V1 } from "./_folder_index.ts";
 * assert.equal(FOLDER_MAGIC_V1, "MS11FDZ1");
 * ```
 */
export const FOLDER_MAGIC_V1 = "MS11FDZ1";
/**
 * The index version each magic carries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INDEX_VERSIONS } from "./_folder_index.ts";
 * assert.equal(INDEX_VERSIONS.MS11FDZ2, 2);
 * ```
 */
export const INDEX_VERSIONS: Readonly<Record<string, 1 | 2>> = { MS11FDZ1: 1, MS11FDZ2: 2 };
/**
 * Bytes before the index frame: the magic and two u32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FOLDER_HEADER_BYTES } from "./_folder_index.ts";
 * assert.equal(FOLDER_HEADER_BYTES, 8 + 4 + 4);
 * ```
 */
export const FOLDER_HEADER_BYTES = 16;
/**
 * Largest index accepted: 16 MiB of JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_INDEX_BYTES } from "./_folder_index.ts";
 * assert.equal(MAX_INDEX_BYTES, 16 * 1024 * 1024);
 * ```
 */
export const MAX_INDEX_BYTES = 16 * 1024 * 1024;
/**
 * The index's `format` field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INDEX_FORMAT } from "./_folder_index.ts";
 * assert.equal(INDEX_FORMAT, "ms11-folder-delta");
 * ```
 */
export const INDEX_FORMAT = "ms11-folder-delta";

/**
 * A span of the blob area: a binary patch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Blob } from "./_folder_index.ts";
 * const blob: Blob = { offset: 0, size: 130, blocks: 1 };
 * assert.equal(blob.offset + blob.size, 130);
 * ```
 */
export interface Blob {
  /** Where it starts, from the start of the blob area. */
  offset: number;
  /** Its bytes. */
  size: number;
  /** Version 2 (and only there): the patch's blocks (its header is not stored). */
  blocks?: number;
}

/**
 * A directory of the new build (new, or with a new mode).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DirEntry } from "./_folder_index.ts";
 * const entry: DirEntry = { path: "lib", type: "dir", mode: 0o755 };
 * assert.equal(entry.type, "dir");
 * ```
 */
export interface DirEntry {
  path: string;
  type: "dir";
  mode: number;
}

/**
 * A symlink of the new build (new, or with a new target).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LinkEntry } from "./_folder_index.ts";
 * const entry: LinkEntry = { path: "lib/libfoo.so", type: "symlink", target: "libfoo.so.1" };
 * assert.equal(entry.type, "symlink");
 * ```
 */
export interface LinkEntry {
  path: string;
  type: "symlink";
  target: string;
}

/**
 * A file of the new build that is not the old build's file at the same path, unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FileEntry } from "./_folder_index.ts";
 * const entry: FileEntry = {
 *   path: "bin/app", type: "file", mode: 0o755, size: 3, sha256: "ab".repeat(32), copy: "bin/old-app",
 * };
 * assert.equal(entry.copy, "bin/old-app");
 * ```
 */
export interface FileEntry {
  path: string;
  type: "file";
  mode: number;
  size: number;
  sha256: string;
  /** Exactly one of: the old build's file at this path, unchanged in content… */
  copy?: string;
  /** …a binary patch from the old build's file `from`… */
  patch?: Blob & { from: string };
  /** …or the whole file (a patch made from nothing)… */
  data?: Blob;
  /** …or (version 2) the whole file in the pack, from byte `at` of it. */
  pack?: { at: number };
}

/**
 * One entry of the index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { IndexEntry } from "./_folder_index.ts";
 * const entries: IndexEntry[] = [{ path: "share", type: "dir", mode: 0o755 }];
 * assert.equal(entries.length, 1);
 * ```
 */
export type IndexEntry = DirEntry | LinkEntry | FileEntry;

/**
 * The index of a folder delta.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FolderIndex } from "./_folder_index.ts";
 * const seal = "ab".repeat(32);
 * const index: FolderIndex = {
 *   format: "ms11-folder-delta", version: 2, from: { seal }, to: { seal }, removed: [], entries: [],
 * };
 * assert.equal(index.version, 2);
 * ```
 */
export interface FolderIndex {
  format: typeof INDEX_FORMAT;
  /** 1 in a MS11FDZ1 delta, 2 in a MS11FDZ2 one. */
  version: 1 | 2;
  /** The old build's seal (lib/root/seal.ts treeDigest). */
  from: { seal: string };
  /** The new build's seal: what the rebuilt folder must have. */
  to: { seal: string };
  /** Paths of the old build that are not kept (a directory with everything in it). */
  removed: string[];
  /** What differs from the old build; everything else is kept as it is. */
  entries: IndexEntry[];
  /** Version 2: the frame of small files packed together, when there are any. */
  pack?: PackSpan;
}

const FIELDS: Record<string, string[]> = {
  dir: ["path", "type", "mode"],
  symlink: ["path", "type", "target"],
  file: ["path", "type", "mode", "size", "sha256", "copy", "patch", "data", "pack"],
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Check and return the index in `text`; `blobBytes` is the size of the blob area, `maxEntries`
 * the most entries and removals accepted, `version` the index version the delta's magic carries
 * (default 1). Throws {@linkcode DeltaError} naming the field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIndex } from "./_folder_index.ts";
 * const seal = "ab".repeat(32);
 * const text = JSON.stringify({
 *   format: "ms11-folder-delta", version: 1, from: { seal }, to: { seal }, removed: ["old.txt"],
 *   entries: [{ path: "bin", type: "dir", mode: 0o755 }],
 * });
 * assert.deepEqual(parseIndex(text, { label: "d.fdz", blobBytes: 0, maxEntries: 10 }).removed, ["old.txt"]);
 * assert.throws(() => parseIndex("{}", { label: "d.fdz", blobBytes: 0, maxEntries: 10 }), /format/);
 * assert.throws(
 *   () => parseIndex(text, { label: "d.fdz", blobBytes: 0, maxEntries: 10, version: 2 }),
 *   /index version is 1; this client reads version 2 in a MS11FDZ2 delta$/,
 * );
 * ```
 */
export function parseIndex(
  text: string,
  limits: { label: string; blobBytes: number; maxEntries: number; version?: 1 | 2 },
): FolderIndex {
  const { label, blobBytes, maxEntries } = limits;
  const version = limits.version ?? 1;
  const bad = (detail: string) => new DeltaError(label, "corrupt", `index ${detail}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new DeltaError(label, "corrupt", `index is not JSON (${(error as Error).message})`);
  }
  if (!isObject(doc)) throw bad("is not a JSON object");
  if (doc.format !== INDEX_FORMAT) {
    throw new DeltaError(
      label,
      "format",
      `index format is ${JSON.stringify(doc.format)}, expected "${INDEX_FORMAT}"`,
    );
  }
  if (doc.version !== version) {
    const magic = version === 1 ? FOLDER_MAGIC_V1 : FOLDER_MAGIC;
    throw new DeltaError(
      label,
      "format",
      `index version is ${
        JSON.stringify(doc.version)
      }; this client reads version ${version} in a ${magic} delta`,
    );
  }
  for (const side of ["from", "to"]) {
    const value = doc[side];
    if (!isObject(value) || typeof value.seal !== "string" || !isSha256Hex(value.seal)) {
      throw bad(`field ${side}.seal must be 64 lowercase hex digits`);
    }
  }
  const removed = doc.removed;
  const entries = doc.entries;
  const pack = doc.pack;
  if (pack !== undefined) {
    if (version === 1) throw bad("has an unknown field pack");
    if (!isObject(pack)) throw bad("field pack must be an object");
    const unknown = Object.keys(pack).find((key) => !["offset", "size", "bytes"].includes(key));
    if (unknown !== undefined) throw bad(`field pack has an unknown field ${unknown}`);
    if (!isCount(pack.offset) || !isCount(pack.size) || !isCount(pack.bytes)) {
      throw bad("fields pack.offset, pack.size and pack.bytes must be non-negative integers");
    }
    if (pack.offset + pack.size > blobBytes) {
      throw bad(
        `field pack spans bytes ${pack.offset}..${
          pack.offset + pack.size
        }, past the ${blobBytes} bytes of blobs`,
      );
    }
    if (pack.bytes > MAX_PACK_BYTES) {
      throw new DeltaError(
        label,
        "unsafe",
        `pack declares ${pack.bytes} bytes, more than the limit of ${MAX_PACK_BYTES}`,
      );
    }
  }
  let packed = 0;
  if (!Array.isArray(removed)) throw bad("field removed must be an array");
  if (!Array.isArray(entries)) throw bad("field entries must be an array");
  if (removed.length + entries.length > maxEntries) {
    throw new DeltaError(
      label,
      "unsafe",
      `index has ${removed.length + entries.length} entries, more than the limit of ${maxEntries}`,
    );
  }
  const path = (value: unknown, where: string): string => {
    if (typeof value !== "string") throw bad(`field ${where} must be a string`);
    let parts: string[];
    try {
      parts = entryParts(label, value);
    } catch (error) {
      if (!(error instanceof UnsafeArchiveError)) throw error;
      const reason = error.message.slice(error.message.indexOf(" refused: ") + 10);
      throw new DeltaError(
        label,
        "unsafe",
        `${where} ${JSON.stringify(value)} refused: ${reason}`,
        { cause: error },
      );
    }
    if (parts.length === 0 || parts.join("/") !== value) {
      throw bad(`field ${where} ${JSON.stringify(value)} is not a plain relative path ("a/b")`);
    }
    return value;
  };
  const blob = (value: unknown, where: string, withFrom: boolean) => {
    if (!isObject(value)) throw bad(`field ${where} must be an object`);
    const known = [
      ...withFrom ? ["from"] : [],
      "offset",
      "size",
      ...version === 2 ? ["blocks"] : [],
    ];
    const unknown = Object.keys(value).find((key) => !known.includes(key));
    if (unknown !== undefined) throw bad(`field ${where} has an unknown field ${unknown}`);
    if (!isCount(value.offset) || !isCount(value.size)) {
      throw bad(`fields ${where}.offset and ${where}.size must be non-negative integers`);
    }
    if (version === 2) {
      if (!isCount(value.blocks)) throw bad(`field ${where}.blocks must be a non-negative integer`);
      // Every block has a header of its own: no more blocks than those fit.
      if (value.blocks * BLOCK_HEADER_BYTES > value.size) {
        throw bad(
          `field ${where} declares ${value.blocks} blocks in ${value.size} bytes, more than fit`,
        );
      }
    }
    if (value.offset + value.size > blobBytes) {
      throw bad(
        `field ${where} spans bytes ${value.offset}..${
          value.offset + value.size
        }, past the ${blobBytes} bytes of blobs`,
      );
    }
    if (withFrom) path(value.from, `${where}.from`);
  };
  const seen = new Set<string>();
  removed.forEach((value, i) => {
    path(value, `removed[${i}]`);
    if (seen.has(value)) throw bad(`lists ${JSON.stringify(value)} twice`);
    seen.add(value);
  });
  const written = new Set<string>();
  entries.forEach((entry, i) => {
    const where = `entries[${i}]`;
    if (!isObject(entry)) throw bad(`field ${where} must be an object`);
    const fields = FIELDS[String(entry.type)];
    if (fields === undefined) {
      throw bad(
        `field ${where}.type must be "file", "dir" or "symlink", got ${JSON.stringify(entry.type)}`,
      );
    }
    const unknown = Object.keys(entry).find((key) => !fields.includes(key));
    if (unknown !== undefined) throw bad(`field ${where} has an unknown field ${unknown}`);
    const at = path(entry.path, `${where}.path`);
    if (written.has(at)) throw bad(`has two entries for ${JSON.stringify(at)}`);
    written.add(at);
    if (entry.type !== "symlink") {
      if (!isCount(entry.mode) || entry.mode > 0o7777) {
        throw bad(`field ${where}.mode must be an integer from 0 to 0o7777`);
      }
    }
    if (entry.type === "symlink" && typeof entry.target !== "string") {
      throw bad(`field ${where}.target must be a string`);
    }
    if (entry.type !== "file") return;
    if (!isCount(entry.size)) throw bad(`field ${where}.size must be a non-negative integer`);
    if (typeof entry.sha256 !== "string" || !isSha256Hex(entry.sha256)) {
      throw bad(`field ${where}.sha256 must be 64 lowercase hex digits`);
    }
    const sources = ["copy", "patch", "data", "pack"].filter((key) => entry[key] !== undefined);
    if (sources.length !== 1) {
      throw bad(`field ${where} must have exactly one of copy, patch, data and pack`);
    }
    if (entry.pack !== undefined) {
      if (!isObject(pack)) {
        throw bad(`field ${where}.pack refers to a pack the index does not have`);
      }
      const value = entry.pack;
      if (!isObject(value)) throw bad(`field ${where}.pack must be an object`);
      const extra = Object.keys(value).find((key) => key !== "at");
      if (extra !== undefined) throw bad(`field ${where}.pack has an unknown field ${extra}`);
      // The packed files tile the pack in index order.
      if (value.at !== packed) {
        throw bad(`field ${where}.pack.at must be ${packed}, got ${JSON.stringify(value.at)}`);
      }
      packed += entry.size;
      if (packed > (pack.bytes as number)) {
        throw bad(`field ${where}.pack spans bytes past the ${pack.bytes} bytes of the pack`);
      }
    }
    if (entry.copy !== undefined) path(entry.copy, `${where}.copy`);
    if (entry.patch !== undefined) blob(entry.patch, `${where}.patch`, true);
    if (entry.data !== undefined) blob(entry.data, `${where}.data`, false);
  });
  if (isObject(pack) && packed !== pack.bytes) {
    throw bad(`packs ${packed} bytes of files, its pack holds ${pack.bytes}`);
  }
  return doc as unknown as FolderIndex;
}
