// Private: the byte layout of a binary patch (docs/DELTA.md, "The binary patch"), shared by the
// reader (client) and the writer (publisher). All integers are little-endian.
//
//   header  96 bytes  magic "MS11BSZ1", old size u64, new size u64, block count u32,
//                     flags u32 (0), old SHA-256 (32 bytes), new SHA-256 (32 bytes)
//   block   20 bytes  control entries u32, diff bytes u32, extra bytes u32, diff chunks u32,
//                     frame bytes u32
//           frame     one zstd frame holding, decompressed, the control entries (24 bytes each:
//                     copy i64, extra i64, seek i64), the diff bytes (a bitmap of their 16-byte
//                     chunks, bit i & 7 of byte i >> 3 set for a chunk that is not all zeros,
//                     then those chunks, the last one padded with zeros), then the extra bytes
//
// A control entry (copy, extra, seek) means: add `copy` diff bytes to the old file's bytes at the
// old position and write them (both positions advance by `copy`), write `extra` bytes as they are,
// then move the old position by `seek` (bsdiff's control triple).

/**
 * The first 8 bytes of every binary patch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PATCH_MAGIC } from "./_wire.ts";
 * assert.equal(PATCH_MAGIC.length, 8);
 * ```
 */
export const PATCH_MAGIC = "MS11BSZ1";
/**
 * Bytes of the patch header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEADER_BYTES } from "./_wire.ts";
 * assert.equal(HEADER_BYTES, 96);
 * ```
 */
export const HEADER_BYTES = 96;
/**
 * Bytes of a block header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BLOCK_HEADER_BYTES } from "./_wire.ts";
 * assert.equal(BLOCK_HEADER_BYTES, 5 * 4);
 * ```
 */
export const BLOCK_HEADER_BYTES = 20;

/**
 * Bytes of a diff chunk: the diff bytes are stored as the chunks that are not all zeros.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHUNK_BYTES } from "./_wire.ts";
 * assert.equal(CHUNK_BYTES, 16);
 * ```
 */
export const CHUNK_BYTES = 16;
/**
 * Bytes of one control entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ENTRY_BYTES } from "./_wire.ts";
 * assert.equal(ENTRY_BYTES, 3 * 8);
 * ```
 */
export const ENTRY_BYTES = 24;
/**
 * Largest block: its control entries, diff bytes (expanded) and extra bytes together, 8 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_BLOCK_BYTES } from "./_wire.ts";
 * assert.equal(MAX_BLOCK_BYTES, 8 * 1024 * 1024);
 * ```
 */
export const MAX_BLOCK_BYTES = 8 * 1024 * 1024;
/**
 * zstd window log the reader accepts (8 MiB): bounds a frame's decoding memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_BLOCK_BYTES, WINDOW_LOG_MAX } from "./_wire.ts";
 * assert.equal(2 ** WINDOW_LOG_MAX, MAX_BLOCK_BYTES);
 * ```
 */
export const WINDOW_LOG_MAX = 23;

/**
 * SHA-256 of no bytes: the old file of a patch made from nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { EMPTY_SHA256 } from "./_wire.ts";
 * assert.equal(createHash("sha256").update("").digest("hex"), EMPTY_SHA256);
 * ```
 */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * The fixed header of a binary patch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SHA256, type PatchHeader } from "./_wire.ts";
 * const header: PatchHeader = {
 *   oldSize: 0, newSize: 0, blocks: 0, oldSha256: EMPTY_SHA256, newSha256: EMPTY_SHA256,
 * };
 * assert.equal(header.blocks, 0);
 * ```
 */
export interface PatchHeader {
  /** Size of the file the patch was made from (0: a whole file, no old file needed). */
  oldSize: number;
  /** Size of the file it makes. */
  newSize: number;
  /** Blocks that follow the header. */
  blocks: number;
  /** SHA-256 of the old file, hex. */
  oldSha256: string;
  /** SHA-256 of the new file, hex. */
  newSha256: string;
}

/**
 * One block's header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BlockHeader } from "./_wire.ts";
 * const block: BlockHeader = { entries: 1, diff: 0, extra: 10, chunks: 0, frame: 25 };
 * assert.equal(block.entries * 24 + block.diff + block.extra, 34);
 * ```
 */
export interface BlockHeader {
  /** Control entries. */
  entries: number;
  /** Diff bytes (expanded). */
  diff: number;
  /** Extra bytes. */
  extra: number;
  /** Diff chunks stored (those not all zeros). */
  chunks: number;
  /** Compressed bytes of the zstd frame that follows. */
  frame: number;
}

/**
 * Bytes of the bitmap of `diff` diff bytes' chunks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bitmapBytes } from "./_wire.ts";
 * assert.equal(bitmapBytes(0), 0);
 * assert.equal(bitmapBytes(17), 1); // 2 chunks
 * assert.equal(bitmapBytes(16 * 9), 2); // 9 chunks
 * ```
 */
export function bitmapBytes(diff: number): number {
  return Math.ceil(Math.ceil(diff / CHUNK_BYTES) / 8);
}

/**
 * Bytes of a block's frame once decompressed: control entries, bitmap, stored chunks, extra.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { frameContentBytes } from "./_wire.ts";
 * assert.equal(frameContentBytes({ entries: 1, diff: 32, extra: 5, chunks: 1 }), 24 + 1 + 16 + 5);
 * ```
 */
