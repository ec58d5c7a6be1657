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
import { isChannelName, isFileName, isHostName, isPlatformKey } from "./validate.ts";
import { Checker } from "./_config_fields.ts";
import { parseServers, type UpdateServer } from "./_config_channels.ts";

export { baseUrls, MAX_MIRRORS, RISK_LEVELS } from "./_config_channels.ts";
export type { ChannelAuth, RiskLevel, UpdateServer } from "./_config_channels.ts";

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
  /**
   * argv of a scanner run on every staged build before it may become current (the build's folder
   * is appended), e.g. `["clamscan", "--no-summary", "--infected", "-r"]`; null: no scan.
   */
  scan_command: string[] | null;
  /** Time allowed for the scan; a scanner that takes longer is killed and counts as failed. */
  scan_timeout_seconds: number;
  /**
   * The exit codes that mean "a threat was found" (clamscan: `[1]`); other non-zero codes mean
   * the scanner failed. Null: every non-zero exit is a threat found.
   */
  scan_infected_exit_codes: number[] | null;
  /**
   * A scanner that cannot start, times out, crashes or fails: `refuse` (the default) stages
   * nothing; `allow` stages the build unscanned, with a warning.
   */
  scan_on_error: "refuse" | "allow";
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
  /** Take every release ahead of its staged rollout, as `--now` does (early adopters, testers). */
  rollout_early_adopter: boolean;
  /** Hours between automatic checks. */
  check_interval_hours: number;
  /** Whether an update may download a delta instead of the full build (docs/DELTA.md). */
  delta_updates: boolean;
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

/**
 * `security.scan_command`: null, or an argv whose program is a bare name (looked up on PATH) or
 * an absolute path: never a shell line, never a path relative to wherever the updater runs.
 */
function scanCommand(c: Checker, value: unknown): string[] | null {
  if (value === null) return null;
  if (
    !Array.isArray(value) || value.length === 0 ||
    value.some((a) => typeof a !== "string" || a.length === 0 || a.includes("\0"))
  ) {
    c.fail("security.scan_command", "null or a non-empty list of strings (argv, no shell)", value);
  }
  const program = value[0] as string;
  if (program.includes("/") && !isAbsolute(program)) {
    c.fail(
      "security.scan_command[0]",
      "a program name found on PATH or an absolute path",
      program,
    );
  }
  return [...value as string[]];
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
    scan_command: scanCommand(c, sec("scan_command")),
    scan_timeout_seconds: c.number(
      sec("scan_timeout_seconds"),
      "security.scan_timeout_seconds",
      1,
      86400,
    ),
    scan_infected_exit_codes: c.exitCodes(
      sec("scan_infected_exit_codes"),
      "security.scan_infected_exit_codes",
    ),
    scan_on_error: c.string(
      sec("scan_on_error"),
      "security.scan_on_error",
      (v) => v === "refuse" || v === "allow",
      '"refuse" or "allow"',
    ) as "refuse" | "allow",
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

  const update_servers = parseServers(c, c.object(pick("update_servers"), "update_servers"), {
    requireHttps: security.require_https,
    allowedDomains: security.allowed_domains,
  });

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
    failure_exit_codes: c.exitCodes(hp("failure_exit_codes"), "health.failure_exit_codes"),
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
    rollout_early_adopter: c.bool(pick("rollout_early_adopter"), "rollout_early_adopter"),
    check_interval_hours: c.number(pick("check_interval_hours"), "check_interval_hours", 0, 8760),
    delta_updates: c.bool(pick("delta_updates"), "delta_updates"),
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
