/**
 * The small interface through which clock and network reach the pipeline, so that tests can
 * drive every stage with a fixed clock and a fake or local `fetch`.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

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

/**
 * Options of {@linkcode httpEnv}.
 *
 * @example
 * ```ts
 * import type { HttpEnvOptions } from "./env.ts";
 * const options: HttpEnvOptions = { caFile: "/etc/ms11/company-ca.pem" };
 * console.assert(options.caFile?.endsWith(".pem"));
 * ```
 */
export interface HttpEnvOptions {
  /** A PEM file of CA certificates trusted besides the system's (`security.ca_file`). */
  caFile?: string | null;
}

/**
 * An {@linkcode Env} that owns an HTTP client: dispose it (or `close()`) when done.
 *
 * @example
 * ```ts
 * import { httpEnv } from "./env.ts";
 * const env = await httpEnv();
 * try {
 *   console.assert(typeof env.fetch === "function");
 * } finally {
 *   env.close();
 * }
 * ```
 */
export interface HttpEnv extends Env, Disposable {
  /** Close the HTTP client, if one was made. */
  close(): void;
}

/**
 * The real environment for the network stages: the system clock and `fetch`, through a
 * `Deno.HttpClient` that also trusts the CA certificates of `caFile` when one is given.
 * Proxies come from the standard `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` variables, with or
 * without a CA file (Deno reads them for every client).
 *
 * @throws {ConfigError} the CA file cannot be read or holds no PEM certificate
 * @example
 * ```ts
 * import { httpEnv } from "./env.ts";
 * using env = await httpEnv({ caFile: null });
 * console.assert(env.now() instanceof Date);
 * ```
 */
export async function httpEnv(options: HttpEnvOptions = {}): Promise<HttpEnv> {
  const caFile = options.caFile ?? null;
  if (caFile === null) {
    const env = realEnv();
    return { ...env, close() {}, [Symbol.dispose]() {} };
  }
  let pem: string;
  try {
    pem = await Deno.readTextFile(caFile);
  } catch (error) {
    throw new ConfigError(
      `Cannot read security.ca_file ${caFile}: ${(error as Error).message}`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(`security.ca_file ${caFile} holds no PEM certificate`);
  }
  let client: Deno.HttpClient;
  try {
    client = Deno.createHttpClient({ caCerts: [pem] });
  } catch (error) {
    throw new ConfigError(
      `security.ca_file ${caFile} cannot be used: ${(error as Error).message}`,
    );
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    client.close();
  };
  return {
    now: () => new Date(),
    fetch: (input, init) => fetch(input, { ...init, client }),
    close,
    [Symbol.dispose]: close,
  };
}
