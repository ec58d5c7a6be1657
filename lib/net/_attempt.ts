/**
 * What one HTTP attempt can end in, and how it is told (private to lib/net): the failures worth
 * another attempt ({@linkcode RetryableError}) and the restart that is not counted
 * ({@linkcode RestartRequest}), which statuses retry, the server's `Retry-After`, a response's
 * status line, an error's message with its causes, and the watch that aborts an attempt gone
 * silent ({@linkcode IdleWatch}). The session that runs the attempts is lib/net/http.ts.
 *
 * @module
 */
import { escapeText } from "../core/text.ts";

/**
 * A failure worth another attempt (network error, idle timeout, 408/429/5xx).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RetryableError } from "./_attempt.ts";
 * const error = new RetryableError("HTTP 503 Service Unavailable", { retryAfterMs: 2000 });
 * assert.equal(error.retryAfterMs, 2000);
 * assert.equal(error.idle, false);
 * assert.equal(error.status, null);
 * ```
 */
export class RetryableError extends Error {
  override name = "RetryableError";
  /** Server's Retry-After in ms, when it sent one. */
  readonly retryAfterMs: number | null;
  /** Whether the failure was an idle timeout. */
  readonly idle: boolean;
  /** The HTTP status, when a response said it; null for a network failure. */
  readonly status: number | null;
  /** @param reason what failed @param options extra facts */
  constructor(
    reason: string,
    options: {
      retryAfterMs?: number | null;
      idle?: boolean;
      cause?: unknown;
      status?: number | null;
    } = {},
  ) {
    super(reason, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.idle = options.idle ?? false;
    this.status = options.status ?? null;
  }
}

/**
 * Start the next attempt at once without counting it (the partial was discarded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RestartRequest } from "./_attempt.ts";
 * const restart = new RestartRequest("HTTP 416: the partial download is discarded");
 * assert.equal(restart.name, "RestartRequest");
 * ```
 */
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

/**
 * The status and reason phrase of a response: "404 Not Found".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusLine } from "./_attempt.ts";
 * assert.equal(statusLine(new Response(null, { status: 404 })), "404 Not Found");
 * assert.equal(statusLine(new Response(null, { status: 418, statusText: "Teapot" })), "418 Teapot");
 * ```
 */
export function statusLine(response: Response): string {
  // The reason phrase is the server's own text: escaped (lib/core/text.ts).
  return `${response.status} ${escapeText(response.statusText) || REASONS[response.status] || ""}`
    .trim();
}

/**
 * Whether an HTTP status is worth retrying: 408, 429 and 5xx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRetryableStatus } from "./_attempt.ts";
 * assert.ok(isRetryableStatus(503) && isRetryableStatus(429) && isRetryableStatus(408));
 * assert.ok(!isRetryableStatus(404) && !isRetryableStatus(200));
 * ```
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Parse Retry-After (delta seconds or an HTTP date) into ms from `now`; null when absent or bad.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryAfter } from "./_attempt.ts";
 * const now = new Date("2026-11-20T10:00:00Z");
 * assert.equal(parseRetryAfter("3", now), 3000);
 * assert.equal(parseRetryAfter("Fri, 20 Nov 2026 10:00:05 GMT", now), 5000);
 * assert.equal(parseRetryAfter("soon", now), null);
 * assert.equal(parseRetryAfter(null, now), null);
 * ```
 */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/**
 * An error's message followed by its causes' ("fetch failed: error sending request …"), four
 * deep at most, a message already contained in an earlier one left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeError } from "./_attempt.ts";
 * const error = new TypeError("fetch failed", { cause: new Error("connection refused") });
 * assert.equal(describeError(error), "fetch failed: connection refused");
 * ```
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    if (text !== "" && !parts.some((p) => p.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  // Causes can quote what a server sent (a header, a reason phrase): escaped.
  return escapeText(parts.join(": "));
}

/**
 * Watches one attempt for silence: aborts its signal (with an idle {@linkcode RetryableError})
 * when nothing arrives for `ms`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdleWatch } from "./_attempt.ts";
 * const watch = new IdleWatch(10, new AbortController().signal);
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * assert.ok(watch.fired && watch.signal.aborted);
 * assert.equal(watch.reason(), "no data received for 10 ms (idleTimeoutMs)");
 * watch.dispose();
 * ```
 */
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
 * Wait `ms` milliseconds unless `signal` aborts first (then reject with its reason): the waits
 * between attempts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultSleep } from "./_attempt.ts";
 * const controller = new AbortController();
 * const waiting = defaultSleep(60_000, controller.signal);
 * controller.abort(new Error("stop"));
 * await assert.rejects(waiting, /stop/);
 * ```
 */
export function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
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

/**
 * An option that must be a positive number: `value`, or `fallback` when it is undefined; a
 * `RangeError` naming the option otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positive } from "./_attempt.ts";
 * assert.equal(positive("timeoutMs", undefined, 5), 5);
 * assert.throws(() => positive("timeoutMs", -1, 5), { message: "Option timeoutMs must be a positive number, got -1" });
 * ```
 */
export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new RangeError(`Option ${name} must be a positive number, got ${value}`);
  }
  return value;
}
