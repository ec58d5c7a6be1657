/**
 * The configuration's shape (`update_channel.json`) and its pure validation: a field the document
 * leaves out takes the shipped default (`config/update_channel.json`); an unknown field, a wrong
 * type or a bad value is a `ConfigError` naming the field and the value. Loading and
 * saving the file is lib/core/config.ts.
 *
 * @module
 */
import shipped from "../../config/update_channel.json" with { type: "json" };
import { type KeySet, parseKeySet } from "./keyset.ts";
import {
  hostAllowed,
  isChannelName,
  isFileName,
  isHostName,
  isLoopbackHost,
  isPlatformKey,
} from "./validate.ts";
import { Checker } from "./_config_fields.ts";

/**
 * One channel's update server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, type UpdateServer } from "./config_schema.ts";
 * const stable: UpdateServer = defaultConfig().update_servers.stable;
 * assert.equal(stable.base_url, "https://updates.ms11.com/stable");
 * ```
 */
export interface UpdateServer {
  /** Where the channel's `manifest.json` lives (`<base_url>/manifest.json`). */
  base_url: string;
  /**
   * More base URLs serving the same channel, tried in order after `base_url` when it fails or is
   * behind (lib/trust/mirrors.ts); empty for none.
   */
  mirrors: string[];
  /** Shown to people choosing a channel. */
  description: string;
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

/**
 * Security settings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, type SecurityConfig } from "./config_schema.ts";
 * const security: SecurityConfig = defaultConfig().security;
 * assert.ok(security.require_https && security.verify_signatures);
 * assert.deepEqual(security.allowed_domains, ["updates.ms11.com", "cdn.ms11.com"]);
 * ```
 */
export interface SecurityConfig {
  /** Check each artifact's SHA-256 against the manifest (size is always enforced). */
  verify_checksums: boolean;
  /** Verify manifest signatures against `signing_keys` (false prints a warning at every run). */
  verify_signatures: boolean;
  /** Pinned public keys and threshold per channel. */
  signing_keys: Record<string, KeySet>;
  /** Only `https:` URLs for manifests, artifacts and every redirect hop. */
  require_https: boolean;
  /** Hosts (and their subdomains) that may serve updates; empty allows any host. */
  allowed_domains: string[];
  /**
   * A PEM file of extra CA certificates trusted for update servers (besides the system's), for
   * a company or test CA; null for none.
   */
  ca_file: string | null;
}

/**
 * Which events are announced, and the optional hook command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NotificationsConfig, validateConfig } from "./config_schema.ts";
 * const notifications: NotificationsConfig = validateConfig({
 *   notifications: { command: ["notify-send", "ms11"] },
 * }).notifications;
 * assert.deepEqual(notifications.command, ["notify-send", "ms11"]);
 * assert.equal(notifications.notify_on_failure, true);
 * ```
 */
export interface NotificationsConfig {
  /** Announce that a newer version is available. */
  notify_on_available: boolean;
  /** Announce that a download finished and verified. */
  notify_on_download: boolean;
  /** Announce that a build is staged and will be applied at the next launch. */
  notify_on_ready: boolean;
  /** Announce failures. */
  notify_on_failure: boolean;
  /** Announce a persistent channel change. */
  notify_on_channel_change: boolean;
  /** argv of a command run with the event as JSON on stdin; null for none. */
  command: string[] | null;
}

/**
 * How a new build proves itself healthy (see docs/UPDATE_POLICY.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, type HealthConfig } from "./config_schema.ts";
 * const health: HealthConfig = defaultConfig().health;
 * assert.equal(health.max_attempts, 3);
 * assert.deepEqual(health.smoke_command, ["--version"]);
 * assert.equal(health.failure_exit_codes, null); // every non-zero exit is a failure
 * ```
 */
export interface HealthConfig {
  /** Launches of an unconfirmed build before the next `apply` rolls it back. */
  max_attempts: number;
  /** Arguments to smoke-test a staged executable with before it is swapped in; null: none. */
  smoke_command: string[] | null;
  /** Time allowed for the smoke test. */
  smoke_timeout_seconds: number;
  /** Under `run`: how long a new build must run without failing to be confirmed. */
  health_timeout_seconds: number;
  /** Under `run`: only the application's own `ms11-update confirm` commits a new build. */
  require_confirm: boolean;
  /**
   * Under `run`: the exit codes that are evidence of a broken build (before it proved healthy);
   * null: every non-zero code. Other non-zero codes are no verdict either way.
   */
  failure_exit_codes: number[] | null;
}

/**
 * The validated configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Config, validateConfig } from "./config_schema.ts";
 * const config: Config = validateConfig({ channel: "canary", keep_backups_count: 5 });
 * assert.equal(config.update_servers[config.channel].base_url, "https://updates.ms11.com/canary");
 * assert.equal(config.keep_backups_count, 5);
 * ```
 */
export interface Config {
  /** The channel followed when no `--channel` is given. */
  channel: string;
  /** Whether the application's launcher should check by itself. */
  auto_check_enabled: boolean;
  /** Hours between automatic checks. */
  check_interval_hours: number;
  /** Update server per channel. */
  update_servers: Record<string, UpdateServer>;
  /** Total time allowed for one artifact download. */
  download_timeout_seconds: number;
  /** Attempts per download or manifest fetch (1 = no retry). */
  max_retry_attempts: number;
  /** How many previous builds are kept for rollback. */
  keep_backups_count: number;
  /** Install root; null for the platform default (flags and environment come first). */
  install_root: string | null;
  /** Platform key in manifests (`linux-x64`, …); null to detect. */
  platform: string | null;
  /** File name of the application inside a build, run by launchers as `<root>/current/<executable>`. */
  executable: string;
  /** Security settings. */
  security: SecurityConfig;
  /** Notification settings. */
  notifications: NotificationsConfig;
  /** Health-gated commit and automatic rollback. */
  health: HealthConfig;
}

/** `health.failure_exit_codes`: null, or a non-empty list of distinct codes from 1 to 255. */
function failureCodes(c: Checker, value: unknown): number[] | null {
  if (value === null) return null;
  const field = "health.failure_exit_codes";
  const expected = "null (every non-zero exit) or a non-empty list of exit codes from 1 to 255";
  if (
    !Array.isArray(value) || value.length === 0 ||
    value.some((v) => !Number.isInteger(v) || v < 1 || v > 255) ||
    new Set(value).size !== value.length
  ) c.fail(field, expected, value);
  return [...value as number[]];
}

/**
 * The shipped defaults (`config/update_channel.json`, validated; a deep copy, safe to modify).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "./config_schema.ts";
 * const config = defaultConfig();
 * config.channel = "canary";
 * assert.equal(defaultConfig().channel, "stable");
 * ```
 */
export function defaultConfig(): Config {
  return validateConfig(structuredClone(shipped), { source: "shipped config" });
}

/**
 * Options of {@linkcode validateConfig}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "./config_schema.ts";
 * assert.throws(() => validateConfig({ colour: "blue" }, { source: "/etc/ms11.json" }), {
 *   name: "ConfigError",
 *   message: "Invalid config /etc/ms11.json: unknown field colour",
 * });
 * ```
 */
export interface ValidateConfigOptions {
  /** Named in error messages, e.g. the file path. */
  source?: string;
}

type Raw = Record<string, unknown>;

function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/**
 * A channel's base URL (`base_url` or one of its `mirrors`), checked: an absolute http(s) URL
 * without query, fragment or credentials, https while `require_https`, plain http to a
 * loopback host only, on a host in `allowed_domains`. Returned without its final slashes.
 */
function baseUrl(c: Checker, field: string, value: unknown, security: SecurityConfig): string {
  const base = c.string(value, field);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    c.fail(field, "an absolute URL", base);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    c.fail(field, "an http(s) URL", base);
  }
  if (url.search || url.hash || url.username || url.password) {
    c.fail(field, "a URL without query, fragment or credentials", base);
  }
  if (security.require_https && url.protocol !== "https:") {
    c.fail(field, "an https URL while security.require_https is true", base);
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    c.fail(
      field,
      "an https URL (plain http is only allowed to a loopback host such as 127.0.0.1)",
      base,
    );
  }
  if (!hostAllowed(url.hostname, security.allowed_domains)) {
    c.fail(
      field,
      `on a host in security.allowed_domains (${security.allowed_domains.join(", ")})`,
      base,
    );
  }
  return base.replace(/\/+$/, "");
}

