// Private HTTP machinery shared by downloadArtifact and fetchLimited (lib/net/download.ts): the URL
// policy checked at every redirect hop, redirects followed by hand, total and idle timeouts,
// Retry-After, and retries with full-jitter exponential backoff.

import type { Env } from "../core/env.ts";
import { realEnv } from "../core/env.ts";
import { isLoopbackHost } from "../core/validate.ts";

/** Redirect hops followed at most (the sixth is refused). */
export const MAX_REDIRECTS = 5;
/** Default idle timeout: no byte (or no response) for this long aborts the attempt. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Default number of attempts per request. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Default cap on a server's Retry-After. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;
/** Default first backoff step (full jitter: a random wait up to base·2^(attempt-1)). */
export const DEFAULT_BACKOFF_BASE_MS = 500;
/** Default cap of one backoff wait. */
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

/** Headers that carry credentials: dropped once a redirect leaves the first URL's origin. */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Options common to every request (see DownloadOptions and FetchLimitedOptions). */
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
   * plain `http:` is allowed to loopback hosts only (`127.0.0.0/8`, `[::1]`, `localhost`): a
   * local mirror or test server, never a host across the network.
   */
  requireHttps?: boolean;
  /**
   * Hosts that may serve the request, at every redirect hop. A host is allowed when it equals an
   * entry or is a subdomain of one (`cdn.ms11.com` matches `ms11.com`; `evilms11.com` does not);
   * IP addresses match exactly. Empty or absent: any host.
   */
  allowedDomains?: readonly string[];
  /** Aborts the operation; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Extra request headers. Authorization, Cookie and Proxy-Authorization are dropped when a
   * redirect leaves the first URL's origin. */
  headers?: HeadersInit;
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

/** A failure worth another attempt (network error, idle timeout, 408/429/5xx). */
export class RetryableError extends Error {
  override name = "RetryableError";
  /** Server's Retry-After in ms, when it sent one. */
  readonly retryAfterMs: number | null;
  /** Whether the failure was an idle timeout. */
  readonly idle: boolean;
  /** @param reason what failed @param options extra facts */
  constructor(
    reason: string,
    options: { retryAfterMs?: number | null; idle?: boolean; cause?: unknown } = {},
  ) {
    super(reason, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.idle = options.idle ?? false;
  }
}

/** Start the next attempt at once without counting it (the partial was discarded). */
export class RestartRequest extends Error {
  override name = "RestartRequest";
}

/** Reason phrases for responses that carry none (HTTP/2 has no reason phrase). */
const REASONS: Record<number, string> = {
  200: "OK",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  410: "Gone",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The status and reason phrase of a response: "404 Not Found". */
export function statusLine(response: Response): string {
  return `${response.status} ${response.statusText || REASONS[response.status] || ""}`.trim();
}

/** Whether an HTTP status is worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Parse Retry-After (delta seconds or an HTTP date) into ms from `now`; null when absent/bad. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/** A URL for messages: as given, but without any user name or password in it. */
export function showUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return String(url);
  }
  if (parsed.username === "" && parsed.password === "") return String(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}

/** The URL rules of a request. */
export interface UrlPolicy {
  /** Only `https:`. */
  requireHttps: boolean;
  /** Allowed hosts and their subdomains; empty allows any. */
  allowedDomains: readonly string[];
}

/** Why `url` breaks the policy, or null when it is allowed. */
export function policyViolation(url: URL, policy: UrlPolicy): string | null {
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return "only http: and https: URLs are supported";
  }
  if (policy.requireHttps && url.protocol !== "https:") {
    return "only https: URLs are allowed (requireHttps)";
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    return "plain http: is only allowed to a loopback host";
  }
  const allowed = policy.allowedDomains;
  if (allowed.length > 0) {
    const host = url.hostname.toLowerCase().replace(/\.$/, "");
    const ok = allowed.some((entry) => {
      const domain = entry.toLowerCase().replace(/^\./, "").replace(/\.$/, "");
      return host === domain || (!isIpLiteral(host) && host.endsWith(`.${domain}`));
    });
    if (!ok) return `host ${host} is not in allowedDomains [${allowed.join(", ")}]`;
  }
  return null;
}

