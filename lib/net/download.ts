/**
 * The download engine: artifacts streamed to disk with their size capped and their SHA-256
 * checked on the fly, resumed after a cut (within a run and across runs), retried with backoff;
 * and {@linkcode fetchLimited} for small documents such as manifests.
 *
 * Every request goes through `env.fetch` with redirects followed by hand, so that the URL policy
 * (`requireHttps`, `allowedDomains`) is checked at every hop. Only network failures, idle
 * timeouts, HTTP 408, 429 and 5xx are retried; a size or checksum failure never is.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { ChecksumMismatchError, SizeMismatchError } from "../core/errors.ts";
import type { ProgressSink } from "../core/env.ts";
import { removeIfExists, renameDurable, writeFileAtomic } from "../core/fs.ts";
import { isSha256Hex } from "../core/hash.ts";
import {
  HttpSession,
  type IdleWatch,
  isRetryableStatus,
  type RequestOptions,
  RestartRequest,
  showUrl,
} from "./http.ts";

export type { RequestOptions } from "./http.ts";

/** Minimum time between two progress reports (by `env.now`), in milliseconds. */
const PROGRESS_INTERVAL_MS = 100;
/** Reused buffer that response bodies are read into (BYOB), in bytes. */
const READ_BUFFER_SIZE = 1024 * 1024;
/** Read buffer used to re-hash a partial file left by an earlier run. */
const REHASH_BUFFER_SIZE = 2 * 1024 * 1024;

/**
 * Options of {@linkcode downloadArtifact}.
 *
 * @example
 * ```ts
 * import type { DownloadOptions } from "./download.ts";
 * const options: DownloadOptions = { size: 3, sha256: "ab".repeat(32), maxAttempts: 5 };
 * console.assert(options.size === 3);
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
  /** Receives `{ phase: "download", done, total }` in bytes, about ten times a second (by
   * `env.now`), plus a first and a final report. */
  onProgress?: ProgressSink;
}

/**
 * What {@linkcode downloadArtifact} produced.
 *
 * @example
 * ```ts
 * import type { DownloadResult } from "./download.ts";
 * const result: DownloadResult = { path: "/tmp/app.tar.gz", sha256: "ab".repeat(32), size: 3 };
 * console.assert(result.size === 3);
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
}

/** The resume record kept next to a partial download: `<dest>.partial.json`. */
interface Sidecar {
  url: string;
  sha256: string;
  size: number;
  etag: string | null;
  last_modified: string | null;
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
 * retryable failure leaves them in place for that purpose.
 *
 * @throws {SizeMismatchError} more or fewer bytes than `size`
 * @throws {ChecksumMismatchError} the bytes' SHA-256 differs from `sha256`
 * @throws {Deno.errors.TimedOut} the total timeout, or the idle timeout on the last attempt
 * @throws {Error} an HTTP status that is not retried (`Download of <url> failed: HTTP 404 Not
 * Found`), retries used up, or a URL refused by the policy (`Refusing <url>: …`)
 * @example
 * ```ts
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
 * console.assert(result.path === dest);
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
  const session = new HttpSession("Download", url, options);
  const partial = new PartialFile(dest, {
    url,
    size,
    sha256,
    onProgress: options.onProgress,
    session,
  });
  try {
    await partial.open();
    if (partial.received < size || !partial.matches(verify)) {
      await session.run(() => partial.attempt(verify));
    }
    return await partial.finish(verify, options.sync ?? true);
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

/** What a {@linkcode PartialFile} needs besides its destination. */
interface PartialFileInit {
  url: string;
  size: number;
  sha256: string;
  onProgress: ProgressSink | undefined;
  session: HttpSession;
}

/** `<dest>.partial` with its running hash and its sidecar. */
class PartialFile {
  #dest: string;
  #url: string;
  #size: number;
  #sha256: string;
  #onProgress: ProgressSink | undefined;
  #session: HttpSession;
  #file: Deno.FsFile | null = null;
  #hash: Hash = createHash("sha256");
  #received = 0;
  #etag: string | null = null;
  #lastModified: string | null = null;
  #lastReport = -Infinity;
  /** Read buffers between two reads (two at most), kept across attempts. */
  #buffers: Uint8Array<ArrayBuffer>[] = [];

  constructor(dest: string, init: PartialFileInit) {
    this.#dest = dest;
    this.#url = init.url;
    this.#size = init.size;
    this.#sha256 = init.sha256;
    this.#onProgress = init.onProgress;
    this.#session = init.session;
  }

  get path(): string {
    return `${this.#dest}.partial`;
  }

  get sidecarPath(): string {
    return `${this.#dest}.partial.json`;
  }

  get received(): number {
    return this.#received;
  }