/**
 * Validate a parsed configuration document, filling left-out fields from the shipped defaults.
 * Throws a `ConfigError` naming the first bad field and its value. Channel names, host names,
 * loopback hosts, the allow-list and platform keys follow the shared rules of
 * lib/core/validate.ts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "./config_schema.ts";
 * const config = validateConfig({ channel: "canary" });
 * assert.equal(config.channel, "canary");
 * assert.equal(config.keep_backups_count, 2);
 * assert.throws(() => validateConfig({ platform: "Linux-x64" }), {
 *   name: "ConfigError",
 *   message: 'Invalid config config: platform must be a platform like linux-x64, got "Linux-x64"',
 * });
 * ```
 */
export function validateConfig(raw: unknown, options: ValidateConfigOptions = {}): Config {
  const c: Checker = new Checker(options.source ?? "config");
  const doc = c.object(raw, "the document");
  const defaults = shipped as unknown as Raw;
  const keys = Object.keys(defaults);
  c.known(doc, "", keys);
  const pick = (key: string): unknown => key in doc ? doc[key] : defaults[key];

  const serversRaw = c.object(pick("update_servers"), "update_servers");
  const update_servers: Record<string, UpdateServer> = {};
  if (Object.keys(serversRaw).length === 0) {
    c.fail("update_servers", "an object with at least one channel", serversRaw);
  }
  const secRaw = c.object(pick("security"), "security");
  const secDefaults = defaults.security as Raw;
  c.known(secRaw, "security", Object.keys(secDefaults));
  const sec = (key: string) => key in secRaw ? secRaw[key] : secDefaults[key];
  const allowedRaw = sec("allowed_domains");
  if (!Array.isArray(allowedRaw)) {
    c.fail("security.allowed_domains", "a list of host names", allowedRaw);
  }
  const security: SecurityConfig = {
    verify_checksums: c.bool(sec("verify_checksums"), "security.verify_checksums"),
    verify_signatures: c.bool(sec("verify_signatures"), "security.verify_signatures"),
    require_https: c.bool(sec("require_https"), "security.require_https"),
    signing_keys: {},
    allowed_domains: allowedRaw.map((d, i) =>
      c.string(
        typeof d === "string" ? d.toLowerCase() : d,
        `security.allowed_domains[${i}]`,
        isHostName,
        "a host name",
      )
    ),
    ca_file: c.nullableString(
      sec("ca_file"),
      "security.ca_file",
      isAbsolute,
      "null or an absolute path to a PEM file",
    ),
  };
  const keysRaw = c.object(sec("signing_keys"), "security.signing_keys");
  for (const [name, value] of Object.entries(keysRaw)) {
    if (!isChannelName(name)) {
      c.fail("security.signing_keys key", "a channel name", name);
    }
    const field = `security.signing_keys.${name}`;
    c.known(c.object(value, field), field, ["threshold", "keys"]);
    security.signing_keys[name] = parseKeySet(value, field, (f, e, v) => c.fail(f, e, v));
  }

  for (const [name, value] of Object.entries(serversRaw)) {
    if (!isChannelName(name)) {
      c.fail(`update_servers key`, "a channel name like stable or canary (a-z, 0-9, -, _)", name);
    }
    const field = `update_servers.${name}`;
    const server = c.object(value, field);
    c.known(server, field, ["base_url", "mirrors", "description"]);
    const base = baseUrl(c, `${field}.base_url`, server.base_url, security);
    const mirrorsRaw = "mirrors" in server ? server.mirrors : [];
    if (!Array.isArray(mirrorsRaw) || mirrorsRaw.length > MAX_MIRRORS) {
      c.fail(`${field}.mirrors`, `a list of at most ${MAX_MIRRORS} base URLs`, mirrorsRaw);
    }
    const mirrors: string[] = [];
    for (const [i, value] of mirrorsRaw.entries()) {
      const mirror = baseUrl(c, `${field}.mirrors[${i}]`, value, security);
      if (mirror === base || mirrors.includes(mirror)) {
        c.fail(`${field}.mirrors[${i}]`, "a URL not listed before (base_url or a mirror)", value);
      }
      mirrors.push(mirror);
    }
    update_servers[name] = {
      base_url: base,
      mirrors,
      description: "description" in server
        ? c.string(server.description, `${field}.description`)
        : "",
    };
  }

  const channel = c.string(pick("channel"), "channel");
  if (!Object.hasOwn(update_servers, channel)) {
    c.fail(
      "channel",
      `one of the channels in update_servers (${Object.keys(update_servers).join(", ")})`,
      channel,
    );
  }

  const notRaw = c.object(pick("notifications"), "notifications");
  const notDefaults = defaults.notifications as Raw;
  c.known(notRaw, "notifications", Object.keys(notDefaults));
  const not = (key: string) => key in notRaw ? notRaw[key] : notDefaults[key];
  const command = not("command");
  if (
    command !== null &&
    (!Array.isArray(command) || command.length === 0 ||
      command.some((a) => typeof a !== "string" || a.length === 0))
  ) {
    c.fail("notifications.command", "null or a non-empty list of strings (argv)", command);
  }
  const notifications: NotificationsConfig = {
    notify_on_available: c.bool(not("notify_on_available"), "notifications.notify_on_available"),
    notify_on_download: c.bool(not("notify_on_download"), "notifications.notify_on_download"),
    notify_on_ready: c.bool(not("notify_on_ready"), "notifications.notify_on_ready"),
    notify_on_failure: c.bool(not("notify_on_failure"), "notifications.notify_on_failure"),
    notify_on_channel_change: c.bool(
      not("notify_on_channel_change"),
      "notifications.notify_on_channel_change",
    ),
    command: command as string[] | null,
  };

  const healthRaw = c.object(pick("health"), "health");
  const healthDefaults = defaults.health as Raw;
  c.known(healthRaw, "health", Object.keys(healthDefaults));
  const hp = (key: string) => key in healthRaw ? healthRaw[key] : healthDefaults[key];
  const smoke = hp("smoke_command");
  if (
    smoke !== null &&
    (!Array.isArray(smoke) || smoke.some((a) => typeof a !== "string"))
  ) {
    c.fail("health.smoke_command", "null or a list of strings (arguments)", smoke);
  }
  const health: HealthConfig = {
    max_attempts: c.int(hp("max_attempts"), "health.max_attempts", 1, 100),
    smoke_command: smoke as string[] | null,
    smoke_timeout_seconds: c.number(
      hp("smoke_timeout_seconds"),
      "health.smoke_timeout_seconds",
      0.1,
      3600,
    ),
    health_timeout_seconds: c.number(
      hp("health_timeout_seconds"),
      "health.health_timeout_seconds",
      0,
      86400,
    ),
    require_confirm: c.bool(hp("require_confirm"), "health.require_confirm"),
    failure_exit_codes: failureCodes(c, hp("failure_exit_codes")),
  };

  const executable = c.string(
    pick("executable"),
    "executable",
    isFileName,
    "a file name without slashes",
  );
  return {
    channel,
    auto_check_enabled: c.bool(pick("auto_check_enabled"), "auto_check_enabled"),
    check_interval_hours: c.number(pick("check_interval_hours"), "check_interval_hours", 0, 8760),
    update_servers,
    download_timeout_seconds: c.number(
      pick("download_timeout_seconds"),
      "download_timeout_seconds",
      1,
      86400,
    ),
    max_retry_attempts: c.int(pick("max_retry_attempts"), "max_retry_attempts", 1, 100),
    keep_backups_count: c.int(pick("keep_backups_count"), "keep_backups_count", 0, 100),
    install_root: c.nullableString(
      pick("install_root"),
      "install_root",
      isAbsolute,
      "an absolute path",
    ),
    platform: c.nullableString(
      pick("platform"),
      "platform",
      isPlatformKey,
      "a platform like linux-x64",
    ),
    executable,
    security,
    notifications,
    health,
  };
}
