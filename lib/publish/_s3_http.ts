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

/** SHA-256 of no bytes, the payload hash of GET and HEAD. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Most bytes of an error answer kept (its XML names the code). */
const MAX_ERROR_BODY_BYTES = 65536;

/** A successful answer was longer than allowed: retrying would not help. */
export class BodyTooLongError extends Error {
  override name = "BodyTooLongError";
}

/** A request body: bytes in memory, or a file streamed from disk. */
export type Body = Uint8Array | { path: string; size: number };

/** One request to send. */
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

/** How to send it. */
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

/** What came back. */
export interface SendResponse {
  status: number;
  /** Response headers, lowercase names; repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** The body (empty when `onBody` took it, or for HEAD). */
  body: Uint8Array;
}

/** Sign `request` and send it once; rejects on network errors and timeouts. */
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
 */
export function encodeKey(key: string): string {
  return key.split("/").map((segment) =>
    encodeURIComponent(segment).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

/** The text of the first `<tag>` in `xml`, entities decoded; null when absent. */
export function xmlText(xml: string, tag: string): string | null {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match === null ? null : decodeXml(match[1]);
}

/** The inner XML of every `<tag>…</tag>` in `xml`. */
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

/** Wait `ms`; rejects with the signal's reason when it aborts. */
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
