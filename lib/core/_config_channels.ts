/**
 * The channel entries of `validateConfig` (lib/core/config_schema.ts): each `update_servers.<name>`
 * with its server, description, risk level, check interval and access credentials' source, and
 * their types (re-exported by config_schema.ts, the module to import them from). Private to
 * lib/core.
 *
 * @module
 */
import type { Checker } from "./_config_fields.ts";
import { hostAllowed, isChannelName, isLoopbackHost } from "./validate.ts";

/**
 * How risky a channel is, as people choosing it are told: switching to a channel of a higher
 * level asks for consent first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RiskLevel } from "./config_schema.ts";
 * const canary: RiskLevel = "high";
 * assert.equal(canary, "high");
 * ```
 */
export type RiskLevel = "low" | "medium" | "high";

/**
 * The risk levels, lowest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RISK_LEVELS } from "./config_schema.ts";
 * assert.ok(RISK_LEVELS.indexOf("high") > RISK_LEVELS.indexOf("low"));
 * ```
 */
export const RISK_LEVELS: readonly RiskLevel[] = ["low", "medium", "high"];

/**
 * Where a channel's credentials come from (never the credentials themselves): a file only its
 * owner can read, or an environment variable. They are sent to the channel's own origin and to
 * the origins of `send_to`, nowhere else (lib/net/credentials.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ChannelAuth, validateConfig } from "./config_schema.ts";
 * const auth: ChannelAuth | null = validateConfig({
 *   update_servers: { canary: { base_url: "https://updates.ms11.com/canary",
 *     auth: { scheme: "basic", username: "tester", secret_file: "/etc/ms11/canary.password" } } },
 *   channel: "canary",
 * }).update_servers.canary.auth;
 * assert.deepEqual(auth, { scheme: "basic", username: "tester",
 *   secret_file: "/etc/ms11/canary.password", secret_env: null, send_to: [] });
 * ```
 */
export interface ChannelAuth {
  /** `bearer` (the secret is a token) or `basic` (the secret is `username`'s password). */
  scheme: "bearer" | "basic";
  /** The user name of `basic` (null for `bearer`). */
  username: string | null;
  /** An absolute path to a file holding the secret, readable by its owner only (mode 0600). */
  secret_file: string | null;
  /** The name of an environment variable holding the secret. */
  secret_env: string | null;
  /**
   * Other origins (`https://cdn.example.com`) that get the credentials too, e.g. an artifact host
   * or a mirror (mirrors get none otherwise).
   */
  send_to: string[];
}

/**
 * One channel's update server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, type UpdateServer } from "./config_schema.ts";
 * const stable: UpdateServer = defaultConfig().update_servers.stable;
 * assert.equal(stable.base_url, "https://updates.ms11.com/stable");
 * assert.deepEqual([stable.risk, stable.check_interval_hours, stable.auth], ["low", null, null]);
 * ```
 */
export interface UpdateServer {
  /** Where the channel's `manifest.json` lives (`<base_url>/manifest.json`). */
  base_url: string;
  /**
   * More base URLs serving the same channel, tried in order after `base_url` when it fails or is
   * behind (lib/trust/mirrors.ts); empty for none. They never get the channel's credentials
   * unless their origin is listed in `auth.send_to`.
   */
  mirrors: string[];
  /** Shown to people choosing a channel. */
  description: string;
  /** How risky its releases are (`medium` when the entry does not say). */
  risk: RiskLevel;
  /** Hours between its automatic checks; null: the top-level `check_interval_hours`. */
  check_interval_hours: number | null;
  /** Where its credentials come from, when its server requires them; null: none are sent. */
  auth: ChannelAuth | null;
}

/**
 * The most mirrors a channel may list besides its `base_url`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_MIRRORS } from "./config_schema.ts";
 * assert.equal(MAX_MIRRORS, 16);
 * ```
 */
export const MAX_MIRRORS = 16;

