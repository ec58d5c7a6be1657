// Private: apply a binary patch (one region of an open file) to an old file, writing the new
// file as it is produced and hashing it on the way. Shared by applyPatch (a patch file) and
// applyFolderDelta (patches and whole files inside a folder delta).
//
// Memory: one working area (WebAssembly memory, see _kernel.ts) of two 1 MiB output buffers,
// the current block's frame content (at most 8 MiB), its diff bytes expanded 1 MiB at a time, the
// old bytes a group of its entries needs (at most 4 MiB, see OldCache), and the block's
// compressed frame, which zstd decodes straight into it (_inflate.ts). No allocation per block or per control entry: the
// decoder, the kernel and copyWithin work inside it.
import { createHash } from "node:crypto";
import type { ProgressSink } from "../core/env.ts";
import { DeltaError } from "./errors.ts";
import { Inflater } from "./_inflate.ts";
import { type Kernel, kernel } from "./_kernel.ts";
import { CACHE_BYTES, checkBlock, nextGroup, OldCache } from "./_block.ts";
import {
  bitmapBytes,
  BLOCK_HEADER_BYTES,
  CHUNK_BYTES,
  decodeBlockHeader,
  decodeHeader,
  ENTRY_BYTES,
  frameContentBytes,
  frameLimit,
  HEADER_BYTES,
  MAX_BLOCK_BYTES,
  type PatchHeader,
} from "./_wire.ts";

const MIB = 1024 * 1024;
/** Bytes of each of the two output buffers (one is written while the other fills). */
const SLICE = MIB;
/**
 * The working memory: two output buffers, the block's frame content (control entries, diff
 * bitmap and chunks, extra bytes), its diff bytes expanded, the old bytes it needs, its compressed
 * frame. 23 MiB in all, touched only as far as a patch needs.
 */
const OUT_A = 0;
const OUT_B = SLICE;
const DATA = 2 * SLICE;
/** The most a block's frame content can take: 8 MiB, its bitmap (1/128 of it) and padding. */
const MAX_RAW = MAX_BLOCK_BYTES + 128 * 1024;
/** The diff bytes are expanded 1 MiB at a time (a whole number of bitmap bytes). */
const DENSE_BYTES = MIB;
const DENSE_CHUNKS = DENSE_BYTES / CHUNK_BYTES;
const DENSE = DATA + MAX_RAW;
const CACHE = DENSE + DENSE_BYTES;
const FRAME = CACHE + CACHE_BYTES;
const WORKING_BYTES = FRAME + frameLimit(MAX_RAW);
/** Bits set in each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let x = v; x > 0; x >>= 1) n += x & 1;
  return n;
});
/** Bytes between two progress reports. */
const PROGRESS_STEP = 4 * MIB;

/**
 * A patch: `length` bytes of `file` from `start`; `label` names it in messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PatchRegion } from "./_rebuild.ts";
 * const path = await Deno.makeTempFile();
 * using file = await Deno.open(path);
 * const region: PatchRegion = { file, start: 0, length: 0, label: path };
 * assert.equal(region.length, 0);
 * ```
 */
export interface PatchRegion {
  /** The open file holding the patch. */
  file: Deno.FsFile;
  /** Where the patch starts. */
  start: number;
  /** Its length in bytes. */
  length: number;
  /** How messages name it (the file, or the file and the entry). */
  label: string;
  /**
   * The region holds the patch's blocks only, no header (a MS11FDZ2 folder delta's blob): the
   * caller makes the header from what it knows. Default false.
   */
  bare?: boolean;
}

/**
 * Where {@linkcode rebuild} reads and writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RebuildIo } from "./_rebuild.ts";
 * const path = await Deno.makeTempFile();
 * using out = await Deno.open(path, { write: true });
 * const io: RebuildIo = { old: null, out };
 * assert.equal(io.old, null);
 * ```
 */
