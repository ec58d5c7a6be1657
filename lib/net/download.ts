/**
 * The download engine: artifacts streamed to disk with their size capped and their SHA-256
 * checked on the fly, resumed after a cut (within a run and across runs), retried with backoff.
 * Small documents such as manifests are fetched into memory by `fetchLimited`
 * (lib/net/fetch.ts) with the same rules.
 *
 * Every request goes through `env.fetch` with redirects followed by hand, so that the URL policy
 * (`requireHttps`, `allowedDomains`) is checked at every hop. Only network failures, idle
 * timeouts, HTTP 408, 429 and 5xx are retried; a size or checksum failure never is.
 *
 * @module
 */
import { ChecksumMismatchError, SizeMismatchError } from "../core/errors.ts";
import type { FileIdentity } from "../core/fs.ts";
import type { ProgressSink } from "../core/env.ts";
import { isSha256Hex } from "../core/validate.ts";
import { HttpSession, type RequestOptions } from "./http.ts";
import { PartialFile } from "./_partial.ts";
import { bytesOnDisk, reuseComplete } from "./_complete.ts";
import { removeIfExists } from "../core/fs.ts";
import { showUrl } from "./url_policy.ts";

export type { RequestOptions } from "./http.ts";

/**
 * Options of {@linkcode downloadArtifact}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DownloadOptions } from "./download.ts";
 * const options: DownloadOptions = { size: 3, sha256: "ab".repeat(32), maxAttempts: 5 };
 * assert.equal(options.verifyChecksum ?? true, true);
 * ```
 */
export interface DownloadOptions extends RequestOptions {
  /** Declared length in bytes: more is cut off and refused, less is refused. */
  size: number;
  /** Expected SHA-256, 64 lowercase hex digits. */
  sha256: string;
  /** Check the SHA-256 (default true). When false the size is still enforced. */
  verifyChecksum?: boolean;
  /**
   * fsync the file before it is renamed to `dest` (default true). Pass false when the caller
   * makes the result durable itself: staging fsyncs what it installs (an archive is extracted
   * with every file fsynced and then deleted, so syncing the archive too would be wasted work).
   */
  sync?: boolean;
  /**
   * The mode of the finished, verified file (set before its fsync, so that one fsync makes it
   * durable), e.g. 0o755 for an executable build; default 0600.
   */
  mode?: number;
  /** Receives `{ phase: "download", done, total }` in bytes, about ten times a second (by
   * `env.now`), plus a first and a final report. */
  onProgress?: ProgressSink;
}

/**
 * What {@linkcode downloadArtifact} produced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DownloadResult } from "./download.ts";
 * const identity = { dev: 2049, ino: 131, size: 3, mtimeMs: 1796170000000 };
 * const result: DownloadResult = { path: "/tmp/app.tar.gz", sha256: "ab".repeat(32), size: 3, identity };
 * assert.equal(result.size, 3);
 * ```
 */
export interface DownloadResult {
  /** The destination path (the file is complete, verified, fsynced unless `sync` was false, and
   * renamed there). */
  path: string;
  /** SHA-256 of the received bytes, lowercase hex. */
  sha256: string;
  /** Length in bytes. */
  size: number;
  /**
   * The file's device, inode, size and mtime when it was verified (and fsynced): a later step
   * checks the file it installs is this one, unchanged, instead of hashing it again.
   */
  identity: FileIdentity;
}

