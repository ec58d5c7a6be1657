/**
 * The client's side of a single-file delta: rebuild a new file from the old one and a binary
 * patch, in TypeScript and runtime built-ins only (node:zlib for zstd, node:crypto for SHA-256,
 * a 283-byte WebAssembly module: see docs/DELTA.md).
 *
 * The old file is read with seek and read, block by block the ranges each block needs (sorted and
 * merged), never whole; the new file is written as it is produced and hashed on the way; one
 * block of the patch (at most 8 MiB) is in memory at a time. Success means the output has the expected size and
 * SHA-256; on any failure the output file is removed and the error propagates, a
 * {@linkcode DeltaError} for anything wrong with the patch (the caller then downloads the full
 * build), the file system's own error for a disk failure.
 *
 * @module
 */
import { isSha256Hex } from "../core/hash.ts";
import type { ProgressSink } from "../core/env.ts";
import { removeIfExists } from "../core/fs.ts";
import { DeltaError } from "./errors.ts";
import { readPatchHeader, rebuild } from "./_rebuild.ts";
import { EMPTY_SHA256 } from "./_wire.ts";

/**
 * Options of {@linkcode applyPatch}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApplyPatchOptions } from "./apply.ts";
 * const options: ApplyPatchOptions = { out: "/tmp/ms11.new", size: 3, sha256: "ab".repeat(32) };
 * assert.equal(options.size, 3);
 * ```
 */
export interface ApplyPatchOptions {
  /** Where to write the new file; it must not exist. */
  out: string;
  /** The new file's size, from the signed manifest. */
  size: number;
  /** The new file's SHA-256 (64 lowercase hex digits), from the signed manifest. */
  sha256: string;
  /** Mode of the new file (default 0o644). */
  mode?: number;
  /**
   * fsync the new file before returning (default false: like a download, the file is made
   * durable by staging, which moves it into a build).
   */
  sync?: boolean;
  /** Receives `{phase: "extract", done, total}` in bytes written. */
  onProgress?: ProgressSink;
  /** Stops the rebuild; the promise rejects with the signal's reason and the output is removed. */
  signal?: AbortSignal;
}

/**
 * What {@linkcode applyPatch} wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApplyPatchResult } from "./apply.ts";
 * const result: ApplyPatchResult = { size: 3, sha256: "ab".repeat(32), copied: 2, extra: 1 };
 * assert.equal(result.copied + result.extra, result.size);
 * ```
 */
export interface ApplyPatchResult {
  /** Bytes written (the expected size). */
  size: number;
  /** Their SHA-256 (the expected one). */
  sha256: string;
  /** Bytes made from the old file's bytes (plus diff bytes). */
  copied: number;
  /** Bytes taken from the patch as they are. */
  extra: number;
}

/**
 * Rebuild `options.out` from the old file `old` and the binary patch `patch`, and verify it has
 * `options.size` bytes and SHA-256 `options.sha256`. `old` may be null for a patch made from
 * nothing (it then holds the whole file).
 *
 * Refused with {@linkcode DeltaError}, before anything is written: a file that is not a patch,
 * a patch for another target than `size`/`sha256` (`mismatch`), an old file of another size
 * than the patch was made from (`source`). Refused while rebuilding, the output removed: a
 * control entry that reads outside the old file or writes past the new size, negative or
 * overflowing lengths, a block that declares more than 8 MiB or decompresses to more than it
 * declares (`unsafe`), truncated or undecodable data (`corrupt`), and a result whose SHA-256
 * differs (`mismatch`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPatch } from "./apply.ts";
 * import { makeDelta } from "./make.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/old`, "hello world, version 1\n".repeat(100));
 * await Deno.writeTextFile(`${dir}/new`, "hello world, version 2\n".repeat(100));
 * const made = await makeDelta(`${dir}/old`, `${dir}/new`, { out: `${dir}/patch` });
 * const result = await applyPatch(`${dir}/old`, `${dir}/patch`, {
 *   out: `${dir}/rebuilt`, size: made.to.size, sha256: made.to.sha256,
 * });
 * assert.equal(result.sha256, made.to.sha256);
 * assert.equal(await Deno.readTextFile(`${dir}/rebuilt`), await Deno.readTextFile(`${dir}/new`));
 * ```
 */
export async function applyPatch(
  old: string | null,
  patch: string,
  options: ApplyPatchOptions,
): Promise<ApplyPatchResult> {
  const { out, size, sha256 } = options;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Patch option size must be a non-negative integer, got ${size}`);
  }
  if (!isSha256Hex(sha256)) {
    throw new TypeError(
      `Patch option sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha256)}`,
    );
  }
  options.signal?.throwIfAborted();
  using patchFile = await Deno.open(patch, { read: true });
  const region = { file: patchFile, start: 0, length: (await patchFile.stat()).size, label: patch };
  const header = await readPatchHeader(region);
  if (header.newSize !== size || header.newSha256 !== sha256) {
    throw new DeltaError(
      patch,
      "mismatch",
      `patch makes ${header.newSize} bytes with sha256 ${header.newSha256}, expected ${size} bytes with sha256 ${sha256}`,
    );
  }
  // A patch made from nothing (a whole file) reads no old file, whatever the caller passes.
  const fromNothing = header.oldSize === 0 && header.oldSha256 === EMPTY_SHA256;
  using oldFile = old === null || fromNothing ? null : await Deno.open(old, { read: true });
  const oldSize = oldFile === null ? 0 : (await oldFile.stat()).size;
  if (oldSize !== header.oldSize) {
    throw new DeltaError(
      patch,
      "source",
      old === null
        ? `patch was made from a file of ${header.oldSize} bytes, and no old file was given`
        : `patch was made from a file of ${header.oldSize} bytes, the old file ${old} has ${oldSize}`,
    );
  }
  const outFile = await Deno.open(out, { write: true, createNew: true, mode: 0o600 });
  try {
    const result = await rebuild(region, header, {
      old: oldFile,
      out: outFile,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    if (result.sha256 !== sha256) {
      throw new DeltaError(
        patch,
        "mismatch",
        `rebuilt file ${out} has sha256 ${result.sha256}, expected ${sha256}`,
      );
    }
    if (options.sync) await outFile.sync();
    outFile.close();
    await Deno.chmod(out, options.mode ?? 0o644);
    return { size: result.size, sha256: result.sha256, copied: result.copied, extra: result.extra };
  } catch (error) {
    try {
      outFile.close();
    } catch {
      // already closed
    }
    await removeIfExists(out);
    throw error;
  }
}
