/**
 * The dashboard's request security (docs/DASHBOARD.md), decided before any route: the Host
 * header must name this server by address (no DNS rebinding), an Origin must be this server's
 * own (no cross-site requests), and the random token of the printed URL must be given, or the
 * session cookie that a one-time link (`dashboard --open`) was exchanged for.
 *
 * @module
 */
import { isLoopbackHost } from "../lib/core/validate.ts";

/**
 * Whether `hostname` is a loopback address or `localhost`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopback } from "./security.ts";
 * assert.ok(isLoopback("127.0.0.1") && isLoopback("::1"));
 * assert.ok(!isLoopback("0.0.0.0"));
 * ```
 */
export function isLoopback(hostname: string): boolean {
  return isLoopbackHost(hostname);
}

/** Whether a Host header's host part is an IP literal or `localhost` (never a DNS name). */
function isAddressHost(host: string): boolean {
  return host === "localhost" || /^\[[0-9a-f:.]+\]$/i.test(host) ||
    /^(\d{1,3}\.){3}\d{1,3}$/.test(host);
}

/**
 * Options of {@linkcode refusal}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusal, type RefusalOptions } from "./security.ts";
 * const options: RefusalOptions = { port: 8012, token: "t", allowRemote: false, sessions: new Set() };
 * const headers = new Headers({ host: "127.0.0.1:8012" });
 * assert.equal(refusal(new URL("http://127.0.0.1:8012/?token=t"), headers, options), null);
 * ```
 */
export interface RefusalOptions {
  /** The port the dashboard listens on. */
  port: number;
  /** The access token. */
  token: string;
  /** Whether any IP address may name the server in Host (`--allow-remote`). */
  allowRemote: boolean;
  /** The live sessions: ids of the cookies one-time links were exchanged for. */
  sessions?: ReadonlySet<string>;
}

/**
 * The name of the dashboard's session cookie.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SESSION_COOKIE, sessionCookie } from "./security.ts";
 * assert.ok(sessionCookie("x").startsWith(`${SESSION_COOKIE}=x;`));
 * ```
 */
export const SESSION_COOKIE = "ms11_session";

/**
 * The session id a request's `Cookie` header carries, or null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionOf } from "./security.ts";
 * assert.equal(sessionOf(new Headers({ cookie: "a=1; ms11_session=abc" })), "abc");
 * assert.equal(sessionOf(new Headers()), null);
 * ```
 */
export function sessionOf(headers: Headers): string | null {
  for (const part of (headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return value.join("=");
  }
  return null;
}

/**
 * The `Set-Cookie` value of a session: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), for the whole dashboard, ending with the browser session.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionCookie } from "./security.ts";
 * assert.equal(sessionCookie("abc"), "ms11_session=abc; HttpOnly; SameSite=Strict; Path=/");
 * ```
 */
export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/`;
}

/**
 * Why a request must be refused whoever it comes from, or null: a Host that is not this server
 * by address (DNS rebinding), an Origin other than this server's, a cross-site fetch. The first
 * half of {@linkcode refusal}, and all of it for the one-time link (which carries no token).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { originRefusal } from "./security.ts";
 * const ok = new Headers({ host: "127.0.0.1:8012" });
 * assert.equal(originRefusal(ok, { port: 8012, allowRemote: false }), null);
 * const foreign = new Headers({ host: "127.0.0.1:8012", origin: "https://evil.example" });
 * assert.equal(originRefusal(foreign, { port: 8012, allowRemote: false })?.status, 403);
 * ```
 */
export function originRefusal(
  headers: Headers,
  options: { port: number; allowRemote: boolean },
): { status: number; message: string } | null {
  const host = (headers.get("host") ?? "").toLowerCase();
  const match = /^(.*):(\d+)$/.exec(host);
  const name = match?.[1] ?? host;
  const portOk = match !== null && Number(match[2]) === options.port;
  const nameOk = options.allowRemote ? isAddressHost(name) : isLoopback(name) &&
    isAddressHost(name);
  if (!portOk || !nameOk) {
    return {
      status: 403,
      message: `Refused: Host ${
        JSON.stringify(host)
      } is not this dashboard (expected 127.0.0.1:${options.port} or localhost:${options.port})`,
    };
  }
  const origin = headers.get("origin");
  if (origin !== null && origin !== `http://${host}`) {
    return {
      status: 403,
      message:
        `Refused: cross-origin request from ${origin} (only http://${host} may call this dashboard)`,
    };
  }
  if (headers.get("sec-fetch-site") === "cross-site") {
    return { status: 403, message: "Refused: cross-site request" };
  }
  return null;
}

/**
 * Why a request must be refused before it reaches a route, or null when it may go on: a Host
 * that is not this server by address (DNS rebinding), an Origin other than this server's
 * (cross-site requests), a cross-site fetch, a missing or wrong token (or session cookie). Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusal } from "./security.ts";
 * const headers = new Headers({ host: "evil.example:8012" });
 * const r = refusal(new URL("http://x/?token=t"), headers, { port: 8012, token: "t", allowRemote: false });
 * assert.equal(r?.status, 403);
 * const options = { port: 8012, token: "t", allowRemote: false, sessions: new Set(["s1"]) };
 * const own = (cookie: string) => new Headers({ host: "127.0.0.1:8012", cookie });
 * assert.equal(refusal(new URL("http://x/"), own("ms11_session=s1"), options), null);
 * assert.equal(refusal(new URL("http://x/"), own("ms11_session=s2"), options)?.status, 401);
 * ```
 */
export function refusal(
  url: URL,
  headers: Headers,
  options: RefusalOptions,
): { status: number; message: string } | null {
  const refused = originRefusal(headers, options);
  if (refused !== null) return refused;
  const session = sessionOf(headers);
  if (session !== null && [...options.sessions ?? []].some((s) => sameSecret(session, s))) {
    return null;
  }
  const given = url.searchParams.get("token") ?? headers.get("x-ms11-token") ?? "";
  if (!sameSecret(given, options.token)) {
    return {
      status: 401,
      message: given === ""
        ? "Refused: no token; open the URL printed by ms11-update dashboard"
        : "Refused: wrong token; open the URL printed by ms11-update dashboard",
    };
  }
  return null;
}

/** Compare secrets in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i];
  return diff === 0;
}

/**
 * A random secret of `bytes` bytes, base64url without padding (the token, CSP nonces).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomToken } from "./security.ts";
 * assert.match(randomToken(), /^[A-Za-z0-9_-]{43}$/);
 * ```
 */
export function randomToken(bytes = 32): string {
  return crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * Headers of every dashboard response: never cached, never sniffed, framed or referred.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SECURITY_HEADERS } from "./security.ts";
 * assert.equal(SECURITY_HEADERS["x-frame-options"], "DENY");
 * ```
 */
export const SECURITY_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};