/**
 * A channel's base URLs in the configured order: `base_url`, then its `mirrors`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseUrls, validateConfig } from "./config_schema.ts";
 * const config = validateConfig({
 *   update_servers: {
 *     stable: { base_url: "https://updates.ms11.com/stable", mirrors: ["https://cdn.ms11.com/stable/"] },
 *   },
 * });
 * assert.deepEqual(baseUrls(config.update_servers.stable), [
 *   "https://updates.ms11.com/stable",
 *   "https://cdn.ms11.com/stable", // a final slash is dropped
 * ]);
 * ```
 */
export function baseUrls(server: UpdateServer): string[] {
  return [server.base_url, ...server.mirrors];
}

/** The risk of a channel whose entry does not say: above low, so switching to it asks. */
const DEFAULT_RISK: RiskLevel = "medium";
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Field names that would hold a secret: credentials are never written in the configuration. */
const SECRET_FIELDS = ["token", "password", "secret", "credentials", "header", "value"];

/** The URL rules of the configuration: what `base_url` and `auth.send_to` must be. */
interface UrlRules {
  requireHttps: boolean;
  allowedDomains: readonly string[];
}

/** An http(s) URL as the configuration accepts it (the shared rules of both URL fields). */
function serverUrl(c: Checker, value: unknown, field: string, rules: UrlRules): URL {
  const text = c.string(value, field);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    c.fail(field, "an absolute URL", text);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    c.fail(field, "an http(s) URL", text);
  }
  if (url.search || url.hash || url.username || url.password) {
    c.fail(field, "a URL without query, fragment or credentials", text);
  }
  if (rules.requireHttps && url.protocol !== "https:") {
    c.fail(field, "an https URL while security.require_https is true", text);
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    c.fail(
      field,
      "an https URL (plain http is only allowed to a loopback host such as 127.0.0.1)",
      text,
    );
  }
  if (!hostAllowed(url.hostname, rules.allowedDomains)) {
    c.fail(
      field,
      `on a host in security.allowed_domains (${rules.allowedDomains.join(", ")})`,
      text,
    );
  }
  return url;
}

/** `update_servers.<name>.auth`: null, or where the channel's credentials come from. */
function channelAuth(
  c: Checker,
  value: unknown,
  field: string,
  rules: UrlRules,
): ChannelAuth | null {
  if (value === null || value === undefined) return null;
  const raw = c.object(value, field);
  for (const key of Object.keys(raw)) {
    if (SECRET_FIELDS.includes(key.toLowerCase())) {
      c.fail(
        `${field}.${key}`,
        "absent: credentials are never stored in the configuration; put the secret in a file only its owner can read (secret_file) or in an environment variable (secret_env)",
        "a secret",
      );
    }
  }
  c.known(raw, field, ["scheme", "username", "secret_file", "secret_env", "send_to"]);
  const scheme = raw.scheme;
  if (scheme !== "bearer" && scheme !== "basic") {
    c.fail(`${field}.scheme`, '"bearer" or "basic"', scheme);
  }
  let username: string | null = null;
  if (scheme === "basic") {
    username = c.string(
      raw.username,
      `${field}.username`,
      // deno-lint-ignore no-control-regex
      (u) => !/[:\x00-\x1f\x7f]/.test(u),
      "a user name without a colon or control characters (basic needs one)",
    );
  } else if (raw.username !== undefined && raw.username !== null) {
    c.fail(`${field}.username`, "absent for the bearer scheme", raw.username);
  }
  const file = raw.secret_file ?? null;
  const env = raw.secret_env ?? null;
  if ((file === null) === (env === null)) {
    c.fail(
      field,
      "an object with exactly one of secret_file (a file only its owner can read) or secret_env (an environment variable's name)",
      raw,
    );
  }
  const sendRaw = raw.send_to ?? [];
  if (!Array.isArray(sendRaw)) c.fail(`${field}.send_to`, "a list of origins", sendRaw);
  const send_to = sendRaw.map((entry, i) => {
    const where = `${field}.send_to[${i}]`;
    const url = serverUrl(c, entry, where, rules);
    if (url.pathname !== "/") c.fail(where, "an origin such as https://cdn.example.com", entry);
    return url.origin;
  });
  return {
    scheme,
    username,
    secret_file: c.nullableString(
      file,
      `${field}.secret_file`,
      (p) => p.startsWith("/"),
      "an absolute path",
    ),
    secret_env: c.nullableString(
      env,
      `${field}.secret_env`,
      (name) => ENV_NAME.test(name),
      "an environment variable's name (letters, digits, _)",
    ),
    send_to: [...new Set(send_to)],
  };
}

