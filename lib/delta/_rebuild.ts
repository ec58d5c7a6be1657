// Private: apply a binary patch (one region of an open file) to an old file, writing the new
// file as it is produced and hashing it on the way. Shared by applyPatch (a patch file) and
// applyFolderDelta (patches and whole files inside a folder delta).
//
// Memory: one working area (WebAssembly memory, see _kernel.ts) of two 1 MiB output buffers,
// the current block's content (at most 8 MiB) and the old bytes it needs (at most 12 MiB, see
// OldCache), plus the block's compressed frame and its decompressed copy (each at most ~8 MiB).
// No allocation per control entry: the adder and copyWithin work inside the area.
import { createHash } from "node:crypto";
import { constants, zstdDecompressSync } from "node:zlib";
import type { ProgressSink } from "../core/env.ts";
import { DeltaError } from "./errors.ts";
import { kernel } from "./_kernel.ts";
import {
  BLOCK_HEADER_BYTES,
  decodeBlockHeader,
  decodeHeader,
  ENTRY_BYTES,
  frameLimit,
  HEADER_BYTES,
  MAX_BLOCK_BYTES,
  type PatchHeader,
  WINDOW_LOG_MAX,
} from "./_wire.ts";

const MIB = 1024 * 1024;
/** Bytes of each of the two output buffers (one is written while the other fills). */
const SLICE = MIB;
/** The working memory: two output buffers, the block's content, the old bytes it needs. */
const OUT_A = 0;
const OUT_B = SLICE;
const DATA = 2 * SLICE;
const CACHE = DATA + MAX_BLOCK_BYTES;
/** The old bytes one block needs, gathered: at most 12 MiB (a block copies at most 8). */
const CACHE_BYTES = 12 * MIB;
/** All of it: 22 MiB, touched only as far as a patch needs. */
const WORKING_BYTES = CACHE + CACHE_BYTES;
/** Old ranges this close are read as one. */
const MERGE_GAP = 4096;
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
 * Decompress one zstd frame to exactly `raw` bytes (window at most 8 MiB); `what` names it in
 * messages ("block 3", "index").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * import { inflateExact } from "./_rebuild.ts";
 * const frame = zstdCompressSync(new Uint8Array(1000));
 * assert.equal(inflateExact("d", "index", frame, 1000).length, 1000);
 * assert.throws(() => inflateExact("d", "index", frame, 999), /index decompresses to more than its declared 999 bytes$/);
 * ```
 */
export function inflateExact(
  label: string,
  what: string,
  frame: Uint8Array,
  raw: number,
): Uint8Array {
  let out: Uint8Array;
  try {
    out = zstdDecompressSync(frame, {
      maxOutputLength: raw,
      params: { [constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX },
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_BUFFER_TOO_LARGE") {
      throw new DeltaError(
        label,
        "unsafe",
        `${what} decompresses to more than its declared ${raw} bytes`,
        { cause: error },
      );
    }
    throw new DeltaError(
      label,
      "corrupt",
      `${what} is not valid zstd data (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (out.length !== raw) {
    throw new DeltaError(
      label,
      "corrupt",
      `${what} decompresses to ${out.length} bytes, its header says ${raw}`,
    );
  }
  return out;
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
  const k = kernel(WORKING_BYTES);
  const mem = k.bytes;
  const hash = createHash("sha256");
  const end = patch.start + patch.length;
  const cache = new OldCache(io.old, header.oldSize, label, mem);
  let at = patch.start + HEADER_BYTES;
  let oldPos = 0;
  let newPos = 0;
  let out = OUT_A;
  let outFill = 0;
  let writing: Promise<void> | null = null;
  let copied = 0;
  let extraBytes = 0;
  let nextReport = PROGRESS_STEP;
  const blockHead = new Uint8Array(BLOCK_HEADER_BYTES);
  let frame = new Uint8Array(0);
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
      const raw = ctrlBytes + block.diff + block.extra;
      if (raw === 0) throw fail("corrupt", `block ${b} is empty`);
      if (raw > MAX_BLOCK_BYTES) {
        throw fail(
          "unsafe",
          `block ${b} declares ${raw} bytes, more than the limit of ${MAX_BLOCK_BYTES}`,
        );
      }
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
      if (frame.length < block.frame) frame = new Uint8Array(frameLimit(raw));
      const frameView = frame.subarray(0, block.frame);
      if ((await readAt(patch.file, at, frameView)) < block.frame) {
        throw fail("corrupt", `patch is truncated in block ${b}`);
      }
      at += block.frame;
      mem.set(inflateExact(label, `block ${b}`, frameView, raw), DATA);
      // Every entry of the block is checked before any of it is written.
      const plan = checkBlock(label, b, mem, block, { oldPos, newPos, ...header });
      cache.gather(plan);
      let d = DATA + ctrlBytes;
      let e = d + block.diff;
      for (let i = 0; i < block.entries; i++) {
        let left = plan.copy[i];
        let from = CACHE + plan.where[i];
        while (left > 0) {
          const n = Math.min(left, SLICE - outFill);
          k.add(out + outFill, from, d, n);
          outFill += n;
          d += n;
          from += n;
          newPos += n;
          left -= n;
          if (outFill === SLICE) await flush();
        }
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
      oldPos = plan.oldPos;
    }
    await flush();
    await writing;
  } finally {
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

/** A block's control entries, checked, and the old position after them. */
interface BlockPlan {
  /** Diff bytes of each entry. */
  copy: number[];
  /** Extra bytes of each entry. */
  extra: number[];
  /** Old-file offset each entry reads from (-1: none); then, after gathering, cache offset. */
  where: number[];
  /** The old position after the block. */
  oldPos: number;
}

/** Check every entry of a block (its content at DATA in `mem`) against the old and new sizes. */
function checkBlock(
  label: string,
  b: number,
  mem: Uint8Array,
  block: { entries: number; diff: number; extra: number },
  at: { oldPos: number; newPos: number; oldSize: number; newSize: number },
): BlockPlan {
  const fail = (reason: "corrupt" | "unsafe", detail: string) =>
    new DeltaError(label, reason, detail);
  // DATA is 8-byte aligned: the i64 values are read as a low u32 and a high i32.
  const low = new Uint32Array(mem.buffer, mem.byteOffset + DATA, block.entries * 6);
  const high = new Int32Array(mem.buffer, mem.byteOffset + DATA, block.entries * 6);
  const value = (word: number): number | null => {
    const hi = high[word + 1];
    if (hi >= 0x200000 || hi < -0x200000) return null;
    const v = hi * 0x100000000 + low[word];
    return Number.isSafeInteger(v) ? v : null;
  };
  const plan: BlockPlan = { copy: [], extra: [], where: [], oldPos: at.oldPos };
  let { oldPos, newPos } = at;
  let diffLeft = block.diff;
  let extraLeft = block.extra;
  for (let i = 0; i < block.entries; i++) {
    const copy = value(i * 6);
    const extra = value(i * 6 + 2);
    const seek = value(i * 6 + 4);
    const where = `block ${b} entry ${i + 1}`;
    if (copy === null || extra === null || seek === null) {
      throw fail("corrupt", `${where} has a value outside ±(2^53 - 1)`);
    }
    if (copy < 0 || extra < 0) {
      throw fail("corrupt", `${where} has a negative length (copy ${copy}, extra ${extra})`);
    }
    if (copy > diffLeft || extra > extraLeft) {
      throw fail(
        "corrupt",
        `${where} needs ${copy} diff and ${extra} extra bytes, the block has ${diffLeft} and ${extraLeft} left`,
      );
    }
    if (newPos + copy + extra > at.newSize) {
      throw fail(
        "unsafe",
        `${where} writes past the new size of ${at.newSize} bytes (to byte ${
          newPos + copy + extra
        })`,
      );
    }
    if (copy > 0 && (oldPos < 0 || oldPos + copy > at.oldSize)) {
      throw fail(
        "unsafe",
        `${where} reads old bytes ${oldPos}..${
          oldPos + copy
        }, outside the old file's ${at.oldSize} bytes`,
      );
    }
    plan.copy.push(copy);
    plan.extra.push(extra);
    plan.where.push(copy > 0 ? oldPos : -1);
    diffLeft -= copy;
    extraLeft -= extra;
    newPos += copy + extra;
    if (!Number.isSafeInteger(oldPos + copy + seek)) {
      throw fail("corrupt", `${where} seeks the old position out of range`);
    }
    oldPos += copy + seek;
  }
  if (diffLeft !== 0 || extraLeft !== 0) {
    throw fail(
      "corrupt",
      `block ${b} leaves ${diffLeft} diff and ${extraLeft} extra bytes unused`,
    );
  }
  plan.oldPos = oldPos;
  return plan;
}

/** Entries per block at most (8 MiB of 24-byte entries) fit in 19 bits. */
const INDEX_BITS = 2 ** 19;

/**
 * The indexes of the entries that read old bytes, by old offset. With an old file below
 * 16 GiB, offset × 2^19 + index is exact in a double, and a Float64Array sorts natively,
 * without a comparator running as JavaScript for each comparison.
 */
function sortedReads(plan: BlockPlan, oldSize: number): number[] {
  const count = plan.where.reduce((n, _, i) => n + (plan.copy[i] > 0 ? 1 : 0), 0);
  if (oldSize * INDEX_BITS < Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(count);
    let k = 0;
    for (let i = 0; i < plan.where.length; i++) {
      if (plan.copy[i] > 0) keys[k++] = plan.where[i] * INDEX_BITS + i;
    }
    keys.sort();
    return Array.from(keys, (key) => key % INDEX_BITS);
  }
  const order: number[] = [];
  for (let i = 0; i < plan.where.length; i++) if (plan.copy[i] > 0) order.push(i);
  return order.sort((a, b) => plan.where[a] - plan.where[b]);
}

/**
 * The old bytes one block needs, read before the block is written: its ranges sorted by offset
 * and merged across gaps of up to 4 KiB, each merged range read once. bsdiff's matches jump all
 * over the old file (the Deno 2.9.5 → 2.9.6 patch: 80,000 entries, and a 1 MiB window following
 * the old position misses 58,000 times), so reading in entry order costs one seek and read per
 * entry; sorted and merged, 16,000 reads of 122 MB in all. The reads are synchronous: on a page-
 * cached file a seek and a read take about 12 µs so, against about 100 µs as promises.
 */
class OldCache {
  #file: Deno.FsFile | null;
  #oldSize: number;
  #label: string;
  /** The working memory; the gathered bytes go at CACHE. */
  #mem: Uint8Array;
  /** Reads made so far. */
  reads = 0;

  constructor(file: Deno.FsFile | null, oldSize: number, label: string, mem: Uint8Array) {
    this.#file = file;
    this.#oldSize = oldSize;
    this.#label = label;
    this.#mem = mem;
  }

  /** Read what `plan` needs and turn its old offsets into offsets from CACHE. */
  gather(plan: BlockPlan): void {
    const order = sortedReads(plan, this.#oldSize);
    if (order.length === 0) return;
    // Packed one after the other, segments never take more than CACHE_BYTES: a gap is merged
    // only while what is gathered, plus every range still to place, fits.
    let left = order.reduce((sum, i) => sum + plan.copy[i], 0);
    let used = 0;
    let segStart = -1;
    let segEnd = -1;
    let segAt = 0;
    const segments: [number, number, number][] = [];
    for (const i of order) {
      const start = plan.where[i];
      const stop = start + plan.copy[i];
      left -= plan.copy[i];
      const grown = Math.max(stop, segEnd) - segStart;
      if (
        segStart >= 0 && start <= segEnd + MERGE_GAP && segAt + grown + left <= CACHE_BYTES
      ) {
        segEnd = Math.max(segEnd, stop);
      } else {
        if (segStart >= 0) {
          segments.push([segStart, segEnd, segAt]);
          used = segAt + segEnd - segStart;
        }
        segStart = start;
        segEnd = stop;
        segAt = used;
      }
      plan.where[i] = segAt + start - segStart;
    }
    segments.push([segStart, segEnd, segAt]);
    for (const [start, stop, offset] of segments) this.#read(start, stop, offset);
  }

  #read(start: number, stop: number, offset: number): void {
    const into = this.#mem.subarray(CACHE + offset, CACHE + offset + stop - start);
    this.#file!.seekSync(start, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < into.length) {
      const n = this.#file!.readSync(into.subarray(filled));
      if (n === null) {
        throw new DeltaError(
          this.#label,
          "source",
          `old file ended at byte ${start + filled}, before the ${this.#oldSize} bytes it had`,
        );
      }
      filled += n;
    }
    this.reads++;
  }
}