  /** Open the partial file, continuing an earlier run's when its sidecar matches. */
  async open(): Promise<void> {
    const sidecar = await this.#readSidecar();
    let keep = false;
    if (sidecar !== null && sidecar.sha256 === this.#sha256 && sidecar.size === this.#size) {
      try {
        keep = (await Deno.stat(this.path)).size <= this.#size;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (!keep) await this.discardFiles();
    this.#file = await Deno.open(this.path, { read: true, write: true, create: true });
    if (keep && sidecar !== null) {
      this.#etag = sidecar.etag;
      this.#lastModified = sidecar.last_modified;
      const buffer = new Uint8Array(REHASH_BUFFER_SIZE);
      while (true) {
        const n = await this.#file.read(buffer);
        if (n === null) break;
        this.#hash.update(buffer.subarray(0, n));
        this.#received += n;
      }
    }
    this.#report(true);
  }

  /** Whether the bytes so far hash to the expected digest (always true when not verifying). */
  matches(verify: boolean): boolean {
    return !verify || this.#hash.copy().digest("hex") === this.#sha256;
  }

  async #readSidecar(): Promise<Sidecar | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.sidecarPath);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    try {
      const data = JSON.parse(text);
      const optionalString = (v: unknown) => v === null || typeof v === "string";
      if (
        typeof data === "object" && data !== null && typeof data.url === "string" &&
        typeof data.sha256 === "string" && typeof data.size === "number" &&
        optionalString(data.etag) && optionalString(data.last_modified)
      ) {
        return data as Sidecar;
      }
    } catch {
      // A torn or foreign sidecar: treated as absent, the partial is discarded.
    }
    return null;
  }

