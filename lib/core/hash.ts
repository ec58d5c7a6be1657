/**
 * SHA-256 and size of files on disk. What is compared against them is the caller's: a download
 * checks its bytes as they arrive, staging re-hashes the file where it lies, `verify-release`
 * compares a release tree with its manifest.
 *
 * Hashing reads the file with `file.read()` into two reused buffers (1 MiB each by default) and
 * feeds `node:crypto`: while one buffer is hashed, the next read fills the other, so reading and
 * hashing overlap (about 1.45 GB/s where one buffer read then hashed in turn gives 1.2 GB/s, and the
 * 64 KiB chunks of `FsFile.readable` about 0.4 GB/s).
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ProgressSink } from "./env.ts";
import { isSha256Hex as isSha256HexRule } from "./validate.ts";

/** Default size of each of the two read buffers of {@linkcode hashFile}: 1 MiB. */
const DEFAULT_BUFFER_SIZE = 1024 * 1024;
/** Minimum time between two progress reports, in milliseconds. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Options of {@linkcode hashFile}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile, type HashFileOptions } from "./hash.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(3000));
 * const options: HashFileOptions = { bufferSize: 1024 };
 * assert.equal((await hashFile(path, options)).size, 3000);
 * const signal = AbortSignal.abort(new Error("Stopped"));
 * await assert.rejects(hashFile(path, { signal }), { message: "Stopped" });
 * ```
 */
export interface HashFileOptions {
  /** Receives `{ phase: "verify", done, total }` in bytes, about ten times a second and at the end. */
  onProgress?: ProgressSink;
  /** Size of each of the two reused read buffers, in bytes (default 1 MiB). */
  bufferSize?: number;
  /** Stops the hashing; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A file's digest and length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FileDigest, hashFile } from "./hash.ts";
 * const empty: FileDigest = await hashFile(await Deno.makeTempFile());
 * assert.deepEqual(empty, {
 *   sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 *   size: 0,
 * });
 * ```
 */
export interface FileDigest {
  /** SHA-256, 64 lowercase hex digits. */
  sha256: string;
  /** Length in bytes. */
  size: number;
}

/**
 * Whether `s` is a SHA-256 digest written as exactly 64 lowercase hex digits (the only form
 * this program compares; upper-case digits are refused, not folded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSha256Hex } from "./hash.ts";
 * assert.equal(isSha256Hex("ab".repeat(32)), true);
 * assert.equal(isSha256Hex("AB".repeat(32)), false);
 * assert.equal(isSha256Hex("ab".repeat(31)), false);
 * ```
 */
export function isSha256Hex(s: string): boolean {
  return isSha256HexRule(s); // the rule lives in lib/core/validate.ts
}

/**
 * Compute the SHA-256 and the length of a file, streaming it through two reused buffers: the
 * next read fills one while the other is hashed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile } from "./hash.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * assert.deepEqual(await hashFile(path), {
 *   sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 *   size: 3,
 * });
 * ```
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<FileDigest> {
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) {
    throw new RangeError(`Hash buffer size must be a positive integer, got ${bufferSize}`);
  }
  options.signal?.throwIfAborted();
  const file = await Deno.open(path, { read: true });
  let pending: Promise<number | null> | undefined;
  try {
    const total = (await file.stat()).size;
    const hash = createHash("sha256");
    let filling = new Uint8Array(bufferSize);
    let spare = new Uint8Array(bufferSize);
    const report = progressReporter(options.onProgress, total);
    let done = 0;
    report(0, true);
    pending = file.read(filling);
    while (true) {
      const n = await pending;
      pending = undefined;
      if (n === null) break;
      options.signal?.throwIfAborted();
      const full = filling;
      filling = spare;
      spare = full;
      // The next read runs while this buffer is hashed.
      pending = file.read(filling);
      hash.update(full.subarray(0, n));
      done += n;
      report(done, false);
    }
    report(done, true);
    return { sha256: hash.digest("hex"), size: done };
  } finally {
    // A read still in flight (after an abort or a throwing progress sink) settles before close.
    await pending?.catch(() => null);
    file.close();
  }
}

/** A throttled progress reporter: at most one report per interval, plus forced ones. */
function progressReporter(
  sink: ProgressSink | undefined,
  total: number,
): (done: number, force: boolean) => void {
  let last = -Infinity;
  return (done, force) => {
    if (sink === undefined) return;
    const now = performance.now();
    if (!force && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    sink({ phase: "verify", done, total });
  };
}
