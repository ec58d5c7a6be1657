// Private (publisher side): write one binary patch file, from bsdiff's diff of two files or,
// with no usable old file, as the whole new file (a patch made from nothing). Shared by
// makeDelta and makeFolderDelta.
import type { FileDigest } from "../core/hash.ts";
import { removeIfExists, tempSibling } from "../core/fs.ts";
import { bsdiffMemory, openBsdiff, runBsdiff } from "./_bsdiff.ts";
import { fileReader, PatchWriter } from "./_encode.ts";
import { EMPTY_SHA256 } from "./_wire.ts";

/**
 * A file and its digest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Input } from "./_make_patch.ts";
 * const input: Input = { path: "/tmp/ms11", digest: { size: 0, sha256: "ab".repeat(32) } };
 * assert.equal(input.digest.size, 0);
 * ```
 */
export interface Input {
  /** Its path. */
  path: string;
  /** Its size and SHA-256. */
  digest: FileDigest;
}

/**
 * Options of {@linkcode encodePatch}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EncodeOptions } from "./_make_patch.ts";
 * const options: EncodeOptions = { level: 19, concurrency: 2, maxMemory: 2 ** 32 };
 * assert.equal(options.level, 19);
 * ```
 */
export interface EncodeOptions {
  /** zstd level of the blocks. */
  level: number;
  /** Blocks compressed at once. */
  concurrency: number;
  /** Refuse a bsdiff run whose estimated memory is above this many bytes. */
  maxMemory: number;
  /** "whole": never diff, store the new file (compressed) as a patch made from nothing. */
  method?: "auto" | "whole";
  /** Largest block in decompressed bytes (tests use small blocks). */
  blockBytes?: number;
  /** Stops bsdiff. */
  signal?: AbortSignal;
}

/**
 * How the patch was made and its size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Encoded } from "./_make_patch.ts";
 * const encoded: Encoded = { method: "whole", size: 140 };
 * assert.equal(encoded.method, "whole");
 * ```
 */
export interface Encoded {
  /** "bsdiff" (a diff against the old file) or "whole" (the new file alone). */
  method: "bsdiff" | "whole";
  /** Bytes of the patch file. */
  size: number;
}

/**
 * Write the patch from `old` (null: none) to `next` at `out` (which must not exist). The
 * result is not verified here; the callers apply it once before publishing it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePatch } from "./_make_patch.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/new`, "abc");
 * const digest = {
 *   size: 3, sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * };
 * const options = { level: 3, concurrency: 1, maxMemory: 2 ** 30 };
 * const made = await encodePatch(null, { path: `${dir}/new`, digest }, `${dir}/patch`, options);
 * assert.equal(made.method, "whole");
 * assert.equal(made.size, (await Deno.stat(`${dir}/patch`)).size);
 * ```
 */
export async function encodePatch(
  old: Input | null,
  next: Input,
  out: string,
  options: EncodeOptions,
): Promise<Encoded> {
  const whole = old === null || old.digest.size === 0 || next.digest.size === 0 ||
    options.method === "whole";
  const target = {
    oldSize: whole ? 0 : old!.digest.size,
    oldSha256: whole ? EMPTY_SHA256 : old!.digest.sha256,
    newSize: next.digest.size,
    newSha256: next.digest.sha256,
  };
  const writerOptions = {
    level: options.level,
    concurrency: options.concurrency,
    blockBytes: options.blockBytes,
  };
  if (whole) {
    using file = await Deno.open(next.path, { read: true });
    const writer = await PatchWriter.create(out, target, writerOptions);
    try {
      await writer.entry(0, next.digest.size, 0, null, fileReader(file, next.path));
      return { method: "whole", size: await writer.finish() };
    } catch (error) {
      await writer.abort();
      await removeIfExists(out);
      throw error;
    }
  }
  const need = bsdiffMemory(old!.digest.size, next.digest.size);
  if (need > options.maxMemory) {
    throw new RangeError(
      `Cannot diff ${next.path} (${next.digest.size} bytes) against ${old!.path} (${
        old!.digest.size
      } bytes): bsdiff would need about ${Math.ceil(need / 2 ** 20)} MiB, more than the limit of ${
        Math.floor(options.maxMemory / 2 ** 20)
      } MiB`,
    );
  }
  const classic = tempSibling(out);
  try {
    await runBsdiff(old!.path, next.path, classic, options.signal);
    return { method: "bsdiff", size: await convert(classic, out, target, writerOptions) };
  } finally {
    await removeIfExists(classic);
  }
}

/** Rewrite the BSDIFF40 file `classic` as our patch `out`, checking every control entry. */
async function convert(
  classic: string,
  out: string,
  target: { oldSize: number; oldSha256: string; newSize: number; newSha256: string },
  writerOptions: { level: number; concurrency: number; blockBytes?: number },
): Promise<number> {
  const streams = await openBsdiff(classic);
  let writer: PatchWriter | null = null;
  try {
    if (streams.newSize !== target.newSize) {
      throw new Error(
        `bsdiff made a patch for ${streams.newSize} bytes, the new file has ${target.newSize}`,
      );
    }
    writer = await PatchWriter.create(out, target, writerOptions);
    let newPos = 0;
    let oldPos = 0;
    for (let entry = await streams.next(); entry !== null; entry = await streams.next()) {
      const [copy, extra, seek] = entry;
      if (
        copy < 0 || extra < 0 || newPos + copy + extra > target.newSize ||
        (copy > 0 && (oldPos < 0 || oldPos + copy > target.oldSize))
      ) {
        throw new Error(
          `bsdiff made an invalid control entry (${copy}, ${extra}, ${seek}) at new byte ${newPos}`,
        );
      }
      await writer.entry(copy, extra, seek, streams.diff, streams.extra);
      newPos += copy + extra;
      oldPos += copy + seek;
    }
    if (newPos !== target.newSize) {
      throw new Error(`bsdiff's patch makes ${newPos} bytes, the new file has ${target.newSize}`);
    }
    await streams.close();
    return await writer.finish();
  } catch (error) {
    await streams.abort();
    await writer?.abort();
    await removeIfExists(out);
    throw error;
  }
}
