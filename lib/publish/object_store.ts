/**
 * A small S3 client for publishing: list, HEAD, GET (kept or hashed) and PUT (streamed from a
 * file with its exact Content-Length), signed with AWS Signature Version 4, against AWS S3 or any
 * S3-compatible store (Swift's s3api, MinIO, R2, Ceph…), path-style or virtual-hosted.
 *
 * Why aws4fetch and not `@aws-sdk/client-s3`: publishing needs four operations, and aws4fetch is
 * one dependency-free file that only signs, leaving headers, streaming and retries here. The
 * SDK is hundreds of modules, and against Swift needs `requestChecksumCalculation:
 * "WHEN_REQUIRED"` (else it streams aws-chunked bodies that Swift refuses with 501) and Content-MD5
 * middleware for DeleteObjects, which publishing never uses (it never deletes).
 *
 * Every request is retried on network errors, timeouts, HTTP 429 and 5xx (Swift's and S3's 503
 * SlowDown included) and S3's `RequestTimeout`, with full-jitter exponential backoff: all of
 * them are safe to repeat here, since a PUT always carries the complete object (the same bytes
 * to the same key). Other failures throw {@linkcode ObjectStoreError} at once, with the store's
 * own error code in a one-line message.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { AwsCredentials } from "./aws_config.ts";
import {
  type Body,
  BodyTooLongError,
  EMPTY_SHA256,
  encodeKey,
  type SendResponse,
  sendSigned,
  sleep,
  xmlBlocks,
  xmlText,
} from "./_s3_http.ts";

/**
 * Default attempts per request (1 = no retry).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_STORE_ATTEMPTS } from "./object_store.ts";
 * assert.equal(DEFAULT_STORE_ATTEMPTS, 5);
 * ```
 */
export const DEFAULT_STORE_ATTEMPTS = 5;
/**
 * Default first backoff step in ms (full jitter: a wait up to base·2^(attempt-1), capped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_STORE_ATTEMPTS, DEFAULT_STORE_BACKOFF_MS } from "./object_store.ts";
 * // The longest waits before the retries of one request (each capped at 8 s).
 * const waits = Array.from({ length: DEFAULT_STORE_ATTEMPTS - 1 }, (_, i) => Math.min(8000, DEFAULT_STORE_BACKOFF_MS * 2 ** i));
 * assert.deepEqual(waits, [250, 500, 1000, 2000]);
 * ```
 */
export const DEFAULT_STORE_BACKOFF_MS = 250;
/**
 * Default idle timeout of one attempt, in ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_STORE_IDLE_TIMEOUT_MS } from "./object_store.ts";
 * assert.equal(DEFAULT_STORE_IDLE_TIMEOUT_MS, 60_000);
 * ```
 */
export const DEFAULT_STORE_IDLE_TIMEOUT_MS = 60_000;

const RETRY_CODES = new Set(["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"]);
const MAX_XML_BYTES = 8 << 20;

/**
 * A store request failed: the status and the store's own error code (`NoSuchBucket`,
 * `AccessDenied`, `SignatureDoesNotMatch`, `SlowDown`…) when it sent one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ObjectStoreError } from "./object_store.ts";
 * const error = new ObjectStoreError("PUT s3://b/k failed: HTTP 403 AccessDenied", 403, "AccessDenied");
 * assert.equal(error.code, "AccessDenied");
 * ```
 */
