/**
 * The small interface through which clock and network reach the pipeline, so that tests can
 * drive every stage with a fixed clock and a fake or local `fetch`.
 *
 * @module
 */

/** One progress report of a long step. */
export interface Progress {
  /** Which step is running. */
  phase: "check" | "download" | "verify" | "extract" | "stage" | "apply" | "rollback";
  /** Units done so far (bytes for download/verify). */
  done: number;
  /** Units in all, when known. */
  total: number | null;
}

/** Receives progress reports; must not throw. */
export type ProgressSink = (progress: Progress) => void;

/**
 * Clock and network, injected.
 *
 * @example
 * ```ts
 * import { realEnv } from "./env.ts";
 * const env = realEnv();
 * console.assert(env.now() instanceof Date);
 * ```
 */
export interface Env {
  /** The current time. */
  now(): Date;
  /** The fetch to use for every HTTP request. */
  fetch: typeof fetch;
}

/**
 * The real environment: the system clock and the global `fetch`.
 *
 * @example
 * ```ts
 * import { realEnv } from "./env.ts";
 * const response = await realEnv().fetch("http://127.0.0.1:1/").catch(() => null);
 * console.assert(response === null);
 * ```
 */
export function realEnv(): Env {
  return { now: () => new Date(), fetch: globalThis.fetch.bind(globalThis) };
}

/**
 * An environment for tests: a settable clock and a given fetch.
 *
 * @example
 * ```ts
 * import { testEnv } from "./env.ts";
 * const env = testEnv(new Date("2026-11-27T00:00:00Z"));
 * env.advance(1000);
 * console.assert(env.now().toISOString() === "2026-11-27T00:00:01.000Z");
 * ```
 */
export function testEnv(
  start: Date,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Env & { advance(ms: number): void } {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    fetch: fetchImpl,
    advance(ms: number) {
      t += ms;
    },
  };
}