export interface RebuildIo {
  /** The old file, or null for a patch made from nothing (a whole file). */
  old: Deno.FsFile | null;
  /**
   * The working memory to use (from {@linkcode workingKernel}); one rebuild at a time may use it.
   * Default: a new one (a folder delta passes one for all its files).
   */
  kernel?: Kernel;
  /** The output file, open for writing, empty. */
  out: Deno.FsFile;
  /** Progress in bytes written (phase "extract"). */
  onProgress?: ProgressSink;
  /** Stops the rebuild between blocks. */
  signal?: AbortSignal;
}

/**
 * Counters of a rebuild.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RebuildResult } from "./_rebuild.ts";
 * const result: RebuildResult = { sha256: "ab".repeat(32), size: 5, copied: 4, extra: 1, oldReads: 1 };
 * assert.equal(result.copied + result.extra, result.size);
 * ```
 */
export interface RebuildResult {
  /** SHA-256 of what was written, hex. */
  sha256: string;
  /** Bytes written. */
  size: number;
  /** Bytes made from old bytes plus diff bytes. */
  copied: number;
  /** Bytes taken from the patch as they are. */
  extra: number;
  /** Old-file reads (window refills). */
  oldReads: number;
}

/** Read exactly `length` bytes at `at`, or fewer when the file ends first. */
async function readAt(file: Deno.FsFile, at: number, into: Uint8Array): Promise<number> {
  await file.seek(at, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < into.length) {
    const n = await file.read(into.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await file.write(data.subarray(done));
}

/**
 * The patch's header, checked for form (not against any expectation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPatchHeader } from "./_rebuild.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "not a patch, and too short");
 * using file = await Deno.open(path);
 * const region = { file, start: 0, length: 26, label: path };
 * await assert.rejects(readPatchHeader(region), /patch has 26 bytes, less than its 96-byte header$/);
 * ```
 */
export async function readPatchHeader(patch: PatchRegion): Promise<PatchHeader> {
  if (patch.length < HEADER_BYTES) {
    throw new DeltaError(
      patch.label,
      patch.length >= 8 ? "corrupt" : "format",
      `patch has ${patch.length} bytes, less than its ${HEADER_BYTES}-byte header`,
    );
  }
  const bytes = new Uint8Array(HEADER_BYTES);
  const n = await readAt(patch.file, patch.start, bytes);
  if (n < HEADER_BYTES) {
    throw new DeltaError(patch.label, "corrupt", `patch is truncated in its header`);
  }
  const header = decodeHeader(bytes);
  if (typeof header === "string") {
    throw new DeltaError(patch.label, header.startsWith("not") ? "format" : "corrupt", header);
  }
  return header;
}

/**
 * A kernel with the working memory one rebuild needs (23 MiB, touched only as far as used).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workingKernel } from "./_rebuild.ts";
 * assert.ok(workingKernel().bytes.length >= 23 * 1024 * 1024);
 * ```
 */
export function workingKernel(): Kernel {
  return kernel(WORKING_BYTES);
}

/**
 * Refuse a diff bitmap whose set bits are not the stored chunks, or that sets bits past the end;
 * return, for each window of {@linkcode DENSE_CHUNKS} chunks, how many chunks are stored before it.
 */
function checkBitmap(
  label: string,
  b: number,
  bitmap: Uint8Array,
  chunkCount: number,
  stored: number,
): number[] {
  let set = 0;
  const before: number[] = [];
  const perWindow = DENSE_CHUNKS / 8;
  for (let i = 0; i < bitmap.length; i++) {
    if (i % perWindow === 0) before.push(set);
    set += POPCOUNT[bitmap[i]];
  }
  const spare = chunkCount % 8 === 0 ? 0 : bitmap[bitmap.length - 1] >> (chunkCount % 8);
  if (set !== stored || spare !== 0) {
    throw new DeltaError(
      label,
      "corrupt",
      `block ${b} has a diff bitmap of ${set} chunks${
        spare === 0 ? "" : " (some past its end)"
      }, its header says ${stored}`,
    );
  }
  return before;
}

/**
 * Apply the patch (whose header is `header`, already checked by the caller against what it
 * expects) and return what was written. Every control entry is checked before it is used; the
 * caller verifies the result and removes the output on failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPatchHeader, rebuild } from "./_rebuild.ts";
 * import { encodePatch } from "./_make_patch.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/new`, "abc");
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * const input = { path: `${dir}/new`, digest: { size: 3, sha256 } };
 * await encodePatch(null, input, `${dir}/patch`, { level: 3, concurrency: 1, maxMemory: 2 ** 30 });
 * using file = await Deno.open(`${dir}/patch`);
 * const region = { file, start: 0, length: (await file.stat()).size, label: "patch" };
 * using out = await Deno.open(`${dir}/out`, { write: true, createNew: true });
 * const result = await rebuild(region, await readPatchHeader(region), { old: null, out });
 * assert.equal(result.sha256, sha256);
 * assert.equal(await Deno.readTextFile(`${dir}/out`), "abc");
 * ```
 */
export async function rebuild(
  patch: PatchRegion,
  header: PatchHeader,
  io: RebuildIo,
): Promise<RebuildResult> {
  const { label } = patch;
  const fail = (reason: "corrupt" | "unsafe", detail: string) =>
    new DeltaError(label, reason, detail);
  const k = io.kernel ?? workingKernel();
  const mem = k.bytes;
  const hash = createHash("sha256");
  const end = patch.start + patch.length;
  const cache = new OldCache(io.old, { oldSize: header.oldSize, label, into: mem.subarray(CACHE) });
  let at = patch.start + (patch.bare ? 0 : HEADER_BYTES);
  let oldPos = 0;
  let newPos = 0;
  let out = OUT_A;
  let outFill = 0;
  let writing: Promise<void> | null = null;
  let copied = 0;
  let extraBytes = 0;
  let nextReport = PROGRESS_STEP;
  const blockHead = new Uint8Array(BLOCK_HEADER_BYTES);
  const inflater = new Inflater();
  const flush = async () => {
    if (outFill === 0) return;
    const view = mem.subarray(out, out + outFill);
    hash.update(view);
    // The other buffer's write has finished before this one starts: writes stay in order.
    await writing;
    writing = writeAll(io.out, view);
    out = out === OUT_A ? OUT_B : OUT_A;
    outFill = 0;
    if (newPos >= nextReport) {
      io.onProgress?.({ phase: "extract", done: newPos, total: header.newSize });
      nextReport = newPos + PROGRESS_STEP;
    }
  };

  try {
    for (let b = 1; b <= header.blocks; b++) {
      io.signal?.throwIfAborted();
      if (end - at < BLOCK_HEADER_BYTES) {
        throw fail("corrupt", `patch is truncated: block ${b} of ${header.blocks} is missing`);
      }
      if ((await readAt(patch.file, at, blockHead)) < BLOCK_HEADER_BYTES) {
        throw fail("corrupt", `patch is truncated in the header of block ${b}`);
      }
      at += BLOCK_HEADER_BYTES;
      const block = decodeBlockHeader(blockHead);
      const ctrlBytes = block.entries * ENTRY_BYTES;
      const content = ctrlBytes + block.diff + block.extra;
      if (content === 0) throw fail("corrupt", `block ${b} is empty`);
      if (content > MAX_BLOCK_BYTES) {
        throw fail(
          "unsafe",
          `block ${b} declares ${content} bytes, more than the limit of ${MAX_BLOCK_BYTES}`,
        );
      }
      const chunkCount = Math.ceil(block.diff / CHUNK_BYTES);
      if (block.chunks > chunkCount) {
        throw fail(
          "corrupt",
          `block ${b} stores ${block.chunks} diff chunks, more than its ${chunkCount}`,
        );
      }
      const raw = frameContentBytes(block);
      if (block.frame > frameLimit(raw)) {
        throw fail(
          "corrupt",
          `block ${b} has a frame of ${block.frame} bytes for ${raw} bytes of content`,
        );
      }
      if (end - at < block.frame) {
        throw fail(
          "corrupt",
          `patch is truncated in block ${b} (frame of ${block.frame} bytes, ${end - at} left)`,
        );
      }
      const frame = mem.subarray(FRAME, FRAME + block.frame);
      if ((await readAt(patch.file, at, frame)) < block.frame) {
        throw fail("corrupt", `patch is truncated in block ${b}`);
      }
      at += block.frame;
      inflater.inflate(frame, mem.subarray(DATA, DATA + raw), { label, what: `block ${b}` });
      const bits = DATA + ctrlBytes;
      const stored = bits + bitmapBytes(block.diff);
      const before = checkBitmap(label, b, mem.subarray(bits, stored), chunkCount, block.chunks);
      // Every entry of the block is checked before any of it is written.
      const plan = checkBlock(label, b, mem.subarray(DATA), block, { oldPos, newPos, ...header });
      // The diff bytes are used in order: expanded one window at a time, when reached.
      const diffEnd = chunkCount * CHUNK_BYTES;
      let d = 0;
      let windowStart = 0;
      let windowEnd = 0;
      let e = stored + block.chunks * CHUNK_BYTES;
      // The old bytes, a group of entries at a time (at most CACHE_BYTES of them, an entry's copy
      // cut where a group ends): gathered, then written.
      let first = 0;
      let firstDone = 0;
      while (first < block.entries) {
        const group = nextGroup(plan, { entry: first, done: firstDone, limit: CACHE_BYTES });
        cache.gather(group);
        for (let p = 0; p < group.copy.length; p++) {
          const i = first + p;
          let left = group.copy[p];
          let from = CACHE + group.where[p];
          while (left > 0) {
            if (d === windowEnd) {
              const w = d / DENSE_BYTES;
              windowStart = d;
              windowEnd = Math.min(d + DENSE_BYTES, diffEnd);
              const n = (windowEnd - d) / CHUNK_BYTES;
              k.expand(DENSE, bits + w * (DENSE_CHUNKS / 8), stored + before[w] * CHUNK_BYTES, n);
            }
            const n = Math.min(left, SLICE - outFill, windowEnd - d);
            k.add(out + outFill, from, DENSE + d - windowStart, n);
            outFill += n;
            d += n;
            from += n;
            newPos += n;
            left -= n;
            if (outFill === SLICE) await flush();
          }
          // The entry's extra bytes follow its last copy byte.
          if ((p === 0 ? firstDone : 0) + group.copy[p] < plan.copy[i]) continue;
          left = plan.extra[i];
          while (left > 0) {
            const n = Math.min(left, SLICE - outFill);
            mem.copyWithin(out + outFill, e, e + n);
            outFill += n;
            e += n;
            newPos += n;
            left -= n;
            if (outFill === SLICE) await flush();
          }
          copied += plan.copy[i];
          extraBytes += plan.extra[i];
        }
        first = group.end;
        firstDone = group.endDone;
      }
      oldPos = plan.oldPos;
    }
    await flush();
    await writing;
  } finally {
    inflater.close();
    // A write still in flight settles before the caller closes the file.
    await (writing as Promise<void> | null)?.catch(() => {});
  }
  if (at !== end) {
    throw fail("corrupt", `patch has ${end - at} bytes after its last block`);
  }
  if (newPos !== header.newSize) {
    throw fail("corrupt", `patch makes ${newPos} bytes, its header says ${header.newSize}`);
  }
  io.onProgress?.({ phase: "extract", done: newPos, total: header.newSize });
  return {
    sha256: hash.digest("hex"),
    size: newPos,
    copied,
    extra: extraBytes,
    oldReads: cache.reads,
  };
}
