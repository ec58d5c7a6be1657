// Private to lib/publish/object_store.ts: one signed S3 request over node:http(s), and the few
// bits of S3's XML it reads.
//
// Requests go through node:http rather than fetch because Deno's fetch sends a streamed body
// with `Transfer-Encoding: chunked` whatever Content-Length says, and S3 refuses chunked
// uploads (Swift takes them, but then skips its x-amz-content-sha256 check). node:http sends the
// file streamed with its exact Content-Length. Signing is aws4fetch's AwsV4Signer; the payload
// hash is always given (never UNSIGNED-PAYLOAD), so the store checks the bytes it received.
import { AwsV4Signer } from "aws4fetch";
import { Buffer } from "node:buffer";
import { createReadStream } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AwsCredentials } from "./aws_config.ts";

/**
 * SHA-256 of no bytes, the payload hash of GET and HEAD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { EMPTY_SHA256 } from "./_s3_http.ts";
 * assert.equal(createHash("sha256").update(new Uint8Array(0)).digest("hex"), EMPTY_SHA256);
 * ```
 */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Most bytes of an error answer kept (its XML names the code). */
const MAX_ERROR_BODY_BYTES = 65536;

/**
 * A successful answer was longer than allowed: retrying would not help.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BodyTooLongError } from "./_s3_http.ts";
 * const error = new BodyTooLongError("the answer is longer than 8 bytes");
 * assert.ok(error instanceof Error);
 * assert.equal(error.name, "BodyTooLongError");
 * ```
 */
export class BodyTooLongError extends Error {
  override name = "BodyTooLongError";
}

/**
 * A request body: bytes in memory, or a file streamed from disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Body } from "./_s3_http.ts";
 * const bodies: Body[] = [new TextEncoder().encode("{}"), { path: "/srv/ms11-1.0.0.tar.gz", size: 1048576 }];
 * assert.deepEqual(bodies.map((b) => b instanceof Uint8Array ? b.length : b.size), [2, 1048576]);
 * ```
 */
export type Body = Uint8Array | { path: string; size: number };

/**
 * One request to send.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SHA256, type SendRequest } from "./_s3_http.ts";
 * const request: SendRequest = {
 *   method: "HEAD",
 *   url: new URL("http://127.0.0.1:8080/releases/stable/manifest.json"),
 *   headers: {},
 *   body: null,
 *   payloadSha256: EMPTY_SHA256,
 * };
 * assert.equal(request.body, null);
 * ```
 */
export interface SendRequest {
  method: "GET" | "HEAD" | "PUT";
  url: URL;
  /** Headers to sign and send (lowercase names). */
  headers: Record<string, string>;
  /** The body, or null. */
  body: Body | null;
  /** Lowercase hex SHA-256 of the body (signed as x-amz-content-sha256). */
  payloadSha256: string;
}

/**
 * How to send it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SendOptions } from "./_s3_http.ts";
 * const options: SendOptions = {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   idleTimeoutMs: 60_000,
 *   maxBodyBytes: 1 << 20,
 * };
 * assert.equal(options.onBody, undefined); // the body is kept in the response
 * ```
 */
export interface SendOptions {
  credentials: AwsCredentials;
  region: string;
  /** No byte for this long (connecting, sending or receiving) aborts the attempt, in ms. */
  idleTimeoutMs: number;
  /** Most response body bytes kept; a longer body fails the attempt. */
  maxBodyBytes: number;
  /** Receives the body instead of it being kept (for hashing a large object). */
  onBody?: (chunk: Uint8Array) => void;
  signal?: AbortSignal;
}

/**
 * What came back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SendResponse } from "./_s3_http.ts";
 * const response: SendResponse = { status: 404, headers: { "content-type": "application/xml" }, body: new Uint8Array() };
 * assert.equal(response.headers["content-type"], "application/xml");
 * ```
 */
export interface SendResponse {
  status: number;
  /** Response headers, lowercase names; repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** The body (empty when `onBody` took it, or for HEAD). */
  body: Uint8Array;
}

/**
 * Sign `request` and send it once; rejects on network errors and timeouts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SHA256, sendSigned } from "./_s3_http.ts";
 * // A stand-in store that answers with the signature it was sent.
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) =>
 *   new Response(request.headers.get("authorization"), {
 *     headers: { "x-seen-sha256": request.headers.get("x-amz-content-sha256") ?? "" },
 *   }));
 * const response = await sendSigned({
 *   method: "GET",
 *   url: new URL(`http://127.0.0.1:${server.addr.port}/releases/stable/manifest.json`),
 *   headers: {},
 *   body: null,
 *   payloadSha256: EMPTY_SHA256,
 * }, {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "eu-west-1",
 *   idleTimeoutMs: 10_000,
 *   maxBodyBytes: 4096,
 * });
 * assert.equal(response.status, 200);
 * assert.equal(response.headers["x-seen-sha256"], EMPTY_SHA256);
 * assert.match(new TextDecoder().decode(response.body), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request/);
 * ```
 */
