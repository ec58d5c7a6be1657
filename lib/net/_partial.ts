/**
 * The partial file of one download (private to lib/net): `<dest>.partial`, its running SHA-256,
 * its resume record (lib/net/_sidecar.ts), one attempt's request and streamed body, and the final
 * check and rename. `downloadArtifact` (lib/net/download.ts) drives it through an
 * `HttpSession`'s retries.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { ChecksumMismatchError, SizeMismatchError } from "../core/errors.ts";
import type { ProgressSink } from "../core/env.ts";
import {
  type FileIdentity,
  fileIdentity,
  noSpaceError,
  openNoFollow,
  refuseSymlink,
  removeIfExists,
  renameDurable,
} from "../core/fs.ts";
import { escapeText } from "../core/text.ts";
import { showValue } from "../core/validate.ts";
import { type IdleWatch, isRetryableStatus, RestartRequest, statusLine } from "./_attempt.ts";
import type { HttpSession } from "./http.ts";
import { showUrl } from "./url_policy.ts";
import { readSidecar, writeSidecar } from "./_sidecar.ts";

/** Minimum time between two progress reports (by `env.now`), in milliseconds. */
const PROGRESS_INTERVAL_MS = 100;
/** Reused buffer that response bodies are read into (BYOB), in bytes. */
const READ_BUFFER_SIZE = 1024 * 1024;
/** Read buffer used to re-hash a partial file left by an earlier run. */
const REHASH_BUFFER_SIZE = 2 * 1024 * 1024;

/**
 * What a {@linkcode PartialFile} needs besides its destination.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PartialFileInit } from "./_partial.ts";
 * import { HttpSession } from "./http.ts";
 * const session = new HttpSession("Download", "https://updates.ms11.com/a", {});
 * const init: PartialFileInit = { url: "https://updates.ms11.com/a", size: 3, sha256: "ab".repeat(32), onProgress: undefined, session };
 * assert.equal(init.size, 3);
 * session.close();
 * ```
 */
export interface PartialFileInit {
  url: string;
  size: number;
  sha256: string;
  onProgress: ProgressSink | undefined;
  session: HttpSession;
}

/**
 * What {@linkcode PartialFile.finish} made: the complete file at its destination.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PartialResult } from "./_partial.ts";
 * const identity = { dev: 2049, ino: 131, size: 3, mtimeMs: 1796170000000 };
 * const done: PartialResult = { path: "/tmp/app.bin", sha256: "ab".repeat(32), size: 3, identity };
 * assert.equal(done.size, 3);
 * ```
 */
export interface PartialResult {
  /** The destination path. */
  path: string;
  /** SHA-256 of the received bytes, lowercase hex. */
  sha256: string;
  /** Length in bytes. */
  size: number;
  /** The file written, hashed (and fsynced): what staging checks it is given. */
  identity: FileIdentity;
}

/**
 * How {@linkcode PartialFile.finish} finishes the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FinishOptions } from "./_partial.ts";
 * const options: FinishOptions = { sync: true, mode: 0o755 };
 * assert.equal(options.mode, 0o755);
 * ```
 */
export interface FinishOptions {
  /** fsync the file before it is renamed. */
  sync: boolean;
  /** Give the verified file this mode, before the fsync (default: leave it 0600). */
  mode?: number;
}

/**
 * `<dest>.partial` with its running hash and its sidecar (`<dest>.partial.json`): opened (an
 * earlier run's bytes re-hashed when the sidecar matches), filled by attempts that resume with
 * `Range`/`If-Range` where they can, then checked and renamed to `dest`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PartialFile } from "./_partial.ts";
 * import { HttpSession } from "./http.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("abc"));
 * const url = `http://127.0.0.1:${server.addr.port}/app.bin`;
 * const session = new HttpSession("Download", url, { requireHttps: false });
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * const dest = `${await Deno.makeTempDir()}/app.bin`;
 * const partial = new PartialFile(dest, { url, size: 3, sha256, onProgress: undefined, session });
 * await partial.open();
 * await session.run(() => partial.attempt(true));
 * assert.equal((await partial.finish(true, { sync: true })).path, dest);
 * session.close();
 * await server.shutdown();
 * ```
 */
export class PartialFile {
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
  /** Set once this server mishandled a Range request: later attempts start over instead. */
  #rangesOff = false;
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

