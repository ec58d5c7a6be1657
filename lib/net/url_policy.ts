/**
 * The URL policy of every request (lib/net/http.ts checks it for the first URL and at every
 * redirect hop): `http:` or `https:` only, `https:` only under `requireHttps`, plain `http:` to a
 * loopback host only, and the host within `allowedDomains`. The host rules are the core's
 * (`isLoopbackHost`, `hostAllowed` in lib/core/validate.ts), shared with the configuration's
 * checks of `update_servers` and `security.allowed_domains`.
 *
 * @module
 */
import { hostAllowed, isLoopbackHost } from "../core/validate.ts";

/**
 * The URL rules of a request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UrlPolicy } from "./url_policy.ts";
 * const policy: UrlPolicy = { requireHttps: true, allowedDomains: ["ms11.com"] };
 * assert.equal(policy.allowedDomains.length, 1);
 * ```
 */
export interface UrlPolicy {
  /** Only `https:`. */
  requireHttps: boolean;
  /** Allowed hosts and their subdomains; empty allows any. */
  allowedDomains: readonly string[];
}

/**
 * A URL for messages: as given, but without any user name or password in it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showUrl } from "./url_policy.ts";
 * assert.equal(showUrl("https://user:secret@ms11.com/a"), "https://ms11.com/a");
 * assert.equal(showUrl("https://ms11.com/a"), "https://ms11.com/a");
 * assert.equal(showUrl("not a url"), "not a url");
 * ```
 */
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

/**
 * Check the `allowedDomains` of a request's options: every entry must be a string with
 * something besides dots, or a `TypeError` names it (an empty entry would match nothing, so a
 * typo would otherwise refuse every host without saying why).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAllowedDomains } from "./url_policy.ts";
 * checkAllowedDomains(["ms11.com", ".cdn.example"]);
 * assert.throws(() => checkAllowedDomains(["."]), {
 *   name: "TypeError",
 *   message: 'allowedDomains entries must be host names, got "."',
 * });
 * ```
 */
export function checkAllowedDomains(entries: readonly unknown[]): void {
  for (const entry of entries) {
    if (typeof entry !== "string" || entry.replace(/^\.|\.$/g, "") === "") {
      throw new TypeError(
        `allowedDomains entries must be host names, got ${JSON.stringify(entry)}`,
      );
    }
  }
}

/**
 * Why `url` breaks the policy, or null when it is allowed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { policyViolation } from "./url_policy.ts";
 * const policy = { requireHttps: false, allowedDomains: ["ms11.com"] };
 * assert.equal(policyViolation(new URL("https://cdn.ms11.com/a"), policy), null);
 * assert.equal(
 *   policyViolation(new URL("http://ms11.com/a"), policy),
 *   "plain http: is only allowed to a loopback host",
 * );
 * assert.equal(
 *   policyViolation(new URL("https://evilms11.com/a"), policy),
 *   "host evilms11.com is not in allowedDomains [ms11.com]",
 * );
 * ```
 */
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
  if (!hostAllowed(url.hostname, policy.allowedDomains)) {
    const host = url.hostname.toLowerCase().replace(/\.$/, "");
    return `host ${host} is not in allowedDomains [${policy.allowedDomains.join(", ")}]`;
  }
  return null;
}

/**
 * Parse and check the first URL of a request: a `TypeError` when it is not a URL, an `Error`
 * (`Refusing <url>: <rule>`) when the policy refuses it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRequestUrl } from "./url_policy.ts";
 * const policy = { requireHttps: true, allowedDomains: [] };
 * assert.equal(parseRequestUrl("https://ms11.com/a", policy).hostname, "ms11.com");
 * assert.throws(() => parseRequestUrl("http://ms11.com/a", policy), /^Error: Refusing http:\/\/ms11\.com\/a: only https:/);
 * assert.throws(() => parseRequestUrl("nope", policy), { name: "TypeError" });
 * ```
 */
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
