/**
 * The request machinery shared by `downloadArtifact` (lib/net/download.ts) and `fetchLimited`
 * (lib/net/fetch.ts): one {@linkcode HttpSession} per logical request runs its attempts, follows
 * redirects by hand with the URL policy (lib/net/url_policy.ts) checked at every hop, keeps the
 * total and idle timeouts, honours Retry-After and backs off with full jitter between attempts.
 *
 * @module
 */
import type { Env } from "../core/env.ts";
import { realEnv } from "../core/env.ts";
import { showValue } from "../core/validate.ts";
import {
  defaultSleep,
  describeError,
  IdleWatch,
  parseRetryAfter,
  positive,
  RestartRequest,
  RetryableError,
  statusLine,
} from "./_attempt.ts";
import { accessError, type RequestAuth } from "./credentials.ts";
import {
  checkAllowedDomains,
  parseRequestUrl,
  policyViolation,
  showUrl,
  type UrlPolicy,
} from "./url_policy.ts";

/**
 * Redirect hops followed at most (the sixth is refused).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_REDIRECTS } from "./http.ts";
 * assert.equal(MAX_REDIRECTS, 5);
 * ```
 */
export const MAX_REDIRECTS = 5;

/**
 * Default idle timeout: no byte (or no response) for this long aborts the attempt.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_IDLE_TIMEOUT_MS } from "./http.ts";
 * assert.equal(DEFAULT_IDLE_TIMEOUT_MS, 30_000);
 * ```
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * Default number of attempts per request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_ATTEMPTS } from "./http.ts";
 * assert.equal(DEFAULT_MAX_ATTEMPTS, 3);
 * ```
 */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * Default cap on a server's Retry-After.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_RETRY_AFTER_MS } from "./http.ts";
 * assert.equal(DEFAULT_MAX_RETRY_AFTER_MS, 60_000);
 * ```
 */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/**
 * Default first backoff step (full jitter: a random wait up to base·2^(attempt-1)).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_BACKOFF_BASE_MS } from "./http.ts";
 * // The third attempt waits a random time below 500 · 2² = 2000 ms.
 * assert.equal(DEFAULT_BACKOFF_BASE_MS * 2 ** 2, 2000);
 * ```
 */
export const DEFAULT_BACKOFF_BASE_MS = 500;

/**
 * Default cap of one backoff wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_BACKOFF_CAP_MS } from "./http.ts";
 * assert.equal(DEFAULT_BACKOFF_CAP_MS, 30_000);
 * ```
 */
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

