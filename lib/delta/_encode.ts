// Private (publisher side): write a binary patch (the layout of _wire.ts) from control entries
// and the diff and extra bytes they use, cutting them into blocks of at most 8 MiB and
// compressing each block with zstd (in node:zlib) while the next one is gathered.
import type { Buffer } from "node:buffer";
import { constants, zstdCompress, type ZstdOptions } from "node:zlib";
import {
  bitmapBytes,
  CHUNK_BYTES,
  encodeBlockHeader,
  encodeHeader,
  ENTRY_BYTES,
  HEADER_BYTES,
  MAX_BLOCK_BYTES,
  writeInt64,
} from "./_wire.ts";

/**
 * Diff bytes as they are stored: a bitmap of their 16-byte chunks (bit `i & 7` of byte `i >> 3`
 * set for chunk `i` when it is not all zeros) and those chunks, the last one padded with zeros.
 * bsdiff's diff bytes are mostly zeros (95% for Deno 2.9.5 → 2.9.6, in 24% of the chunks), so the
 * client decompresses a quarter of the bytes, and no larger a patch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sparseDiff } from "./_encode.ts";
 * const dense = new Uint8Array(40);
 * dense[20] = 7; // in chunk 1 of 3
 * const { bitmap, chunks } = sparseDiff(dense);
 * assert.deepEqual([...bitmap], [0b010]);
 * assert.equal(chunks.length, 16);
 * assert.equal(chunks[4], 7);
 * ```
 */
export function sparseDiff(dense: Uint8Array): { bitmap: Uint8Array; chunks: Uint8Array } {
  const count = Math.ceil(dense.length / CHUNK_BYTES);
  const bitmap = new Uint8Array(bitmapBytes(dense.length));
  const chunks = new Uint8Array(count * CHUNK_BYTES);
  // Whole chunks are tested four bytes at a time (`dense` is copied to be 4-byte aligned).
  const aligned = dense.byteOffset % 4 === 0 ? dense : new Uint8Array(dense);
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2);
  let stored = 0;
  for (let c = 0; c < count; c++) {
    const start = c * CHUNK_BYTES;
    const chunk = aligned.subarray(start, Math.min(start + CHUNK_BYTES, aligned.length));
    const w = start >>> 2;
    const zero = chunk.length === CHUNK_BYTES
      ? (words[w] | words[w + 1] | words[w + 2] | words[w + 3]) === 0
      : chunk.every((byte) => byte === 0);
    if (zero) continue;
    bitmap[c >>> 3] |= 1 << (c & 7);
    chunks.set(chunk, stored * CHUNK_BYTES);
    stored++;
  }
  return { bitmap, chunks: chunks.subarray(0, stored * CHUNK_BYTES) };
}

/**
 * A source of bytes read in order, exactly as many as asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ByteReader } from "./_encode.ts";
 * const zeros: ByteReader = { read: (n) => Promise.resolve(new Uint8Array(n)) };
 * assert.equal((await zeros.read(3)).length, 3);
 * ```
 */
export interface ByteReader {
  /** Exactly `n` bytes (throws when the source ends first). */
  read(n: number): Promise<Uint8Array>;
}

/**
 * What the header of the patch being written says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PatchTarget } from "./_encode.ts";
 * const target: PatchTarget = { oldSize: 0, oldSha256: "ab".repeat(32), newSize: 1, newSha256: "cd".repeat(32) };
 * assert.equal(target.newSize, 1);
 * ```
 */
export interface PatchTarget {
  /** Old file size (0: no old file). */
  oldSize: number;
  /** Old file SHA-256, hex (of no bytes when there is no old file). */
  oldSha256: string;
  /** New file size. */
  newSize: number;
  /** New file SHA-256, hex. */
  newSha256: string;
}

/**
 * Options of {@linkcode PatchWriter.create}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PatchWriterOptions } from "./_encode.ts";
 * const options: PatchWriterOptions = { level: 19, concurrency: 2, blockBytes: 4096 };
 * assert.equal(options.blockBytes, 4096);
 * ```
 */
