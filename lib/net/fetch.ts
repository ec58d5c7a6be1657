/**
 * {@linkcode fetchLimited}: GET a small document (a manifest) with the same URL policy,
 * hand-followed redirects, timeouts and retries as an artifact download, its body capped at
 * `maxBytes` and held in memory.
 *
 * @module
 */
import { isRetryableStatus } from "./_attempt.ts";
import type { IdleWatch } from "./_attempt.ts";
import { HttpSession, type RequestOptions } from "./http.ts";
import { showUrl } from "./url_policy.ts";

export type { RequestOptions };

/**
 * Options of {@linkcode fetchLimited}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FetchLimitedOptions } from "./fetch.ts";
 * const options: FetchLimitedOptions = { maxBytes: 16_384, ifNoneMatch: '"v1"' };
 * assert.equal(options.maxBytes, 16_384);
 * ```
 */
export interface FetchLimitedOptions extends RequestOptions {
  /** Largest accepted body in bytes (default 65 536); more is a RangeError. */
  maxBytes?: number;
  /** Sent as `If-None-Match` (an ETag from an earlier response). */
  ifNoneMatch?: string | null;
  /** Sent as `If-Modified-Since` (a Last-Modified from an earlier response). */
  ifModifiedSince?: string | null;
  /** Answer a 404 with `status: 404, body: null` instead of an error (an optional document). */
  notFound?: boolean;
}

/**
 * What {@linkcode fetchLimited} got.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FetchLimitedResult } from "./fetch.ts";
 * const notModified: FetchLimitedResult = {
 *   status: 304,
 *   body: null,
 *   etag: '"v1"',
 *   lastModified: null,
 *   url: "https://updates.ms11.com/stable/manifest.json",
 * };
 * assert.equal(notModified.body, null);
 * ```
 */
export interface FetchLimitedResult {
  /** The final HTTP status: a 2xx, 304, or 404 when `notFound` is set. */
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
 * retries as `downloadArtifact` (lib/net/download.ts), reading at most `maxBytes`. Sends `If-None-Match` /
 * `If-Modified-Since` when given and returns `body: null` on 304. Any other status outside 2xx
 * is an error (retried when it is 408, 429 or 5xx).
 *
 * @throws {RangeError} the body is longer than `maxBytes` (`… exceeds 65536 bytes`)
 * @throws {Error} an HTTP status that is not retried, retries used up, or a URL refused by the
 * policy
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchLimited } from "./fetch.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response('{"version":"1.2.3"}', { headers: { etag: '"v1"' } }));
 * const result = await fetchLimited(`http://127.0.0.1:${server.addr.port}/manifest.json`, {
 *   requireHttps: false,
 * });
 * assert.equal(result.status, 200);
 * assert.equal(result.etag, '"v1"');
 * assert.equal(new TextDecoder().decode(result.body!), '{"version":"1.2.3"}');
 * const missing = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("no", { status: 404 }));
 * const optional = await fetchLimited(`http://127.0.0.1:${missing.addr.port}/x.sig`, {
 *   requireHttps: false, notFound: true,
 * });
 * assert.deepEqual([optional.status, optional.body], [404, null]);
 * await missing.shutdown();
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
        if (response.status === 304 || (response.status === 404 && options.notFound)) {
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
