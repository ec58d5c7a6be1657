/**
 * Channels and the pure update decision: which channel applies, and whether a channel's newest
 * release should be installed over what is there.
 *
 * @module
 */
import { type Config, RISK_LEVELS, type RiskLevel } from "./config_schema.ts";
import { ConfigError } from "./errors.ts";
import type { LifecycleRecord } from "../root/lifecycle.ts";
import { compareVersions } from "./version.ts";

/**
 * The channel to use: the one given for this run, else the configured one. An unknown channel
 * is a {@linkcode ConfigError} listing the configured ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./errors.ts";
 * import { resolveChannel } from "./channel.ts";
 * import { defaultConfig } from "./config.ts";
 * const config = defaultConfig();
 * assert.equal(resolveChannel(config), config.channel);
 * assert.equal(resolveChannel(config, "canary"), "canary");
 * assert.throws(() => resolveChannel(config, "nightly"), ConfigError);
 * ```
 */
export function resolveChannel(config: Config, requested?: string): string {
  const channel = requested ?? config.channel;
  if (!Object.hasOwn(config.update_servers, channel)) {
    throw new ConfigError(
      `Unknown channel ${JSON.stringify(channel)}: configured channels are ${
        Object.keys(config.update_servers).join(", ")
      }`,
    );
  }
  return channel;
}

/**
 * A channel's interval between automatic checks, and the field it comes from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CheckInterval } from "./channel.ts";
 * const interval: CheckInterval = { hours: 6, field: "update_servers.canary.check_interval_hours" };
 * assert.equal(interval.hours * 3_600_000, 21_600_000);
 * ```
 */
export interface CheckInterval {
  /** Hours between automatic checks. */
  hours: number;
  /** The setting that says so (`update_servers.<name>.check_interval_hours` or the top level's). */
  field: string;
}

/**
 * How often `channel` is checked by unattended runs: its own `check_interval_hours`, else the
 * top-level one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkInterval } from "./channel.ts";
 * import { defaultConfig } from "./config.ts";
 * const config = defaultConfig();
 * assert.deepEqual(checkInterval(config, "canary"),
 *   { hours: 6, field: "update_servers.canary.check_interval_hours" });
 * assert.deepEqual(checkInterval(config, "stable"), { hours: 24, field: "check_interval_hours" });
 * ```
 */
export function checkInterval(config: Config, channel: string): CheckInterval {
  const own = Object.hasOwn(config.update_servers, channel)
    ? config.update_servers[channel].check_interval_hours
    : null;
  return own === null
    ? { hours: config.check_interval_hours, field: "check_interval_hours" }
    : { hours: own, field: `update_servers.${channel}.check_interval_hours` };
}

/**
 * What a switch to a riskier channel asks consent for: its risk, the current channel's, and its
 * description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RiskIncrease } from "./channel.ts";
 * const raised: RiskIncrease = { channel: "canary", risk: "high", from: "stable",
 *   previous: "low", description: "Early access releases" };
 * assert.notEqual(raised.risk, raised.previous);
 * ```
 */
export interface RiskIncrease {
  /** The channel switched to. */
  channel: string;
  /** Its risk. */
  risk: RiskLevel;
  /** The channel configured now. */
  from: string;
  /** Its risk. */
  previous: RiskLevel;
  /** Its description. */
  description: string;
}

/**
 * Whether switching from channel `from` to channel `to` raises the risk (pure): the new channel's
 * risk and description when it does, null when the risk stays or falls.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { riskIncrease } from "./channel.ts";
 * import { defaultConfig } from "./config.ts";
 * const config = defaultConfig(); // stable: low, canary: high
 * assert.deepEqual(riskIncrease(config, "stable", "canary"), { channel: "canary", risk: "high",
 *   from: "stable", previous: "low", description: config.update_servers.canary.description });
 * assert.equal(riskIncrease(config, "canary", "stable"), null);
 * assert.equal(riskIncrease(config, "canary", "canary"), null);
 * ```
 */
export function riskIncrease(config: Config, from: string, to: string): RiskIncrease | null {
  const server = config.update_servers[to];
  const previous = Object.hasOwn(config.update_servers, from)
    ? config.update_servers[from].risk
    : "low";
  if (RISK_LEVELS.indexOf(server.risk) <= RISK_LEVELS.indexOf(previous)) return null;
  return { channel: to, risk: server.risk, from, previous, description: server.description };
}