  async #writeSidecar(): Promise<void> {
    const sidecar: Sidecar = {
      url: this.#url,
      sha256: this.#sha256,
      size: this.#size,
      etag: this.#etag,
      last_modified: this.#lastModified,
    };
    await writeFileAtomic(this.sidecarPath, JSON.stringify(sidecar) + "\n");
  }

  /** Empty the partial file and forget its validators. */
  async #restart(): Promise<void> {
    const file = this.#openFile();
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    this.#hash = createHash("sha256");
    this.#received = 0;
    this.#etag = null;
    this.#lastModified = null;
    this.#report(true);
  }

  #openFile(): Deno.FsFile {
    if (this.#file === null) throw new Error(`Partial download ${this.path} is not open`);
    return this.#file;
  }

  #report(force: boolean): void {
    if (this.#onProgress === undefined) return;
    const now = this.#session.env.now().getTime();
    if (!force && now - this.#lastReport < PROGRESS_INTERVAL_MS) return;
    this.#lastReport = now;
    this.#onProgress({ phase: "download", done: this.#received, total: this.#size });
  }

  /** One HTTP attempt: request (resuming when possible), check the status, stream the body. */
  async attempt(verify: boolean): Promise<void> {
    const session = this.#session;
    const extra: Record<string, string> = { "accept-encoding": "identity" };
    let from = 0;
    if (this.#received > 0) {
      const validator = this.#etag ?? this.#lastModified;
      if (validator !== null || verify) {
        from = this.#received;
        extra["range"] = `bytes=${from}-`;
        if (validator !== null) extra["if-range"] = validator;
      } else {
        await this.#restart();
      }
    }
    const idle = session.idleWatch();
    try {
      const { response, url } = await session.get(extra, idle);
      if (response.status === 206 && from > 0) {
        const problem = this.#rangeProblem(response, from);
        if (problem !== null) {
          await response.body?.cancel().catch(() => {});
          await this.#restart();
          throw new RestartRequest(problem);
        }
      } else if (response.status === 416 && from > 0) {
        await response.body?.cancel().catch(() => {});
        await this.#restart();
        throw new RestartRequest("HTTP 416: the partial download is discarded");
      } else if (response.status === 206) {
        await response.body?.cancel().catch(() => {});
        throw new Error(
          `${session.label} failed: unexpected HTTP 206 Partial Content to a request without Range`,
        );
      } else if (response.ok) {
        if (this.#received > 0) await this.#restart();
        const etag = response.headers.get("etag");
        this.#etag = etag !== null && !etag.startsWith("W/") ? etag : null;
        this.#lastModified = response.headers.get("last-modified");
        await this.#writeSidecar();
      } else {
        await response.body?.cancel().catch(() => {});
        throw isRetryableStatus(response.status)
          ? session.retryableHttpError(response, url)
          : session.httpError(response, url);
      }
      this.#checkContentLength(response);
      await this.#stream(response, idle);
    } finally {
      idle.dispose();
    }
  }

  /** Why a 206 cannot continue the partial (Content-Range, ETag), or null. */
  #rangeProblem(response: Response, from: number): string | null {
    const range = response.headers.get("content-range");
    const match = range === null ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range.trim());
    if (
      match === null || Number(match[1]) !== from || Number(match[2]) !== this.#size - 1 ||
      Number(match[3]) !== this.#size
    ) {
      return `Content-Range ${
        JSON.stringify(range)
      } does not continue at byte ${from} of ${this.#size}`;
    }
    const etag = response.headers.get("etag");
    if (this.#etag !== null && etag !== null && etag !== this.#etag) {
      return `ETag changed from ${this.#etag} to ${etag}`;
    }
    return null;
  }

  /** A Content-Length that contradicts the declared size fails before any byte is written. */
  #checkContentLength(response: Response): void {
    if (response.headers.has("content-encoding")) return;
    const header = response.headers.get("content-length");
    if (header === null || !/^\d+$/.test(header.trim())) return;
    const length = Number(header.trim());
    if (length !== this.#size - this.#received) {
      void response.body?.cancel().catch(() => {});
      throw new SizeMismatchError(this.path, this.#size, this.#received + length);
    }
  }

  /** Hash and write the body chunk by chunk, stopping at the first byte past the size. */
  async #stream(response: Response, idle: IdleWatch): Promise<void> {
    const file = this.#openFile();
    if (response.body === null) {
      if (this.#received < this.#size) {
        throw new SizeMismatchError(this.path, this.#size, this.#received);
      }
      return;
    }
    // A byte stream (fetch's bodies are) is read into two reused buffers: no garbage per chunk,
    // reads as large as what has arrived, and the next read is under way while one buffer is
    // written (on a blocking-pool thread) and hashed (here). Other streams go chunk by chunk.
    let byob: ReadableStreamBYOBReader | null = null;
    let reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
    try {
      reader = byob = response.body.getReader({ mode: "byob" });
    } catch {
      reader = response.body.getReader();
    }
    // A read runs while the previous chunk is written: its failure is seen (and thrown) only
    // once it is awaited, so it is marked handled meanwhile.
    const readAhead = (): Promise<ReadableStreamReadResult<Uint8Array>> => {
      let read: Promise<ReadableStreamReadResult<Uint8Array>>;
      if (byob === null) {
        read = this.#session.read(reader as ReadableStreamDefaultReader<Uint8Array>, idle);
      } else {
        // The buffer is transferred to the stream and comes back in the result (a failed read
        // keeps it: a later read allocates a new one).
        const buffer = this.#buffers.pop() ?? new Uint8Array(READ_BUFFER_SIZE);
        read = this.#session.readInto(byob, buffer, idle);
      }
      read.catch(() => {});
      return read;
    };
    let finished = false;
    let pending = readAhead();
    try {
      while (true) {
        const { done, value } = await pending;
        if (done) {
          finished = true;
          break;
        }
        const room = this.#size - this.#received;
        const chunk = value.length > room ? value.subarray(0, room) : value;
        if (value.length <= room) pending = readAhead();
        const writing = writeAll(file, chunk);
        try {
          this.#hash.update(chunk);
        } finally {
          await writing;
        }
        if (byob !== null) this.#buffers.push(new Uint8Array(value.buffer as ArrayBuffer));
        this.#received += chunk.length;
        if (value.length > room) {
          throw new SizeMismatchError(this.path, this.#size, this.#received + value.length - room);
        }
        this.#report(false);
      }
    } finally {
      // A read still under way (after a failed write) ends with this cancel.
      if (!finished) await reader.cancel().catch(() => {});
    }
    if (this.#received < this.#size) {
      throw new SizeMismatchError(this.path, this.#size, this.#received);
    }
  }

  /** Check the digest, fsync (when `sync`), rename to `dest`, drop the sidecar. */
  async finish(verify: boolean, sync: boolean): Promise<DownloadResult> {
    const actual = this.#hash.digest("hex");
    if (verify && actual !== this.#sha256) {
      throw new ChecksumMismatchError(this.path, this.#sha256, actual);
    }
    if (sync) await this.#openFile().sync();
    this.close();
    await renameDurable(this.path, this.#dest);
    await removeIfExists(this.sidecarPath);
    this.#report(true);
    return { path: this.#dest, sha256: actual, size: this.#received };
  }

  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  /** Delete the partial file and its sidecar. */
  async discardFiles(): Promise<void> {
    this.close();
    await removeIfExists(this.path);
    await removeIfExists(this.sidecarPath);
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await file.write(data.subarray(written));
}

/**
 * Options of {@linkcode fetchLimited}.
 *
 * @example
 * ```ts
 * import type { FetchLimitedOptions } from "./download.ts";
 * const options: FetchLimitedOptions = { maxBytes: 16_384, ifNoneMatch: '"v1"' };
 * console.assert(options.maxBytes === 16_384);
 * ```
 */
export interface FetchLimitedOptions extends RequestOptions {
  /** Largest accepted body in bytes (default 65 536); more is a RangeError. */
  maxBytes?: number;
  /** Sent as `If-None-Match` (an ETag from an earlier response). */
  ifNoneMatch?: string | null;
  /** Sent as `If-Modified-Since` (a Last-Modified from an earlier response). */
  ifModifiedSince?: string | null;
}

/**
 * What {@linkcode fetchLimited} got.
 *
 * @example
 * ```ts
 * import type { FetchLimitedResult } from "./download.ts";
 * const notModified: FetchLimitedResult = {
 *   status: 304,
 *   body: null,
 *   etag: '"v1"',
 *   lastModified: null,
 *   url: "https://updates.ms11.com/stable/manifest.json",
 * };
 * console.assert(notModified.body === null);
 * ```
 */
export interface FetchLimitedResult {
  /** The final HTTP status: a 2xx, or 304. */
  status: number;
  /** The body; null on 304 Not Modified. */
  body: Uint8Array | null;
  /** The response's ETag header. */
  etag: string | null;
  /** The response's Last-Modified header. */
  lastModified: string | null;
  /** The URL that answered (after redirects). */
  url: string;
}

/**
 * GET a small document (a manifest) with the same URL policy, redirect rules, timeouts and
 * retries as {@linkcode downloadArtifact}, reading at most `maxBytes`. Sends `If-None-Match` /
 * `If-Modified-Since` when given and returns `body: null` on 304. Any other status outside 2xx
 * is an error (retried when it is 408, 429 or 5xx).
 *
 * @throws {RangeError} the body is longer than `maxBytes` (`… exceeds 65536 bytes`)
 * @throws {Error} an HTTP status that is not retried, retries used up, or a URL refused by the
 * policy
 * @example
 * ```ts
 * import { fetchLimited } from "./download.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response('{"version":"1.2.3"}', { headers: { etag: '"v1"' } }));
 * const result = await fetchLimited(`http://127.0.0.1:${server.addr.port}/manifest.json`, {
 *   requireHttps: false,
 * });
 * console.assert(result.status === 200 && result.etag === '"v1"');
 * await server.shutdown();
 * ```
 */
export async function fetchLimited(
  url: string,
  options: FetchLimitedOptions = {},
): Promise<FetchLimitedResult> {
  const maxBytes = options.maxBytes ?? 65_536;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`Option maxBytes must be an integer >= 0, got ${maxBytes}`);
  }
  const session = new HttpSession("Fetch", url, options);
  try {
    return await session.run(async () => {
      const extra: Record<string, string> = {};
      if (options.ifNoneMatch) extra["if-none-match"] = options.ifNoneMatch;
      if (options.ifModifiedSince) extra["if-modified-since"] = options.ifModifiedSince;
      const idle = session.idleWatch();
      try {
        const { response, url: finalUrl } = await session.get(extra, idle);
        const result = {
          status: response.status,
          body: null,
          etag: response.headers.get("etag"),
          lastModified: response.headers.get("last-modified"),
          url: finalUrl.href,
        };
        if (response.status === 304) {
          await response.body?.cancel().catch(() => {});
          return result;
        }
        if (!response.ok) {
          await response.body?.cancel().catch(() => {});
          throw isRetryableStatus(response.status)
            ? session.retryableHttpError(response, finalUrl)
            : session.httpError(response, finalUrl);
        }
        const tooLong = () =>
          new RangeError(`Response from ${showUrl(finalUrl)} exceeds ${maxBytes} bytes`);
        const length = response.headers.get("content-length");
        if (
          !response.headers.has("content-encoding") && length !== null &&
          Number(length) > maxBytes
        ) {
          await response.body?.cancel().catch(() => {});
          throw tooLong();
        }
        return {
          ...result,
          body: await readLimited(response, { session, idle, maxBytes, tooLong }),
        };
      } finally {
        idle.dispose();
      }
    });
  } finally {
    session.close();
  }
}

/** How {@linkcode readLimited} reads. */
interface ReadLimits {
  session: HttpSession;
  idle: IdleWatch;
  maxBytes: number;
  tooLong: () => RangeError;
}

async function readLimited(response: Response, limits: ReadLimits): Promise<Uint8Array> {
  const { session, idle, maxBytes, tooLong } = limits;
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let finished = false;
  try {
    while (true) {
      const { done, value } = await session.read(reader, idle);
      if (done) {
        finished = true;
        break;
      }
      total += value.length;
      if (total > maxBytes) throw tooLong();
      chunks.push(value);
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