export interface PatchWriterOptions {
  /** zstd level (1-22). */
  level: number;
  /** Blocks compressed at once. */
  concurrency: number;
  /** Largest block, in decompressed bytes (at most {@linkcode MAX_BLOCK_BYTES}; tests use less). */
  blockBytes?: number;
}

/**
 * One zstd frame of `data`, with its checksum and its content size: a frame that says its size
 * is decoded by the client in one pass straight into its working memory, without zstd's streaming
 * window (as large as the block) beside it (_inflate.ts). `pledgedSrcSize` is Node's option, not
 * yet in @types/node's ZstdOptions.
 */
function compress(data: Uint8Array, level: number): Promise<Uint8Array> {
  const options: ZstdOptions & { pledgedSrcSize: number } = {
    pledgedSrcSize: data.length,
    params: {
      [constants.ZSTD_c_compressionLevel]: level,
      [constants.ZSTD_c_checksumFlag]: 1,
    },
  };
  return new Promise((resolve, reject) => {
    zstdCompress(
      data,
      options,
      (error: Error | null, result: Buffer) => error ? reject(error) : resolve(result),
    );
  });
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await file.write(data.subarray(done));
}

/**
 * Writes one binary patch file: control entries in, blocks out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PatchWriter } from "./_encode.ts";
 * import { EMPTY_SHA256 } from "./_wire.ts";
 * const path = `${await Deno.makeTempDir()}/patch`;
 * const target = { oldSize: 0, oldSha256: EMPTY_SHA256, newSize: 0, newSha256: EMPTY_SHA256 };
 * const writer = await PatchWriter.create(path, target, { level: 3, concurrency: 1 });
 * assert.equal(await writer.finish(), 96);
 * ```
 */
export class PatchWriter {
  #file: Deno.FsFile;
  #target: PatchTarget;
  #options: PatchWriterOptions;
  #blockBytes: number;
  #entries: number[] = [];
  #diff: Uint8Array[] = [];
  #diffLength = 0;
  #extra: Uint8Array[] = [];
  #extraLength = 0;
  #raw = 0;
  #blocks = 0;
  #queue: { head: Uint8Array; frame: Promise<Uint8Array> }[] = [];
  #size = HEADER_BYTES;

  private constructor(file: Deno.FsFile, target: PatchTarget, options: PatchWriterOptions) {
    this.#file = file;
    this.#target = target;
    this.#options = options;
    this.#blockBytes = Math.min(options.blockBytes ?? MAX_BLOCK_BYTES, MAX_BLOCK_BYTES);
  }

  /** Start a patch in the new file `path` (which must not exist). */
  static async create(
    path: string,
    target: PatchTarget,
    options: PatchWriterOptions,
  ): Promise<PatchWriter> {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
    await writeAll(file, new Uint8Array(HEADER_BYTES));
    return new PatchWriter(file, target, options);
  }

  /**
   * Add the control entry (copy, extra, seek), taking `copy` diff bytes from `diff` and `extra`
   * bytes from `extraSource`; an entry that does not fit in the current block is split.
   */
  async entry(
    copy: number,
    extra: number,
    seek: number,
    diff: ByteReader | null,
    extraSource: ByteReader | null,
  ): Promise<void> {
    if (copy === 0 && extra === 0 && seek === 0) return;
    let x = copy;
    let y = extra;
    for (;;) {
      const room = this.#blockBytes - this.#raw - ENTRY_BYTES;
      if (room <= 0) {
        await this.#flush();
        continue;
      }
      const xa = Math.min(x, room);
      const ya = Math.min(y, room - xa);
      const last = xa === x && ya === y;
      this.#entries.push(xa, ya, last ? seek : 0);
      if (xa > 0) this.#diff.push(await diff!.read(xa));
      if (ya > 0) this.#extra.push(await extraSource!.read(ya));
      this.#diffLength += xa;
      this.#extraLength += ya;
      this.#raw += ENTRY_BYTES + xa + ya;
      x -= xa;
      y -= ya;
      if (last) return;
      await this.#flush();
    }
  }