export class ObjectStoreError extends Error {
  override name = "ObjectStoreError";
  /** The HTTP status, or null for a network failure. */
  readonly status: number | null;
  /** The store's error code, or null when it gave none. */
  readonly code: string | null;
  /** @param message one line @param status HTTP status or null @param code error code or null */
  constructor(message: string, status: number | null, code: string | null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * One object of a listing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ListedObject, ObjectStore } from "./object_store.ts";
 * // A stand-in store with one object under the prefix.
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response(
 *     "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>ms11/stable/manifest.json</Key>" +
 *       "<Size>512</Size><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag></Contents></ListBucketResult>",
 *     { headers: { "content-type": "application/xml" } },
 *   ));
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: `http://127.0.0.1:${server.addr.port}`,
 * });
 * const listed: ListedObject[] = await store.list("ms11/");
 * assert.deepEqual(listed, [{ key: "ms11/stable/manifest.json", size: 512, etag: "0123456789abcdef0123456789abcdef" }]);
 * ```
 */
export interface ListedObject {
  /** Its key. */
  key: string;
  /** Its size in bytes. */
  size: number;
  /** Its ETag without quotes (the MD5 in hex for a plain PUT). */
  etag: string;
}

/**
 * What a HEAD or GET says about an object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ObjectInfo, ObjectStore } from "./object_store.ts";
 * // A stand-in store that has every object, written 30 seconds before its clock says now.
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response(null, {
 *     headers: {
 *       "content-length": "512",
 *       etag: '"0123456789abcdef0123456789abcdef"',
 *       "cache-control": "public, max-age=60",
 *       "content-type": "application/json",
 *       "x-amz-meta-sha256": "0".repeat(64),
 *       "last-modified": "Fri, 20 Nov 2026 10:00:00 GMT",
 *       date: "Fri, 20 Nov 2026 10:00:30 GMT",
 *     },
 *   }));
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: `http://127.0.0.1:${server.addr.port}`,
 * });
 * const info: ObjectInfo | null = await store.head("ms11/stable/manifest.json");
 * assert.equal(info?.size, 512);
 * assert.equal(info?.etag, "0123456789abcdef0123456789abcdef");
 * assert.equal(info?.cacheControl, "public, max-age=60");
 * assert.deepEqual(info?.metadata, { sha256: "0".repeat(64) });
 * assert.equal(info?.lastModified?.toISOString(), "2026-11-20T10:00:00.000Z");
 * assert.equal(info?.ageSeconds, 30);
 * ```
 */
export interface ObjectInfo {
  /** Size in bytes. */
  size: number;
  /** ETag without quotes. */
  etag: string;
  /** `Cache-Control`, or null. */
  cacheControl: string | null;
  /** `Content-Type`, or null. */
  contentType: string | null;
  /** User metadata (`x-amz-meta-NAME`), by lowercase NAME. */
  metadata: Record<string, string>;
  /** When it was written (`Last-Modified`, whole seconds), or null. */
  lastModified: Date | null;
  /**
   * Seconds since it was written, by the store's own clock (`Date` − `Last-Modified`, both whole
   * seconds), or null. Up to 1 below the truth, and so possibly -1 just after a write: Swift
   * rounds `Last-Modified` up.
   */
  ageSeconds: number | null;
}

/**
 * Options of {@linkcode ObjectStore.put}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { ObjectStore, type PutOptions } from "./object_store.ts";
 * // A stand-in store that answers with the headers each request carried.
 * const seen: Headers[] = [];
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
 *   await request.arrayBuffer();
 *   seen.push(request.headers);
 *   return new Response(null);
 * });
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: `http://127.0.0.1:${server.addr.port}`,
 * });
 * const body = new TextEncoder().encode("{}\n");
 * const options: PutOptions = {
 *   sha256: createHash("sha256").update(body).digest("hex"),
 *   md5: createHash("md5").update(body).digest("base64"),
 *   cacheControl: "public, max-age=60",
 *   contentType: "application/json",
 *   metadata: { sha256: createHash("sha256").update(body).digest("hex") },
 * };
 * await store.put("ms11/stable/manifest.json", body, options);
 * assert.equal(seen[0].get("content-md5"), options.md5);
 * assert.equal(seen[0].get("x-amz-content-sha256"), options.sha256);
 * assert.equal(seen[0].get("x-amz-meta-sha256"), options.sha256);
 * assert.equal(seen[0].get("content-length"), "3");
 * ```
 */
export interface PutOptions {
  /** Lowercase hex SHA-256 of the body: signed, so the store refuses other bytes. */
  sha256: string;
  /** Base64 MD5 of the body (`Content-MD5`): the store refuses other bytes and its ETag is it. */
  md5: string;
  /** `Cache-Control` the store serves the object with. */
  cacheControl: string;
  /** `Content-Type`. */
  contentType: string;
  /** User metadata (`x-amz-meta-NAME`). */
  metadata?: Record<string, string>;
}

/**
 * Options of {@linkcode ObjectStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ObjectStore, type ObjectStoreOptions } from "./object_store.ts";
 * const options: ObjectStoreOptions = {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "eu-west-1",
 *   endpoint: null, // AWS S3 itself: virtual-hosted
 *   maxAttempts: 3,
 * };
 * const store = new ObjectStore("releases", options);
 * assert.equal(store.urlOf("ms11/stable/manifest.json").href, "https://releases.s3.eu-west-1.amazonaws.com/ms11/stable/manifest.json");
 * assert.equal(new ObjectStore("releases", { ...options, pathStyle: true }).urlOf("a+b").href, "https://s3.eu-west-1.amazonaws.com/releases/a%2Bb");
 * ```
 */
