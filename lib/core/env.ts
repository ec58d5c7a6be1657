/**
 * The small interface through which clock and network reach the pipeline, so that tests can
 * drive every stage with a fixed clock and a fake or local `fetch`.
 *
 * @module
 */

/**
 * One progress report of a long step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Progress } from "./env.ts";
 * import { hashFile } from "./hash.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * const seen: Progress[] = [];
 * await hashFile(path, { onProgress: (p) => seen.push(p) });
 * assert.deepEqual(seen.at(-1), { phase: "verify", done: 3, total: 3 });
 * ```
 */
export interface Progress {
  /** Which step is running. */
  phase:
    | "check"
    | "download"
    | "delta"
    | "rebuild"
    | "verify"
    | "extract"
    | "stage"
    | "apply"
    | "rollback";
  /** Units done so far (bytes for download, delta (its download), rebuild and verify). */
  done: number;
  /** Units in all, when known. */
  total: number | null;
}

/**
 * Receives progress reports; must not throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressSink } from "./env.ts";
 * import { hashFile } from "./hash.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(10));
 * let done = 0;
 * const sink: ProgressSink = (p) => done = p.done;
 * await hashFile(path, { onProgress: sink });
 * assert.equal(done, 10);
 * ```
 */
export type ProgressSink = (progress: Progress) => void;

/**
 * Clock and network, injected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Env, testEnv } from "./env.ts";
 * const env: Env = testEnv(new Date("2026-11-27T00:00:00Z"), () => Promise.resolve(new Response("ok")));
 * assert.equal(await (await env.fetch("https://updates.example/stable.json")).text(), "ok");
 * assert.equal(env.now().toISOString(), "2026-11-27T00:00:00.000Z");
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
 * import assert from "node:assert/strict";
 * import { realEnv } from "./env.ts";
 * const env = realEnv();
 * assert.ok(Math.abs(env.now().getTime() - Date.now()) < 1000);
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hi"),
 * );
 * assert.equal(await (await env.fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "hi");
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
 * import assert from "node:assert/strict";
 * import { testEnv } from "./env.ts";
 * const env = testEnv(new Date("2026-11-27T00:00:00Z"));
 * env.advance(1000);
 * assert.equal(env.now().toISOString(), "2026-11-27T00:00:01.000Z");
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