  /** `<dest>.partial`. */
  get path(): string {
    return `${this.#dest}.partial`;
  }

  /** `<dest>.partial.json`. */
  get sidecarPath(): string {
    return `${this.#dest}.partial.json`;
  }

  /** Bytes in the partial file so far. */
  get received(): number {
    return this.#received;
  }

  /** Open the partial file, continuing an earlier run's when its sidecar matches. */
  async open(): Promise<void> {
    // Neither is ever read or written through a symbolic link.
    await refuseSymlink(this.path);
    await refuseSymlink(this.sidecarPath);
    const sidecar = await readSidecar(this.sidecarPath);
    let keep = false;
    if (sidecar !== null && sidecar.sha256 === this.#sha256 && sidecar.size === this.#size) {
      try {
        keep = (await Deno.lstat(this.path)).size <= this.#size;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (!keep) await this.discardFiles();
    // Never through a symbolic link: the bytes go to a file of this download's own.
    this.#file = await openNoFollow(this.path, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    if (keep && sidecar !== null) {
      // Validators belong to the server that sent them: bytes from another URL (a mirror) are
      // resumed only when the checksum is verified (see attempt).
      const same = sidecar.url === this.#url;
      this.#etag = same ? sidecar.etag : null;
      this.#lastModified = same ? sidecar.last_modified : null;
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

  async #writeSidecar(): Promise<void> {
    await writeSidecar(this.sidecarPath, {
      url: this.#url,
      sha256: this.#sha256,
      size: this.#size,
      etag: this.#etag,
      last_modified: this.#lastModified,
    });
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

  /**
   * One HTTP attempt: request (resuming with one `Range: bytes=N-` when possible), check the
   * status, stream the body. A CDN or store that mishandles ranges never gets bytes appended
   * that are not the rest of this file:
   * - a 206 is appended to only when its `Content-Range` is exactly `bytes N-(size-1)/size` and
   *   its validators are the partial's (compared here: a server that ignores If-Range, as Swift
   *   does, cannot splice two files); a 206 of the whole file is taken as a full body;
   * - any other 206 (another range, another total, a multipart answer, an encoded body), a 501
   *   or a 416 to the Range request discard the partial and start over without Range (after
   *   the first three and a 501, Range is not asked of this server again in this download);
   * - a 200 replaces the partial with its body.
   */
  async attempt(verify: boolean): Promise<void> {
    const session = this.#session;
    const extra: Record<string, string> = { "accept-encoding": "identity" };
    let from = 0;
    if (this.#received > 0) {
      const validator = this.#etag ?? this.#lastModified;
      if (!this.#rangesOff && (validator !== null || verify)) {
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
      const status = response.status;
      const discard = async (reason: string, rangesOff: boolean): Promise<never> => {
        await response.body?.cancel().catch(() => {});
        if (rangesOff) this.#rangesOff = true;
        await this.#restart();
        throw new RestartRequest(reason);
      };
      if (status === 206) {
        const span = this.#span(response, from);
        if (from > 0 && span === "rest") {
          const changed = this.#validatorProblem(response, verify);
          if (changed !== null) await discard(changed, false);
          // Bytes kept from another URL (a mirror) carry no validator: this server's are kept.
          if (this.#etag === null && this.#lastModified === null) await this.#adopt(response);
        } else if (span === "whole") {
          await this.#takeWhole(response);
        } else if (from > 0) {
          await discard(`${span}; starting over without Range`, true);
        } else {
          await response.body?.cancel().catch(() => {});
          throw new Error(
            `${session.label} failed: unexpected HTTP 206 Partial Content to a request without Range (${span})`,
          );
        }
      } else if ((status === 416 || status === 501) && from > 0) {
        await discard(
          `HTTP ${
            statusLine(response)
          } to Range: bytes=${from}-: the partial download is discarded`,
          status === 501,
        );
      } else if (response.ok) {
        await this.#takeWhole(response);
      } else {
        await response.body?.cancel().catch(() => {});
        throw isRetryableStatus(status)
          ? session.retryableHttpError(response, url)
          : session.httpError(response, url);
      }
      this.#checkContentLength(response);
      await this.#stream(response, idle);
    } finally {
      idle.dispose();
    }
  }

  /** A full body: the partial starts over and keeps this response's validators. */
  async #takeWhole(response: Response): Promise<void> {
    if (this.#received > 0) await this.#restart();
    await this.#adopt(response);
  }

  /** Record a response's validators (a strong ETag, Last-Modified) and this URL in the sidecar. */
  async #adopt(response: Response): Promise<void> {
    const etag = response.headers.get("etag");
    this.#etag = etag !== null && !etag.startsWith("W/") ? etag : null;
    this.#lastModified = response.headers.get("last-modified");
    await this.#writeSidecar();
  }

  /**
   * What a 206 holds: `rest` (exactly bytes `from` to the end of this file), `whole` (the whole
   * file, its Content-Length agreeing), or why it is neither.
   */
  #span(response: Response, from: number): "rest" | "whole" | string {
    const headers = response.headers;
    const type = headers.get("content-type") ?? "";
    if (/^\s*multipart\//i.test(type)) {
      return `a ${showValue(type.split(";")[0].trim())} answer to a single range`;
    }
    const encoding = headers.get("content-encoding");
    if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
      return `a range of an encoded body (Content-Encoding ${showValue(encoding)})`;
    }
    const range = headers.get("content-range");
    const match = range === null ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range.trim());
    const [start, end, total] = match === null ? [NaN, NaN, NaN] : match.slice(1).map(Number);
    if (end === this.#size - 1 && total === this.#size) {
      if (start === from && from > 0) return "rest";
      const length = headers.get("content-length");
      if (start === 0 && (length === null || Number(length.trim()) === this.#size)) {
        return "whole";
      }
    }
    return `Content-Range ${showValue(range)} does not continue at byte ${from} of ${this.#size}`;
  }

  /**
   * Why a 206 that continues the partial is of another file than the partial's bytes, or null:
   * an ETag or a Last-Modified that differs from the one recorded; and, when the checksum is not
   * verified (nothing else would catch a splice), an answer carrying neither recorded validator.
   */
  #validatorProblem(response: Response, verify: boolean): string | null {
    const etag = response.headers.get("etag");
    const lastModified = response.headers.get("last-modified");
    if (this.#etag !== null && etag !== null && etag !== this.#etag) {
      return `ETag changed from ${escapeText(this.#etag)} to ${
        escapeText(etag)
      }: the server ignored If-Range`;
    }
    if (
      this.#lastModified !== null && lastModified !== null && lastModified !== this.#lastModified
    ) {
      return `Last-Modified changed from ${escapeText(this.#lastModified)} to ${
        escapeText(lastModified)
      }: the server ignored If-Range`;
    }
    const confirmed = (this.#etag !== null && etag === this.#etag) ||
      (this.#lastModified !== null && lastModified === this.#lastModified);
    if (!confirmed && !verify) {
      return "the 206 carries neither validator of the partial, and the checksum is not verified";
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
          await writing.catch((error) => {
            throw this.#noSpace(error);
          });
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

  /**
   * Check the digest, set the mode, fsync (when `sync`) the very file descriptor the bytes were
   * hashed as they were written to, rename to `dest`, drop the sidecar. The result names that
   * file's identity (device, inode, size, mtime), so that whoever installs it can check it is
   * given this file, unchanged, without reading it again.
   */
  async finish(verify: boolean, options: FinishOptions): Promise<PartialResult> {
    const actual = this.#hash.digest("hex");
    if (verify && actual !== this.#sha256) {
      throw new ChecksumMismatchError(this.path, this.#sha256, actual);
    }
    const file = this.#openFile();
    if (options.mode !== undefined) await Deno.chmod(this.path, options.mode);
    if (options.sync) {
      await file.sync().catch((error) => {
        throw this.#noSpace(error);
      });
    }
    const identity = fileIdentity(await file.stat());
    this.close();
    await renameDurable(this.path, this.#dest);
    await removeIfExists(this.sidecarPath);
    this.#report(true);
    return { path: this.#dest, sha256: actual, size: this.#received, identity };
  }

  /** A full disk's error names the download and how much of it is kept; others pass. */
  #noSpace(error: unknown): unknown {
    return noSpaceError(
      error,
      `the download of ${showUrl(this.#url)} to ${this.path}`,
      `${this.#received} of ${this.#size} bytes written; they are kept and a later run resumes`,
    );
  }

  /** Close the partial file (it stays on disk). */
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
