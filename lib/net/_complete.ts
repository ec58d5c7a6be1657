/**
 * A download already on disk (private to lib/net): a finished file at its destination, left by
 * a run killed before it was installed, is verified where it lies (read once, instead of
 * downloaded again); and how many bytes of a download are on disk already, for a preflight.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ProgressSink } from "../core/env.ts";
import { fileIdentity, openNoFollow, refuseSymlink, removeIfExists } from "../core/fs.ts";
import type { PartialResult } from "./_partial.ts";
import { readSidecar } from "./_sidecar.ts";

/** Read buffer used to verify a finished file. */
const BUFFER_SIZE = 2 * 1024 * 1024;

/**
 * What {@linkcode reuseComplete} checks and does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReuseOptions } from "./_complete.ts";
 * const options: ReuseOptions = { size: 3, sha256: "ab".repeat(32), verify: true, sync: true };
 * assert.equal(options.size, 3);
 * ```
 */
export interface ReuseOptions {
  /** The declared size. */
  size: number;
  /** The expected SHA-256. */
  sha256: string;
  /** Compare the digest (when false, only the size is checked). */
  verify: boolean;
  /** fsync the file once verified. */
  sync: boolean;
  /** Its mode once verified (set before the fsync). */
  mode?: number;
  /** Receives `{ phase: "verify", done, total }` at the start and the end. */
  onProgress?: ProgressSink;
}

/**
 * The finished download at `dest` when it has the declared size and SHA-256: read once (through
 * the descriptor it is then fsynced through), its mode set, and its identity taken, as a fresh
 * download would have left it. Null when there is none; a file of another size or digest is
 * removed (and null returned). A symbolic link at `dest` is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reuseComplete } from "./_complete.ts";
 * const dest = `${await Deno.makeTempDir()}/app.bin`;
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * const options = { size: 3, sha256, verify: true, sync: true };
 * assert.equal(await reuseComplete(dest, options), null); // nothing there
 * await Deno.writeTextFile(dest, "abc");
 * assert.equal((await reuseComplete(dest, options))?.sha256, sha256);
 * await Deno.writeTextFile(dest, "abd");
 * assert.equal(await reuseComplete(dest, options), null); // other bytes: removed
 * await assert.rejects(Deno.lstat(dest), Deno.errors.NotFound);
 * ```
 */
export async function reuseComplete(
  dest: string,
  options: ReuseOptions,
): Promise<PartialResult | null> {
  await refuseSymlink(dest);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(dest);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  if (!info.isFile) return null;
  if (info.size !== options.size) {
    await removeIfExists(dest);
    return null;
  }
  const hash = createHash("sha256");
  const file = await openNoFollow(dest, { read: true });
  try {
    options.onProgress?.({ phase: "verify", done: 0, total: options.size });
    const buffer = new Uint8Array(BUFFER_SIZE);
    let done = 0;
    while (true) {
      const n = await file.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
      done += n;
    }
    const digest = hash.digest("hex");
    if (done === options.size && (!options.verify || digest === options.sha256)) {
      if (options.mode !== undefined) await Deno.chmod(dest, options.mode);
      if (options.sync) await file.sync();
      const identity = fileIdentity(await file.stat());
      options.onProgress?.({ phase: "verify", done, total: options.size });
      return { path: dest, sha256: digest, size: done, identity };
    }
  } finally {
    file.close();
  }
  await removeIfExists(dest); // not this download: fetched again
  return null;
}

/**
 * How many bytes of the download to `dest` are on disk already: all of them for a finished file
 * of the declared size, the partial's for a partial whose resume record is of this download
 * (same SHA-256 and size), else 0. Reads no content.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesOnDisk } from "./_complete.ts";
 * const dest = `${await Deno.makeTempDir()}/app.bin`;
 * const sha256 = "ab".repeat(32);
 * assert.equal(await bytesOnDisk(dest, { size: 10, sha256 }), 0);
 * await Deno.writeTextFile(`${dest}.partial`, "abcd");
 * await Deno.writeTextFile(`${dest}.partial.json`, JSON.stringify({ url: "https://x/app.bin", sha256, size: 10, etag: null, last_modified: null }));
 * assert.equal(await bytesOnDisk(dest, { size: 10, sha256 }), 4);
 * assert.equal(await bytesOnDisk(dest, { size: 10, sha256: "cd".repeat(32) }), 0); // another download's
 * ```
 */
export async function bytesOnDisk(
  dest: string,
  expected: { size: number; sha256: string },
): Promise<number> {
  const sizeOf = async (path: string) => {
    try {
      const info = await Deno.lstat(path);
      return info.isFile ? info.size : null;
    } catch {
      return null;
    }
  };
  if ((await sizeOf(dest)) === expected.size) return expected.size;
  const sidecar = await readSidecar(`${dest}.partial.json`).catch(() => null);
  if (sidecar === null || sidecar.sha256 !== expected.sha256 || sidecar.size !== expected.size) {
    return 0;
  }
  const partial = await sizeOf(`${dest}.partial`);
  return partial !== null && partial <= expected.size ? partial : 0;
}