export interface ObjectStoreOptions {
  /** The keys. */
  credentials: AwsCredentials;
  /** The signing region. */
  region: string;
  /** The endpoint, or null for AWS S3 (`https://s3.<region>.amazonaws.com`). */
  endpoint: string | null;
  /** Address the bucket in the path (default: with an endpoint, or a bucket with dots). */
  pathStyle?: boolean;
  /** Attempts per request (default {@linkcode DEFAULT_STORE_ATTEMPTS}). */
  maxAttempts?: number;
  /** First backoff step in ms (default {@linkcode DEFAULT_STORE_BACKOFF_MS}). */
  backoffBaseMs?: number;
  /** Idle timeout of one attempt in ms (default {@linkcode DEFAULT_STORE_IDLE_TIMEOUT_MS}). */
  idleTimeoutMs?: number;
  /** Aborts every request. */
  signal?: AbortSignal;
}

/**
 * One bucket of an S3-compatible store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ObjectStore } from "./object_store.ts";
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "test:tester", secretAccessKey: "testing", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: "http://127.0.0.1:8080",
 * });
 * // Path-style with an endpoint; `await store.list("ms11/")` would list the prefix.
 * assert.equal(store.urlOf("ms11/stable/manifest.json").href, "http://127.0.0.1:8080/releases/ms11/stable/manifest.json");
 * assert.equal(store.describe("ms11/"), "s3://releases/ms11/");
 * ```
 */
export class ObjectStore {
  /** The bucket. */
  readonly bucket: string;
  #options: ObjectStoreOptions;
  #base: string;
  #requests = 0;

  /** @param bucket the bucket @param options credentials, region, endpoint, retries */
  constructor(bucket: string, options: ObjectStoreOptions) {
    this.bucket = bucket;
    this.#options = options;
    const pathStyle = options.pathStyle ?? (options.endpoint !== null || bucket.includes("."));
    const endpoint = options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
    if (pathStyle) this.#base = `${endpoint}/${encodeKey(bucket)}/`;
    else {
      const url = new URL(endpoint);
      url.hostname = `${bucket}.${url.hostname}`;
      this.#base = url.href.replace(/\/*$/, "/");
    }
  }

  /** Requests sent so far (retries included). */
  get requests(): number {
    return this.#requests;
  }

  /** `s3://bucket/key`, for messages. */
  describe(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** Every object under `prefix` (ListObjectsV2, following continuation tokens). */
  async list(prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | null = null;
    do {
      const url = new URL(this.#base);
      url.searchParams.set("list-type", "2");
      url.searchParams.set("prefix", prefix);
      if (token !== null) url.searchParams.set("continuation-token", token);
      const response = await this.#send("GET", url, {
        what: `list ${this.describe(prefix)}`,
      });
      const xml = new TextDecoder().decode(response.body);
      for (const block of xmlBlocks(xml, "Contents")) {
        objects.push({
          key: xmlText(block, "Key") ?? "",
          size: Number(xmlText(block, "Size") ?? "NaN"),
          etag: unquote(xmlText(block, "ETag") ?? ""),
        });
      }
      token = xmlText(xml, "IsTruncated") === "true" ? xmlText(xml, "NextContinuationToken") : null;
    } while (token !== null);
    return objects;
  }