/**
 * Options of {@linkcode decideUpdate}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideUpdate, type DecideUpdateOptions } from "./channel.ts";
 * const options: DecideUpdateOptions = { channel: "stable", staged: "1.1.0" };
 * assert.equal(decideUpdate("1.0.0", "1.1.0", options).action, "none");
 * const lifecycle = [{ version: "1.1.0", channel: "stable", state: "rejected" as const,
 *   reason: "failed its health check", at: "2026-01-01T00:00:00Z", held: null }];
 * assert.equal(decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle }).action, "none");
 * assert.equal(decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle, force: true }).action, "update");
 * ```
 */
export interface DecideUpdateOptions {
  /** The channel the manifest came from. */
  channel: string;
  /** Install a lower version when the channel's newest is below the installed one. */
  allowDowngrade?: boolean;
  /** The version already staged for the next launch, if any. */
  staged?: string | null;
  /** The install's build lifecycle: rejected and held versions are skipped on their channel. */
  lifecycle?: readonly LifecycleRecord[];
  /** Install even a rejected or held version. */
  force?: boolean;
}

/**
 * What to do about a channel's newest release.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideUpdate, type UpdateDecision } from "./channel.ts";
 * const next = (d: UpdateDecision) => d.action === "update" ? d.version : d.reason;
 * assert.equal(next(decideUpdate("1.0.0", "1.1.0", { channel: "stable" })), "1.1.0");
 * assert.equal(next(decideUpdate("1.1.0", "1.1.0", { channel: "stable" })), "up-to-date");
 * ```
 */
export type UpdateDecision =
  | {
    /** Download, verify and stage `version`. */
    action: "update";
    /** The version to install. */
    version: string;
    /** Whether it is lower than the installed one (explicitly allowed). */
    downgrade: boolean;
    /** One sentence for people. */
    message: string;
  }
  | {
    /** Nothing to install. */
    action: "none";
    /** Why not. */
    reason:
      | "up-to-date"
      | "already-staged"
      | "downgrade-refused"
      | "rejected"
      | "held"
      | "not-offered";
    /** One sentence for people. */
    message: string;
  };

/**
 * Decide whether to install `available` over `current`. Pure: touches nothing. A version
 * rejected on the channel, or held back there (rolled back from by hand), is skipped unless
 * `force`; the version running now is up to date whatever its past.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideUpdate } from "./channel.ts";
 * const d = decideUpdate("1.0.0", "1.1.0", { channel: "stable" });
 * assert.deepEqual(d, {
 *   action: "update",
 *   version: "1.1.0",
 *   downgrade: false,
 *   message: "Update available: 1.0.0 -> 1.1.0 on stable",
 * });
 * const down = decideUpdate("1.5.0-canary.3", "1.4.0", { channel: "stable" });
 * assert.equal(down.action === "none" && down.reason, "downgrade-refused");
 * const allowed = decideUpdate("1.5.0-canary.3", "1.4.0", { channel: "stable", allowDowngrade: true });
 * assert.equal(allowed.action === "update" && allowed.downgrade, true);
 * ```
 */
export function decideUpdate(
  current: string | null,
  available: string,
  options: DecideUpdateOptions,
): UpdateDecision {
  const { channel } = options;
  if (options.staged === available) {
    return {
      action: "none",
      reason: "already-staged",
      message: `${available} from ${channel} is already staged; it is applied at the next launch`,
    };
  }
  if (current !== null && compareVersions(available, current) === 0) {
    return {
      action: "none",
      reason: "up-to-date",
      message: `${current} is the newest release on ${channel}`,
    };
  }
  const record = options.lifecycle?.find((r) => r.version === available && r.channel === channel);
  const skip = record?.state === "rejected"
    ? { reason: "rejected" as const, why: `rejected: ${record.reason}` }
    : record?.held
    ? { reason: "held" as const, why: `held back: ${record.held.reason}` }
    : null;
  if (skip !== null && !options.force) {
    return {
      action: "none",
      reason: skip.reason,
      message:
        `${available} on ${channel} is skipped (${skip.why}); a newer release or --force installs it`,
    };
  }
  if (current === null) {
    return {
      action: "update",
      version: available,
      downgrade: false,
      message: `${available} is available on ${channel} (nothing is installed)`,
    };
  }
  if (compareVersions(available, current) > 0) {
    return {
      action: "update",
      version: available,
      downgrade: false,
      message: `Update available: ${current} -> ${available} on ${channel}`,
    };
  }
  if (options.allowDowngrade) {
    return {
      action: "update",
      version: available,
      downgrade: true,
      message: `Downgrading ${current} -> ${available} on ${channel} (--allow-downgrade)`,
    };
  }
  return {
    action: "none",
    reason: "downgrade-refused",
    message:
      `${channel}'s newest release ${available} is lower than the installed ${current}; not downgrading (pass --allow-downgrade to install ${available})`,
  };
}