/**
 * Download `url` to `dest`, streaming: each chunk is hashed and written to `<dest>.partial`
 * (constant memory). The body is capped at `size` bytes: a byte more aborts at once, and fewer
 * bytes, a wrong `Content-Length` or another SHA-256 fail too; on those failures the partial file
 * is deleted and nothing is retried. On success the partial is fsynced (unless `sync` is false)
 * and renamed to `dest`, the directory fsynced.
 *
 * Network failures, idle timeouts, HTTP 408, 429 and 5xx are retried (full-jitter exponential
 * backoff, or the server's Retry-After, capped by `maxRetryAfterMs`). A retry resumes with
 * `Range: bytes=N-` and `If-Range` (the strong ETag, else Last-Modified); only a 206 whose
 * Content-Range continues at N with the declared total is appended to; a 200 starts over
 * (truncating); a 416, a wrong Content-Range or a changed ETag discard the partial. Without any
 * validator a resume is attempted only when the checksum is verified (the hash catches a splice).
 *
 * Across runs: `<dest>.partial.json` records the URL, digest, size and validators. When a later
 * call has the same sha256 and size, the partial's bytes are re-hashed from disk and the
 * download continues; otherwise both files are discarded. An aborted call (via `signal`) or a
 * retryable failure leaves them in place for that purpose. A finished file already at `dest`
 * (a run killed before installing it) with the declared size and SHA-256 is verified where it
 * lies and returned without a request; one with other bytes is replaced.
 *
 * @throws {SizeMismatchError} more or fewer bytes than `size`
 * @throws {ChecksumMismatchError} the bytes' SHA-256 differs from `sha256`
 * @throws {Deno.errors.TimedOut} the total timeout, or the idle timeout on the last attempt
 * @throws {Error} an HTTP status that is not retried (`Download of <url> failed: HTTP 404 Not
 * Found`), retries used up, or a URL refused by the policy (`Refusing <url>: …`)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadArtifact } from "./download.ts";
 * const body = new TextEncoder().encode("abc");
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response(body));
 * const dest = `${await Deno.makeTempDir()}/app.bin`;
 * const result = await downloadArtifact(`http://127.0.0.1:${server.addr.port}/app.bin`, dest, {
 *   size: 3,
 *   sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 *   requireHttps: false,
 * });
 * assert.deepEqual(result, { path: dest, sha256: result.sha256, size: 3, identity: result.identity });
 * assert.equal(result.identity.size, 3);
 * assert.equal(await Deno.readTextFile(dest), "abc");
 * await server.shutdown();
 * ```
 */
export async function downloadArtifact(
  url: string,
  dest: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const { size, sha256 } = options;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Declared size of ${showUrl(url)} must be an integer >= 0, got ${size}`);
  }
  const verify = options.verifyChecksum ?? true;
  if (verify && !isSha256Hex(sha256)) {
    throw new TypeError(
      `Expected sha256 of ${showUrl(url)} must be 64 lowercase hex digits, got ${
        JSON.stringify(sha256)
      }`,
    );
  }
  // A finished download left by a run killed before it was installed is verified where it
  // lies (read once) instead of fetched again.
  const done = await reuseComplete(dest, {
    size,
    sha256,
    verify,
    sync: options.sync ?? true,
    mode: options.mode,
    onProgress: options.onProgress,
  });
  if (done !== null) {
    await removeIfExists(`${dest}.partial`);
    await removeIfExists(`${dest}.partial.json`);
    return done;
  }
  const session = new HttpSession("Download", url, options);
  const partial = new PartialFile(dest, {
    url,
    size,
    sha256,
    onProgress: options.onProgress,
    session,
  });
  try {
    // A partial that cannot be opened (a symbolic link in its place, a read error) is left as
    // it is: nothing is known to be wrong with its bytes.
    await partial.open();
  } catch (error) {
    partial.close();
    session.close();
    throw error;
  }
  try {
    if (partial.received < size || !partial.matches(verify)) {
      await session.run(() => partial.attempt(verify));
    }
    return await partial.finish(verify, { sync: options.sync ?? true, mode: options.mode });
  } catch (error) {
    partial.close();
    if (
      error instanceof SizeMismatchError || error instanceof ChecksumMismatchError ||
      partial.received === 0
    ) {
      await partial.discardFiles();
    }
    throw error;
  } finally {
    session.close();
  }
}

/**
 * How many bytes of the download of `dest` are on disk already (a finished file of the
 * declared size, or a partial whose resume record is of this download), without reading them:
 * what a disk-space preflight need not find free again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadedBytes } from "./download.ts";
 * const dest = `${await Deno.makeTempDir()}/app.bin`;
 * assert.equal(await downloadedBytes(dest, { size: 3, sha256: "ab".repeat(32) }), 0);
 * await Deno.writeTextFile(dest, "abc");
 * assert.equal(await downloadedBytes(dest, { size: 3, sha256: "ab".repeat(32) }), 3);
 * ```
 */
export async function downloadedBytes(
  dest: string,
  expected: { size: number; sha256: string },
): Promise<number> {
  return await bytesOnDisk(dest, expected);
}