export async function sendSigned(
  request: SendRequest,
  options: SendOptions,
): Promise<SendResponse> {
  const signer = new AwsV4Signer({
    method: request.method,
    url: request.url.href,
    headers: { ...request.headers, "x-amz-content-sha256": request.payloadSha256 },
    accessKeyId: options.credentials.accessKeyId,
    secretAccessKey: options.credentials.secretAccessKey,
    sessionToken: options.credentials.sessionToken ?? undefined,
    service: "s3",
    region: options.region,
  });
  const signed = await signer.sign();
  const headers: Record<string, string> = {};
  signed.headers.forEach((value, name) => headers[name] = value);
  const size = request.body === null
    ? 0
    : request.body instanceof Uint8Array
    ? request.body.length
    : request.body.size;
  if (request.method === "PUT") headers["content-length"] = String(size);
  const transport = request.url.protocol === "https:" ? https : http;
  return await new Promise<SendResponse>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(error);
    };
    const req = transport.request(request.url, {
      method: request.method,
      headers,
      agent: false,
      signal: options.signal,
    }, (res) => {
      const chunks: Uint8Array[] = [];
      let kept = 0;
      res.on("data", (chunk: Buffer) => {
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        const ok = res.statusCode !== undefined && res.statusCode < 300;
        if (options.onBody !== undefined && ok) {
          try {
            options.onBody(bytes);
          } catch (error) {
            fail(error as Error);
          }
          return;
        }
        // An error's body is only read for its code: a long one is cut, not refused.
        const limit = ok ? options.maxBodyBytes : MAX_ERROR_BODY_BYTES;
        if (kept + bytes.length > limit) {
          if (ok) fail(new BodyTooLongError(`the answer is longer than ${limit} bytes`));
          return;
        }
        kept += bytes.length;
        chunks.push(bytes.slice());
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
        }
        resolve({ status: res.statusCode ?? 0, headers: out, body: concat(chunks, kept) });
      });
      res.on("error", (error) => fail(error));
    });
    req.setTimeout(options.idleTimeoutMs, () => {
      fail(new Error(`no answer within ${options.idleTimeoutMs} ms`));
    });
    req.on("error", (error) => fail(error));
    if (request.body === null) req.end();
    else if (request.body instanceof Uint8Array) req.end(Buffer.from(request.body));
    else {
      const file = createReadStream(request.body.path);
      file.on("error", (error) => fail(error));
      file.pipe(req);
    }
  });
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * A key as a URL path: each `/`-separated segment percent-encoded (RFC 3986, so that the path
 * sent is exactly the one signed; `+` becomes `%2B`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeKey } from "./_s3_http.ts";
 * assert.equal(encodeKey("stable/1.0.0+build.7/ms11 (x64)!"), "stable/1.0.0%2Bbuild.7/ms11%20%28x64%29%21");
 * assert.equal(encodeKey("stable/manifest.json"), "stable/manifest.json");
 * ```
 */
export function encodeKey(key: string): string {
  return key.split("/").map((segment) =>
    encodeURIComponent(segment).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

/**
 * The text of the first `<tag>` in `xml`, entities decoded; null when absent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xmlText } from "./_s3_http.ts";
 * const xml = "<Error><Code>AccessDenied</Code><Message>Keys &amp; bucket &#x2260; owner</Message></Error>";
 * assert.equal(xmlText(xml, "Code"), "AccessDenied");
 * assert.equal(xmlText(xml, "Message"), "Keys & bucket \u2260 owner");
 * assert.equal(xmlText(xml, "RequestId"), null);
 * ```
 */
export function xmlText(xml: string, tag: string): string | null {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match === null ? null : decodeXml(match[1]);
}

/**
 * The inner XML of every `<tag>…</tag>` in `xml`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xmlBlocks } from "./_s3_http.ts";
 * const xml = "<ListBucketResult><Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents></ListBucketResult>";
 * assert.deepEqual(xmlBlocks(xml, "Contents"), ["<Key>a</Key>", "<Key>b</Key>"]);
 * assert.deepEqual(xmlBlocks(xml, "CommonPrefixes"), []);
 * ```
 */
export function xmlBlocks(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]);
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity[0] === "#") {
      const code = entity[1] === "x" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1));
      return String.fromCodePoint(code);
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity]!;
  });
}

/**
 * Wait `ms`; rejects with the signal's reason when it aborts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./_s3_http.ts";
 * await sleep(1);
 * const controller = new AbortController();
 * const waiting = sleep(60_000, controller.signal);
 * controller.abort(new Error("Publishing was cancelled"));
 * await assert.rejects(waiting, { message: "Publishing was cancelled" });
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
}