  /** An object's size, ETag and headers, or null when it does not exist. */
  async head(key: string): Promise<ObjectInfo | null> {
    const response = await this.#send("HEAD", this.urlOf(key), {
      what: `HEAD ${this.describe(key)}`,
      missingOk: true,
    });
    return response.status === 404 ? null : infoOf(response);
  }

  /** An object's bytes (at most `maxBytes`) and headers, or null when it does not exist. */
  async get(
    key: string,
    options: { maxBytes: number },
  ): Promise<{ bytes: Uint8Array; info: ObjectInfo } | null> {
    const response = await this.#send("GET", this.urlOf(key), {
      what: `GET ${this.describe(key)}`,
      missingOk: true,
      maxBodyBytes: options.maxBytes,
    });
    return response.status === 404 ? null : { bytes: response.body, info: infoOf(response) };
  }

  /** The SHA-256 and size of an object's bytes as served (streamed), or null when missing. */
  async hash(key: string): Promise<{ sha256: string; size: number } | null> {
    let hash = createHash("sha256");
    let size = 0;
    const response = await this.#send("GET", this.urlOf(key), {
      what: `GET ${this.describe(key)}`,
      missingOk: true,
      onAttempt: () => {
        hash = createHash("sha256");
        size = 0;
      },
      onBody: (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      },
    });
    return response.status === 404 ? null : { sha256: hash.digest("hex"), size };
  }

  /** Write an object whole (replacing any object under `key`). */
  async put(key: string, body: Body, options: PutOptions): Promise<void> {
    const headers: Record<string, string> = {
      "cache-control": options.cacheControl,
      "content-type": options.contentType,
      "content-md5": options.md5,
    };
    for (const [name, value] of Object.entries(options.metadata ?? {})) {
      headers[`x-amz-meta-${name}`] = value;
    }
    await this.#send("PUT", this.urlOf(key), {
      what: `PUT ${this.describe(key)}`,
      headers,
      body,
      payloadSha256: options.sha256,
    });
  }

  /** The URL requests for `key` go to. */
  urlOf(key: string): URL {
    return new URL(encodeKey(key), this.#base);
  }

  async #send(
    method: "GET" | "HEAD" | "PUT",
    url: URL,
    options: {
      /** The request, for messages: `PUT s3://bucket/key`. */
      what: string;
      headers?: Record<string, string>;
      body?: Body;
      payloadSha256?: string;
      missingOk?: boolean;
      maxBodyBytes?: number;
      onBody?: (chunk: Uint8Array) => void;
      onAttempt?: () => void;
    },
  ): Promise<SendResponse> {
    const { what } = options;
    const attempts = Math.max(1, this.#options.maxAttempts ?? DEFAULT_STORE_ATTEMPTS);
    const base = this.#options.backoffBaseMs ?? DEFAULT_STORE_BACKOFF_MS;
    let last: ObjectStoreError | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.#options.signal?.throwIfAborted();
      if (attempt > 1) {
        await sleep(
          Math.random() * Math.min(8000, base * 2 ** (attempt - 2)),
          this.#options.signal,
        );
      }
      options.onAttempt?.();
      this.#requests++;
      let response: SendResponse;
      try {
        response = await sendSigned({
          method,
          url,
          headers: options.headers ?? {},
          body: options.body ?? null,
          payloadSha256: options.payloadSha256 ?? EMPTY_SHA256,
        }, {
          credentials: this.#options.credentials,
          region: this.#options.region,
          idleTimeoutMs: this.#options.idleTimeoutMs ?? DEFAULT_STORE_IDLE_TIMEOUT_MS,
          maxBodyBytes: options.maxBodyBytes ?? MAX_XML_BYTES,
          onBody: options.onBody,
          signal: this.#options.signal,
        });
      } catch (error) {
        this.#options.signal?.throwIfAborted();
        const reason = (error as Error).message || String(error);
        if ((error as { code?: string }).code === "ENOENT") throw error; // the file to upload
        last = new ObjectStoreError(`Store request ${what} failed: ${reason}`, null, null);
        if (error instanceof BodyTooLongError) throw last;
        continue;
      }
      if (response.status >= 200 && response.status < 300) return response;
      if (response.status === 404 && options.missingOk) {
        const code = errorCode(response);
        // A missing bucket is an error, not a missing object.
        if (code === null || code === "NoSuchKey") return response;
      }
      last = storeError(what, response);
      const retryable = response.status === 429 || response.status >= 500 ||
        RETRY_CODES.has(last.code ?? "");
      if (!retryable) throw last;
    }
    throw new ObjectStoreError(
      `${last!.message} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`,
      last!.status,
      last!.code,
    );
  }
}

function infoOf(response: SendResponse): ObjectInfo {
  const h = response.headers;
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith("x-amz-meta-")) metadata[name.slice("x-amz-meta-".length)] = value;
  }
  const date = Date.parse(h["date"] ?? "");
  const modified = Date.parse(h["last-modified"] ?? "");
  const range = /\/(\d+)$/.exec(h["content-range"] ?? "");
  return {
    size: Number(range?.[1] ?? h["content-length"] ?? response.body.length),
    etag: unquote(h["etag"] ?? ""),
    cacheControl: h["cache-control"] ?? null,
    contentType: h["content-type"] ?? null,
    metadata,
    lastModified: Number.isNaN(modified) ? null : new Date(modified),
    ageSeconds: Number.isNaN(date) || Number.isNaN(modified) ? null : (date - modified) / 1000,
  };
}

function errorCode(response: SendResponse): string | null {
  if (response.body.length === 0) return null;
  return xmlText(new TextDecoder().decode(response.body), "Code");
}

/** The one-line error of a failed answer: status, the store's code and its message. */
function storeError(what: string, response: SendResponse): ObjectStoreError {
  const xml = new TextDecoder().decode(response.body);
  const code = errorCode(response);
  const message = (xmlText(xml, "Message") ?? "").replace(/\s+/g, " ").trim().replace(/\.$/, "");
  const detail = code === null
    ? `HTTP ${response.status}${
      response.body.length === 0 ? " (the answer names no error code)" : ""
    }`
    : `HTTP ${response.status} ${code}${message === "" ? "" : `: ${message}`}`;
  return new ObjectStoreError(`Store request ${what} failed: ${detail}`, response.status, code);
}

function unquote(etag: string): string {
  return etag.replace(/^(W\/)?"(.*)"$/, "$2");
}