/** An error's message followed by its causes' ("fetch failed: error sending request …"). */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    if (text !== "" && !parts.some((p) => p.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

function isIpLiteral(host: string): boolean {
  return host.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(host);
}

/** Parse and check the first URL of a request. */
export function parseRequestUrl(url: string, policy: UrlPolicy): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Invalid URL ${JSON.stringify(showUrl(url))}`);
  }
  const problem = policyViolation(parsed, policy);
  if (problem !== null) throw new Error(`Refusing ${showUrl(url)}: ${problem}`);
  return parsed;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new RangeError(`Option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** Watches one attempt for silence: aborts its signal when nothing arrives for `ms`. */
export class IdleWatch {
  #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ms: number;
  #last = 0;
  #fired = false;
  #disposed = false;
  /** Aborted by the session (user signal, total timeout) or by this watch. */
  readonly signal: AbortSignal;

  /** @param ms idle limit @param parent the session's signal */
  constructor(ms: number, parent: AbortSignal) {
    this.#ms = ms;
    this.signal = AbortSignal.any([parent, this.#controller.signal]);
    this.touch();
  }

  /** Whether the idle limit was reached. */
  get fired(): boolean {
    return this.#fired;
  }

  /**
   * Something arrived: restart the countdown. Called for every body chunk, so it only notes the
   * time; the one timer re-arms itself for the rest of the limit when it fires early.
   */
  touch(): void {
    this.#last = performance.now();
    if (this.#disposed) return;
    if (this.#timer === undefined && Number.isFinite(this.#ms)) this.#arm(this.#ms);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const quiet = performance.now() - this.#last;
      if (quiet < this.#ms) {
        this.#arm(this.#ms - quiet);
        return;
      }
      this.#timer = undefined;
      this.#fired = true;
      this.#controller.abort(new RetryableError(this.reason(), { idle: true }));
    }, ms);
  }

  /** The failure text of an idle timeout. */
  reason(): string {
    return `no data received for ${this.#ms} ms (idleTimeoutMs)`;
  }

  /** Stop the countdown. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#disposed = true;
  }
}

/**
 * One logical request (a download or a manifest fetch) across its attempts: the policy, the
 * total deadline, the retry loop and the hand-followed redirects.
 */
export class HttpSession {
  #label: string;
  #url: URL;
  #env: Env;
  #requireHttps: boolean;
  #allowedDomains: readonly string[];
  #headers: HeadersInit | undefined;
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
    for (const entry of this.#allowedDomains) {
      if (typeof entry !== "string" || entry.replace(/^\.|\.$/g, "") === "") {
        throw new TypeError(
          `allowedDomains entries must be host names, got ${JSON.stringify(entry)}`,
        );
      }
    }
    this.#url = parseRequestUrl(url, this.#policy());
    this.#label = `${what} of ${showUrl(url)}`;
    this.#env = options.env ?? realEnv();
    this.#headers = options.headers;
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
    const text = describe(error);
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
            JSON.stringify(location)
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
      }
      url = next;
    }
  }

  /** The error for a final status that is not retried. */
  httpError(response: Response, url: URL): Error {
    const where = url.href === this.#url.href ? "" : ` from ${showUrl(url)}`;
    return new Error(`${this.#label} failed: HTTP ${statusLine(response)}${where}`);
  }

  /** The error to retry for a retryable status (with its Retry-After). */
  retryableHttpError(response: Response, url: URL): RetryableError {
    const where = url.href === this.#url.href ? "" : ` from ${showUrl(url)}`;
    return new RetryableError(`HTTP ${statusLine(response)}${where}`, {
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), this.#env.now()),
    });
  }

  /**
   * Run `attempt` until it succeeds, a failure is not a {@linkcode RetryableError}, or the
   * attempts, the time or the caller's patience run out.
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
          throw error.idle
            ? new Deno.errors.TimedOut(message, { cause: error.cause ?? error })
            : new Error(message, { cause: error.cause ?? error });
        }
        const remaining = this.remainingMs();
        let wait: number;
        if (error.retryAfterMs !== null) {
          wait = Math.min(error.retryAfterMs, this.#maxRetryAfterMs);
          if (wait > remaining) {
            throw new Error(
              `${this.#label} failed: ${error.message}; Retry-After asks to wait ${wait} ms, more than the ${
                Math.max(0, Math.floor(remaining))
              } ms left of timeoutMs ${this.#timeoutMs}`,
              { cause: error },
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