/** Headers that carry credentials: dropped once a redirect leaves the first URL's origin. */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Options common to every request (see `DownloadOptions` and `FetchLimitedOptions`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RequestOptions } from "./http.ts";
 * const options: RequestOptions = {
 *   timeoutMs: 300_000,
 *   maxAttempts: 5,
 *   allowedDomains: ["updates.ms11.com"],
 * };
 * assert.equal(options.requireHttps ?? true, true);
 * ```
 */
export interface RequestOptions {
  /** Clock and `fetch`; every request goes through `env.fetch` (default: the real ones). */
  env?: Env;
  /** Total time for the whole operation including retries and waits, in ms (default: none). */
  timeoutMs?: number;
  /**
   * Longest wait for the response headers or for the next body bytes before the attempt is
   * aborted and retried, in ms (default 30 000; `Infinity` disables it).
   */
  idleTimeoutMs?: number;
  /** Attempts in all, 1 = no retry (default 3). Only network failures, 408, 429 and 5xx retry. */
  maxAttempts?: number;
  /**
   * Only `https:` URLs, for the first URL and every redirect hop (default true). When false,
   * plain `http:` is allowed to loopback hosts only (`127.0.0.0/8`, `[::1]`, `localhost` and
   * names under `.localhost`: `isLoopbackHost` in lib/core/validate.ts): a local mirror or test
   * server, never a host across the network.
   */
  requireHttps?: boolean;
  /**
   * Hosts that may serve the request, at every redirect hop. A host is allowed when it equals an
   * entry or is a subdomain of one (`cdn.ms11.com` matches `ms11.com`; `evilms11.com` does not);
   * IP addresses match exactly (`hostAllowed` in lib/core/validate.ts, the rule the
   * configuration's `security.allowed_domains` uses too). Empty or absent: any host.
   */
  allowedDomains?: readonly string[];
  /** Aborts the operation; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Extra request headers. Authorization, Cookie and Proxy-Authorization are dropped when a
   * redirect leaves the first URL's origin. */
  headers?: HeadersInit;
  /**
   * The channel the request is for and its credentials (lib/net/credentials.ts): sent as
   * `Authorization` when the first URL's origin is one of theirs, dropped once a redirect leaves
   * that origin; a 401 or 403 is an `AccessDeniedError` naming the channel.
   */
  auth?: RequestAuth;
  /** Waits between attempts (default: a timer that the signal cancels); tests inject their own. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Random number in [0, 1) for the backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Longest honoured Retry-After, in ms (default 60 000): a longer one is cut to this. */
  maxRetryAfterMs?: number;
  /** First backoff step in ms (default 500). */
  backoffBaseMs?: number;
  /** Longest backoff wait in ms (default 30 000). */
  backoffCapMs?: number;
}

/**
 * One logical request (a download or a manifest fetch) across its attempts: the policy, the
 * total deadline, the retry loop and the hand-followed redirects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpSession } from "./http.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) =>
 *   new URL(request.url).pathname === "/old"
 *     ? new Response(null, { status: 302, headers: { location: "/new" } })
 *     : new Response("moved here"));
 * const session = new HttpSession("Fetch", `http://127.0.0.1:${server.addr.port}/old`, {
 *   requireHttps: false,
 * });
 * const text = await session.run(async () => {
 *   const idle = session.idleWatch();
 *   try {
 *     const { response, url } = await session.get({}, idle);
 *     assert.equal(url.pathname, "/new");
 *     return await response.text();
 *   } finally {
 *     idle.dispose();
 *   }
 * });
 * assert.equal(text, "moved here");
 * session.close();
 * await server.shutdown();
 * ```
 */
export class HttpSession {
  #label: string;
  #url: URL;
  #env: Env;
  #requireHttps: boolean;
  #allowedDomains: readonly string[];
  #headers: HeadersInit | undefined;
  #auth: RequestAuth | null;
  /** How the last request went: whether it carried the credentials, whether it left the origin. */
  #last = { sent: false, left: false };
  #timeoutMs: number | null;
  #idleTimeoutMs: number;
  #maxAttempts: number;
  #maxRetryAfterMs: number;
  #backoffBaseMs: number;
  #backoffCapMs: number;
  #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #random: () => number;
  #userSignal: AbortSignal | undefined;
  #totalController = new AbortController();
  #totalTimer: ReturnType<typeof setTimeout> | undefined;
  #start: number;
  /** Aborted by the caller's signal or by the total timeout. */
  readonly signal: AbortSignal;

  /**
   * @param what "Download" or "Fetch", used in messages ("Download of <url> failed: …")
   * @param url the first URL, checked against the policy here
   * @param options the caller's options
   */
  constructor(what: string, url: string, options: RequestOptions) {
    this.#requireHttps = options.requireHttps ?? true;
    this.#allowedDomains = options.allowedDomains ?? [];
    checkAllowedDomains(this.#allowedDomains);
    this.#url = parseRequestUrl(url, this.#policy());
    this.#label = `${what} of ${showUrl(url)}`;
    this.#env = options.env ?? realEnv();
    this.#headers = options.headers;
    this.#auth = options.auth ?? null;
    this.#timeoutMs = options.timeoutMs === undefined
      ? null
      : positive("timeoutMs", options.timeoutMs, 0);
    this.#idleTimeoutMs = positive("idleTimeoutMs", options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`Option maxAttempts must be an integer >= 1, got ${maxAttempts}`);
    }
    this.#maxAttempts = maxAttempts;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    if (!(this.#maxRetryAfterMs >= 0)) {
      throw new RangeError(`Option maxRetryAfterMs must be >= 0, got ${this.#maxRetryAfterMs}`);
    }
    this.#backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.#backoffCapMs = options.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#userSignal = options.signal;
    this.#start = this.#env.now().getTime();
    this.signal = this.#userSignal === undefined
      ? this.#totalController.signal
      : AbortSignal.any([this.#userSignal, this.#totalController.signal]);
    if (this.#timeoutMs !== null && Number.isFinite(this.#timeoutMs)) {
      this.#totalTimer = setTimeout(
        () => this.#totalController.abort(this.#totalTimeoutError()),
        this.#timeoutMs,
      );
    }
  }

  #policy(): UrlPolicy {
    return { requireHttps: this.#requireHttps, allowedDomains: this.#allowedDomains };
  }

  /** "Download of <url>". */
  get label(): string {
    return this.#label;
  }

  /** The first URL. */
  get url(): URL {
    return this.#url;
  }

  /** The clock and fetch in use. */
  get env(): Env {
    return this.#env;
  }

  /** Stop the total timer. */
  close(): void {
    clearTimeout(this.#totalTimer);
  }

  /** Milliseconds left of the total timeout (by `env.now`), Infinity without one. */
  remainingMs(): number {
    if (this.#timeoutMs === null) return Infinity;
    return this.#timeoutMs - (this.#env.now().getTime() - this.#start);
  }

  /** A new idle watch for one attempt. */
  idleWatch(): IdleWatch {
    return new IdleWatch(this.#idleTimeoutMs, this.signal);
  }

  #totalTimeoutError(): Error {
    return new Deno.errors.TimedOut(
      `${this.#label} timed out: total timeout of ${this.#timeoutMs} ms (timeoutMs) exceeded`,
    );
  }

  /** Throw when the caller aborted or the total time is used up. */
  checkAlive(): void {
    this.#userSignal?.throwIfAborted();
    if (this.#totalController.signal.aborted || this.remainingMs() <= 0) {
      throw this.#totalTimeoutError();
    }
  }

  /** Turn a rejection of fetch or of a body read into the error to handle. */
  classify(error: unknown, idle: IdleWatch): unknown {
    if (this.#userSignal?.aborted) return this.#userSignal.reason;
    if (this.#totalController.signal.aborted) return this.#totalTimeoutError();
    if (idle.fired) return new RetryableError(idle.reason(), { idle: true, cause: error });
    if (error instanceof RetryableError) return error;
    const text = describeError(error);
    // An untrusted or invalid certificate will not become trusted by asking again: fail closed.
    if (/invalid peer certificate|certificate verify failed|UnknownIssuer/i.test(text)) {
      return new Error(`${this.#label} failed: ${text}`, { cause: error });
    }
    return new RetryableError(text, { cause: error });
  }

  /** Read the next chunk of a body under the idle watch. */
  async read(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    idle: IdleWatch,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (error) {
      throw this.classify(error, idle);
    }
    idle.touch();
    return result;
  }

  /** Read the next bytes of a body into `buffer` (a BYOB read) under the idle watch. */
  async readInto(
    reader: ReadableStreamBYOBReader,
    buffer: Uint8Array<ArrayBuffer>,
    idle: IdleWatch,
  ): Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>> {
    let result: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
    try {
      result = await reader.read(buffer);
    } catch (error) {
      throw this.classify(error, idle);
    }
    idle.touch();
    return result;
  }

  /**
   * GET the first URL, following redirects by hand: at most {@linkcode MAX_REDIRECTS} hops, no
   * loops, the policy checked at each hop, credentials dropped once the origin changes.
   */
  async get(
    extraHeaders: Record<string, string>,
    idle: IdleWatch,
  ): Promise<{ response: Response; url: URL }> {
    const headers = new Headers(this.#headers);
    for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
    const credentials = this.#auth?.credentials ?? null;
    const send = credentials !== null && credentials.appliesTo(this.#url);
    if (send) headers.set("authorization", credentials.authorization());
    this.#last = { sent: send, left: false };
    let url = this.#url;
    const visited = new Set([url.href]);
    for (let hop = 0;; hop++) {
      let response: Response;
      try {
        response = await this.#env.fetch(url, {
          headers,
          redirect: "manual",
          signal: idle.signal,
        });
      } catch (error) {
        throw this.classify(error, idle);
      }
      idle.touch();
      if (!REDIRECT_STATUSES.has(response.status)) return { response, url };
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get("location");
      if (location === null) {
        throw new Error(
          `${this.#label} failed: HTTP ${statusLine(response)} from ${
            showUrl(url)
          } without a Location header`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new Error(
          `${this.#label} failed: ${showUrl(url)} redirects to an invalid URL ${
            showValue(location)
          }`,
        );
      }
      const refuse = (rule: string) =>
        new Error(`Refusing redirect from ${showUrl(url)} to ${showUrl(next)}: ${rule}`);
      if (hop + 1 > MAX_REDIRECTS) throw refuse(`more than ${MAX_REDIRECTS} redirects`);
      if (visited.has(next.href)) throw refuse("redirect loop");
      const problem = policyViolation(next, this.#policy());
      if (problem !== null) throw refuse(problem);
      visited.add(next.href);
      if (next.origin !== this.#url.origin) {
        for (const name of CREDENTIAL_HEADERS) headers.delete(name);
        this.#last = { sent: false, left: true };
      }
      url = next;
    }
  }

  /** The error for a final status that is not retried. */
  httpError(response: Response, url: URL): Error {
    if (this.#auth !== null && (response.status === 401 || response.status === 403)) {
      return accessError(response, url, {
        auth: this.#auth,
        sent: this.#last.sent,
        redirectedFrom: this.#last.left ? this.#url : null,
      });
    }
    const where = url.href === this.#url.href ? "" : ` from ${showUrl(url)}`;
    return new Error(`${this.#label} failed: HTTP ${statusLine(response)}${where}`);
  }

  /** The error to retry for a retryable status (with its Retry-After). */
  retryableHttpError(response: Response, url: URL): RetryableError {
    const where = url.href === this.#url.href ? "" : ` from ${showUrl(url)}`;
    return new RetryableError(`HTTP ${statusLine(response)}${where}`, {
      status: response.status,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), this.#env.now()),
    });
  }

  /**
   * Run `attempt` until it succeeds, a failure is not a {@linkcode RetryableError}, or the
   * attempts, the time or the caller's patience run out. A retryable failure given up on is
   * thrown with `retryable: true` and its HTTP `status` (null for a network failure), so that
   * a caller can tell a transient failure from a refusal.
   */
  async run<T>(attempt: (n: number) => Promise<T>): Promise<T> {
    let n = 0;
    while (true) {
      this.checkAlive();
      n++;
      try {
        return await attempt(n);
      } catch (error) {
        if (error instanceof RestartRequest) {
          n--;
          continue;
        }
        if (!(error instanceof RetryableError)) throw error;
        if (n >= this.#maxAttempts) {
          const message = `${this.#label} failed: ${error.message}; gave up after ${n} attempt${
            n === 1 ? "" : "s"
          }`;
          const gaveUp = error.idle
            ? new Deno.errors.TimedOut(message, { cause: error.cause ?? error })
            : new Error(message, { cause: error.cause ?? error });
          throw Object.assign(gaveUp, { retryable: true, status: error.status });
        }
        const remaining = this.remainingMs();
        let wait: number;
        if (error.retryAfterMs !== null) {
          wait = Math.min(error.retryAfterMs, this.#maxRetryAfterMs);
          if (wait > remaining) {
            throw Object.assign(
              new Error(
                `${this.#label} failed: ${error.message}; Retry-After asks to wait ${wait} ms, more than the ${
                  Math.max(0, Math.floor(remaining))
                } ms left of timeoutMs ${this.#timeoutMs}`,
                { cause: error },
              ),
              { retryable: true, status: error.status },
            );
          }
        } else {
          const ceiling = Math.min(this.#backoffCapMs, this.#backoffBaseMs * 2 ** (n - 1));
          wait = Math.min(Math.floor(this.#random() * ceiling), Math.max(0, remaining));
        }
        await this.#sleep(wait, this.signal);
      }
    }
  }
}