  /** Compress the block gathered so far (in the background) and write finished ones. */
  async #flush(): Promise<void> {
    if (this.#raw === 0) return;
    const count = this.#entries.length / 3;
    const dense = new Uint8Array(this.#diffLength);
    let at = 0;
    for (const part of this.#diff) {
      dense.set(part, at);
      at += part.length;
    }
    const sparse = sparseDiff(dense);
    const raw = new Uint8Array(
      count * ENTRY_BYTES + sparse.bitmap.length + sparse.chunks.length + this.#extraLength,
    );
    const view = new DataView(raw.buffer);
    this.#entries.forEach((value, i) => writeInt64(view, i * 8, value));
    at = count * ENTRY_BYTES;
    for (const part of [sparse.bitmap, sparse.chunks, ...this.#extra]) {
      raw.set(part, at);
      at += part.length;
    }
    const frame = compress(raw, this.#options.level);
    frame.catch(() => {}); // awaited in order below; a failure surfaces there
    this.#queue.push({
      head: encodeBlockHeader({
        entries: count,
        diff: this.#diffLength,
        extra: this.#extraLength,
        chunks: sparse.chunks.length / CHUNK_BYTES,
        frame: 0,
      }),
      frame,
    });
    this.#blocks++;
    this.#entries = [];
    this.#diff = [];
    this.#extra = [];
    this.#diffLength = this.#extraLength = this.#raw = 0;
    while (this.#queue.length >= this.#options.concurrency) await this.#writeOne();
  }

  async #writeOne(): Promise<void> {
    const { head, frame } = this.#queue.shift()!;
    const bytes = await frame;
    new DataView(head.buffer).setUint32(16, bytes.length, true);
    await writeAll(this.#file, head);
    await writeAll(this.#file, bytes);
    this.#size += head.length + bytes.length;
  }

  /** Write what is left and the header, close the file, and return its size. */
  async finish(): Promise<number> {
    try {
      await this.#flush();
      while (this.#queue.length > 0) await this.#writeOne();
      await this.#file.seek(0, Deno.SeekMode.Start);
      await writeAll(this.#file, encodeHeader({ ...this.#target, blocks: this.#blocks }));
    } finally {
      this.#file.close();
    }
    return this.#size;
  }

  /** Give up: close the file (the caller removes it). */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#queue.map((q) => q.frame));
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}

/**
 * A {@linkcode ByteReader} over an open file, read from its current position.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileReader } from "./_encode.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * using file = await Deno.open(path);
 * const reader = fileReader(file, path);
 * assert.deepEqual([...await reader.read(2)], [97, 98]);
 * await assert.rejects(reader.read(2), /ended after 1 of 2 bytes/);
 * ```
 */
export function fileReader(file: Deno.FsFile, label: string): ByteReader {
  return {
    async read(n: number): Promise<Uint8Array> {
      const out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const got = await file.read(out.subarray(filled));
        if (got === null) throw new Error(`File ${label} ended after ${filled} of ${n} bytes`);
        filled += got;
      }
      return out;
    },
  };
}

/**
 * A {@linkcode ByteReader} over a readable stream (a child process's stdout).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamReader } from "./_encode.ts";
 * const reader = new StreamReader(ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]), "s");
 * assert.deepEqual([...await reader.read(3)], [1, 2, 3]);
 * assert.ok(await reader.atEnd());
 * ```
 */
export class StreamReader implements ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #label: string;

  constructor(stream: ReadableStream<Uint8Array>, label: string) {
    this.#reader = stream.getReader();
    this.#label = label;
  }

  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#chunk.length === 0) {
        const next = await this.#reader.read();
        if (next.done) {
          throw new Error(`Stream ${this.#label} ended after ${filled} of ${n} bytes`);
        }
        this.#chunk = next.value;
        continue;
      }
      const take = Math.min(n - filled, this.#chunk.length);
      out.set(this.#chunk.subarray(0, take), filled);
      this.#chunk = this.#chunk.subarray(take);
      filled += take;
    }
    return out;
  }

  /** Whether the stream has no more bytes. */
  async atEnd(): Promise<boolean> {
    while (this.#chunk.length === 0) {
      const next = await this.#reader.read();
      if (next.done) return true;
      this.#chunk = next.value;
    }
    return false;
  }

  /** Stop reading. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
