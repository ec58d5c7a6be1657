// Private: a MS11FDZ2 folder delta's pack (docs/DELTA.md, "The folder delta"): small files carried
// whole, one after the other, in one zstd frame, so that they compress together. The index says
// where the frame is, how many bytes it holds (at most 1 MiB, decoded in memory), and where in
// them each packed file starts; the files tile it in index order.
import { createHash } from "node:crypto";
import { DeltaError } from "./errors.ts";
import { inflateExact } from "./_inflate.ts";
import { frameLimit } from "./_wire.ts";

/**
 * The most bytes a pack holds once decompressed (it is decoded in memory): 1 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_PACK_BYTES } from "./_folder_pack.ts";
 * assert.equal(MAX_PACK_BYTES, 1024 * 1024);
 * ```
 */
export const MAX_PACK_BYTES = 1024 * 1024;
/**
 * The largest file the publisher packs (a larger one whole is a blob of its own): 64 KiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_PACK_BYTES, PACK_FILE_BYTES } from "./_folder_pack.ts";
 * assert.ok(PACK_FILE_BYTES < MAX_PACK_BYTES);
 * ```
 */
export const PACK_FILE_BYTES = 64 * 1024;

/**
 * The pack's frame in the blob area and the bytes it holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PackSpan } from "./_folder_pack.ts";
 * const pack: PackSpan = { offset: 0, size: 40, bytes: 100 };
 * assert.ok(pack.size < pack.bytes);
 * ```
 */
export interface PackSpan {
  /** Where the frame starts, from the start of the blob area. */
  offset: number;
  /** The frame's bytes. */
  size: number;
  /** The bytes it decompresses to exactly. */
  bytes: number;
}

/**
 * Up to `size` bytes of `file` from offset `at` (fewer only at the end of the file: callers
 * compare the length with what they asked for).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readExact } from "./_folder_pack.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * using file = await Deno.open(path);
 * assert.equal(new TextDecoder().decode(await readExact(file, 2, 3)), "cde");
 * assert.equal((await readExact(file, 4, 10)).length, 2); // the end of the file
 * ```
 */
export async function readExact(
  file: Deno.FsFile,
  at: number,
  size: number,
): Promise<Uint8Array> {
  await file.seek(at, Deno.SeekMode.Start);
  const out = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const n = await file.read(out.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return out.subarray(0, filled);
}

/**
 * Read and decompress the pack (`pack` checked by parseIndex: inside the blob area, at most
 * {@linkcode MAX_PACK_BYTES}); refused with {@linkcode DeltaError} when its frame is larger than
 * its content allows, truncated, corrupt, or decompresses to other than `pack.bytes` bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * import { readPack } from "./_folder_pack.ts";
 * const path = await Deno.makeTempFile();
 * const frame = zstdCompressSync(new TextEncoder().encode("ab"));
 * await Deno.writeFile(path, frame);
 * using file = await Deno.open(path);
 * const region = { file, blobStart: 0, label: path };
 * assert.equal(new TextDecoder().decode(await readPack(region, { offset: 0, size: frame.length, bytes: 2 })), "ab");
 * await assert.rejects(readPack(region, { offset: 0, size: frame.length, bytes: 1 }), /pack decompresses to more than its declared 1 bytes$/);
 * ```
 */
export async function readPack(
  from: { file: Deno.FsFile; blobStart: number; label: string },
  pack: PackSpan,
): Promise<Uint8Array> {
  if (pack.size > frameLimit(pack.bytes)) {
    throw new DeltaError(
      from.label,
      "corrupt",
      `pack has a frame of ${pack.size} bytes for ${pack.bytes} bytes of content`,
    );
  }
  const frame = await readExact(from.file, from.blobStart + pack.offset, pack.size);
  if (frame.length < pack.size) {
    throw new DeltaError(from.label, "corrupt", "folder delta is truncated in its pack");
  }
  return inflateExact(from.label, "pack", frame, pack.bytes);
}

/**
 * Write `bytes` (a packed file's, from the decompressed pack) to the new file `target` and check
 * them against the entry's SHA-256 first (`mismatch`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writePacked } from "./_folder_pack.ts";
 * const dir = await Deno.makeTempDir();
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * const entry = { path: "a.txt", sha256 };
 * await writePacked(new TextEncoder().encode("abc"), `${dir}/a.txt`, { entry, label: "d.fdz" });
 * assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "abc");
 * await assert.rejects(
 *   writePacked(new TextEncoder().encode("abd"), `${dir}/b.txt`, { entry, label: "d.fdz" }),
 *   /entry "a\.txt": packed file has sha256 [0-9a-f]{64}, expected ba7816bf/,
 * );
 * ```
 */
export async function writePacked(
  bytes: Uint8Array,
  target: string,
  options: { entry: { path: string; sha256: string }; label: string },
): Promise<void> {
  const { entry } = options;
  const got = createHash("sha256").update(bytes).digest("hex");
  if (got !== entry.sha256) {
    throw new DeltaError(
      `${options.label} entry ${JSON.stringify(entry.path)}`,
      "mismatch",
      `packed file has sha256 ${got}, expected ${entry.sha256}`,
    );
  }
  using out = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
  let done = 0;
  while (done < bytes.length) done += await out.write(bytes.subarray(done));
}
