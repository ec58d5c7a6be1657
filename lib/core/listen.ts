/**
 * Listening for HTTP: `Deno.serve` with a failure to bind that names the address and the port
 * (the release server and the dashboard alike).
 *
 * @module
 */

/**
 * `Deno.serve(options, handler)`, except that an address already in use is a
 * `Deno.errors.AddrInUse` naming the host and port and what to do, not the bare
 * `Address already in use (os error 98)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveHttp } from "./listen.ts";
 * const first = serveHttp({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("ok"));
 * const port = first.addr.port;
 * assert.throws(() => serveHttp({ hostname: "127.0.0.1", port, onListen() {} }, () => new Response()), {
 *   name: "AddrInUse",
 *   message: `Cannot listen on 127.0.0.1:${port}: the port is already in use (choose another with --port, or --port 0 for a free one)`,
 * });
 * await first.shutdown();
 * ```
 */
export function serveHttp(
  options: Deno.ServeTcpOptions | (Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem),
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve(options, handler);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      const host = options.hostname ?? "0.0.0.0";
      const shown = host.includes(":") ? `[${host}]` : host;
      throw new Deno.errors.AddrInUse(
        `Cannot listen on ${shown}:${options.port}: the port is already in use (choose another with --port, or --port 0 for a free one)`,
      );
    }
    throw error;
  }
}
