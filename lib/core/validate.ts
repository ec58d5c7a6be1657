// Private URL helpers shared by the configuration checks (lib/core/config.ts) and the request policy
// (lib/net/http.ts), kept apart so that the launcher path loads no network code.

/**
 * Whether `host` (a URL's `hostname`) names this machine: `127.0.0.0/8`, `[::1]`, `localhost` or
 * a name under `.localhost`. Plain `http:` is allowed to these hosts only.
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "./validate.ts";
 * console.assert(isLoopbackHost("127.0.0.1") && isLoopbackHost("[::1]"));
 * console.assert(!isLoopbackHost("127.0.0.1.example.com"));
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
