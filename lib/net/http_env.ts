/**
 * The real environment of the network stages: the system clock and `fetch` through a
 * `Deno.HttpClient` that also trusts `security.ca_file`. The launcher's path never loads it.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { type Env, realEnv } from "../core/env.ts";

/**
 * Options of {@linkcode httpEnv}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "../core/errors.ts";
 * import { httpEnv, type HttpEnvOptions } from "./http_env.ts";
 * const options: HttpEnvOptions = { caFile: `${await Deno.makeTempDir()}/company-ca.pem` };
 * await assert.rejects(httpEnv(options), (error) => {
 *   assert.ok(error instanceof ConfigError);
 *   assert.match(error.message, /^Cannot read security\.ca_file \/.+\/company-ca\.pem: /);
 *   return true;
 * });
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
 * import assert from "node:assert/strict";
 * import { type HttpEnv, httpEnv } from "./http_env.ts";
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("ok"));
 * using env: HttpEnv = await httpEnv();
 * assert.equal(await (await env.fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "ok");
 * env.close(); // closing twice (here, then at the end of the scope) is fine
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
 * import assert from "node:assert/strict";
 * import { ConfigError } from "../core/errors.ts";
 * import { httpEnv } from "./http_env.ts";
 * using env = await httpEnv({ caFile: null });
 * assert.ok(Math.abs(env.now().getTime() - Date.now()) < 1000);
 * const notPem = await Deno.makeTempFile({ suffix: ".pem" });
 * await Deno.writeTextFile(notPem, "not a certificate\n");
 * await assert.rejects(httpEnv({ caFile: notPem }), {
 *   name: "ConfigError",
 *   message: `security.ca_file ${notPem} holds no PEM certificate`,
 * });
 * await assert.rejects(httpEnv({ caFile: notPem }), ConfigError);
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