export function frameContentBytes(
  block: { entries: number; diff: number; extra: number; chunks: number },
): number {
  return block.entries * ENTRY_BYTES + bitmapBytes(block.diff) + block.chunks * CHUNK_BYTES +
    block.extra;
}

/**
 * The largest frame accepted for a block of `raw` decompressed bytes (above zstd's bound).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { frameLimit } from "./_wire.ts";
 * assert.equal(frameLimit(12_800), 12_800 + 100 + 1024);
 * ```
 */
export function frameLimit(raw: number): number {
  return raw + Math.floor(raw / 128) + 1024;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A u64 read as a number, or null when it is above 2^53 - 1. */
function u64(view: DataView, at: number): number | null {
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  if (hi >= 0x200000) return null;
  return hi * 0x100000000 + lo;
}

/**
 * The header fields, or a string saying what is wrong with them (the caller names the file).
 * `bytes` holds exactly {@linkcode HEADER_BYTES} bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHeader, EMPTY_SHA256, encodeHeader, HEADER_BYTES } from "./_wire.ts";
 * const header = { oldSize: 1, newSize: 2, blocks: 3, oldSha256: EMPTY_SHA256, newSha256: EMPTY_SHA256 };
 * assert.deepEqual(decodeHeader(encodeHeader(header)), header);
 * assert.equal(decodeHeader(new Uint8Array(HEADER_BYTES)), "not a binary patch (no MS11BSZ1 magic)");
 * ```
 */
export function decodeHeader(bytes: Uint8Array): PatchHeader | string {
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== PATCH_MAGIC) {
    return `not a binary patch (no ${PATCH_MAGIC} magic)`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const oldSize = u64(view, 8);
  const newSize = u64(view, 16);
  if (oldSize === null || newSize === null) return "header has a size above 2^53 - 1";
  const flags = view.getUint32(28, true);
  if (flags !== 0) return `header has unknown flags 0x${flags.toString(16)}`;
  return {
    oldSize,
    newSize,
    blocks: view.getUint32(24, true),
    oldSha256: hex(bytes.subarray(32, 64)),
    newSha256: hex(bytes.subarray(64, 96)),
  };
}

/**
 * The 96 header bytes of `header`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SHA256, encodeHeader } from "./_wire.ts";
 * const bytes = encodeHeader({ oldSize: 0, newSize: 5, blocks: 1, oldSha256: EMPTY_SHA256, newSha256: EMPTY_SHA256 });
 * assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "MS11BSZ1");
 * assert.equal(bytes[16], 5);
 * ```
 */
export function encodeHeader(header: PatchHeader): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(HEADER_BYTES);
  bytes.set(new TextEncoder().encode(PATCH_MAGIC));
  const view = new DataView(bytes.buffer);
  view.setBigUint64(8, BigInt(header.oldSize), true);
  view.setBigUint64(16, BigInt(header.newSize), true);
  view.setUint32(24, header.blocks, true);
  bytes.set(unhex(header.oldSha256), 32);
  bytes.set(unhex(header.newSha256), 64);
  return bytes;
}

/**
 * A block header from its 20 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBlockHeader, encodeBlockHeader } from "./_wire.ts";
 * const block = { entries: 2, diff: 3, extra: 4, chunks: 1, frame: 5 };
 * assert.deepEqual(decodeBlockHeader(encodeBlockHeader(block)), block);
 * ```
 */
export function decodeBlockHeader(bytes: Uint8Array): BlockHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, BLOCK_HEADER_BYTES);
  return {
    entries: view.getUint32(0, true),
    diff: view.getUint32(4, true),
    extra: view.getUint32(8, true),
    chunks: view.getUint32(12, true),
    frame: view.getUint32(16, true),
  };
}

/**
 * The 20 bytes of a block header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBlockHeader } from "./_wire.ts";
 * const bytes = encodeBlockHeader({ entries: 1, diff: 0, extra: 0, chunks: 0, frame: 9 });
 * assert.deepEqual([...bytes], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]);
 * ```
 */
export function encodeBlockHeader(block: BlockHeader): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(BLOCK_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, block.entries, true);
  view.setUint32(4, block.diff, true);
  view.setUint32(8, block.extra, true);
  view.setUint32(12, block.chunks, true);
  view.setUint32(16, block.frame, true);
  return bytes;
}

/**
 * An i64 read as a number, or null when it is outside ±(2^53 - 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInt64, writeInt64 } from "./_wire.ts";
 * const view = new DataView(new ArrayBuffer(16));
 * writeInt64(view, 0, -5);
 * view.setBigInt64(8, 1n << 60n, true);
 * assert.equal(readInt64(view, 0), -5);
 * assert.equal(readInt64(view, 8), null);
 * ```
 */
export function readInt64(view: DataView, at: number): number | null {
  const lo = view.getUint32(at, true);
  const hi = view.getInt32(at + 4, true);
  if (hi >= 0x200000 || hi < -0x200000) return null;
  const value = hi * 0x100000000 + lo;
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * Write `value` (a safe integer) as an i64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeInt64 } from "./_wire.ts";
 * const view = new DataView(new ArrayBuffer(8));
 * writeInt64(view, 0, 2 ** 40);
 * assert.equal(view.getBigInt64(0, true), 2n ** 40n);
 * ```
 */
export function writeInt64(view: DataView, at: number, value: number): void {
  view.setBigInt64(at, BigInt(value), true);
}