/**
 * Validate `update_servers` (already an object): names, URLs under the security settings, and each
 * entry's description, risk, own check interval and credentials' source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checker } from "./_config_fields.ts";
 * import { parseServers } from "./_config_channels.ts";
 * const rules = { requireHttps: true, allowedDomains: ["example.com"] };
 * const servers = parseServers(new Checker("c.json"), {
 *   beta: { base_url: "https://u.example.com/beta/", description: "Beta", risk: "high",
 *     check_interval_hours: 6, auth: { scheme: "bearer", secret_env: "BETA_TOKEN" } },
 * }, rules);
 * assert.equal(servers.beta.base_url, "https://u.example.com/beta");
 * assert.deepEqual([servers.beta.risk, servers.beta.check_interval_hours], ["high", 6]);
 * assert.deepEqual(servers.beta.auth?.send_to, []);
 * assert.throws(() => parseServers(new Checker("c.json"), {
 *   beta: { base_url: "https://u.example.com/beta", auth: { scheme: "bearer", token: "s3cret" } },
 * }, rules), /auth\.token must be absent: credentials are never stored in the configuration.*got "a secret"$/);
 * ```
 */
export function parseServers(
  c: Checker,
  raw: Record<string, unknown>,
  rules: UrlRules,
): Record<string, UpdateServer> {
  const servers: Record<string, UpdateServer> = {};
  if (Object.keys(raw).length === 0) {
    c.fail("update_servers", "an object with at least one channel", raw);
  }
  for (const [name, value] of Object.entries(raw)) {
    if (!isChannelName(name)) {
      c.fail(`update_servers key`, "a channel name like stable or canary (a-z, 0-9, -, _)", name);
    }
    const field = `update_servers.${name}`;
    const server = c.object(value, field);
    c.known(server, field, [
      "base_url",
      "mirrors",
      "description",
      "risk",
      "check_interval_hours",
      "auth",
    ]);
    serverUrl(c, server.base_url, `${field}.base_url`, rules);
    const base = (server.base_url as string).replace(/\/+$/, "");
    const mirrorsRaw = "mirrors" in server ? server.mirrors : [];
    if (!Array.isArray(mirrorsRaw) || mirrorsRaw.length > MAX_MIRRORS) {
      c.fail(`${field}.mirrors`, `a list of at most ${MAX_MIRRORS} base URLs`, mirrorsRaw);
    }
    const mirrors: string[] = [];
    for (const [i, entry] of mirrorsRaw.entries()) {
      serverUrl(c, entry, `${field}.mirrors[${i}]`, rules);
      const mirror = (entry as string).replace(/\/+$/, "");
      if (mirror === base || mirrors.includes(mirror)) {
        c.fail(`${field}.mirrors[${i}]`, "a URL not listed before (base_url or a mirror)", entry);
      }
      mirrors.push(mirror);
    }
    const risk = server.risk ?? DEFAULT_RISK;
    if (!RISK_LEVELS.includes(risk as RiskLevel)) {
      c.fail(`${field}.risk`, '"low", "medium" or "high"', risk);
    }
    const interval = server.check_interval_hours ?? null;
    servers[name] = {
      base_url: base,
      mirrors,
      description: "description" in server
        ? c.string(server.description, `${field}.description`)
        : "",
      risk: risk as RiskLevel,
      check_interval_hours: interval === null
        ? null
        : c.number(interval, `${field}.check_interval_hours`, 0, 8760),
      auth: channelAuth(c, server.auth, `${field}.auth`, rules),
    };
  }
  return servers;
}
