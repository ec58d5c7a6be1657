/**
 * The channel use cases both front ends call: list the configured channels, ask each for its
 * newest release, and switch channel persistently — asking first when the switch would mean a
 * downgrade.
 *
 * @module
 */
import { type RolloutFacts, rolloutFacts } from "./_rollout_facts.ts";
import { peekInstallId } from "../root/install_id.ts";
import {
  checkInterval,
  resolveChannel,
  type RiskIncrease,
  riskIncrease,
  type UpdateDecision,
} from "../core/channel.ts";
import type { RiskLevel } from "../core/config_schema.ts";
import { setConfigField } from "../core/config.ts";
import type { Env } from "../core/env.ts";
import { httpEnv } from "../net/http_env.ts";
import { currentVersion, installProblem } from "../root/layout.ts";
import { readState } from "../root/state.ts";
import { readTrust, trustedFor } from "../root/trust_state.ts";
import { checkChannel } from "../trust/check.ts";
import { runAction } from "./_act.ts";
import type { ActionContext } from "./context.ts";
import { updateFromChannel, type UpdateSummary } from "./update.ts";

/**
 * One configured channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelEntry } from "./channel.ts";
 * const entry: ChannelEntry = { name: "stable", description: "Stable releases",
 *   base_url: "https://updates.example.com/stable", current: true, risk: "low",
 *   check_interval_hours: 24 };
 * assert.ok(entry.current);
 * ```
 */
export interface ChannelEntry {
  /** The channel's name. */
  name: string;
  /** Its description. */
  description: string;
  /** Its update server. */
  base_url: string;
  /** Whether it is the configured channel. */
  current: boolean;
  /** How risky its releases are. */
  risk: RiskLevel;
  /** Hours between its automatic checks (its own, else the top-level `check_interval_hours`). */
  check_interval_hours: number;
}

/**
 * The configured channels, the configured one marked (reads no network).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { listChannels } from "./channel.ts";
 * const ctx = { layout: layoutOf("/tmp/x"), config: defaultConfig(), configPath: "c.json",
 *   platform: "linux-x64" };
 * assert.ok(listChannels(ctx).some((c) => c.current));
 * ```
 */
export function listChannels(ctx: ActionContext): ChannelEntry[] {
  return Object.entries(ctx.config.update_servers).map(([name, server]) => ({
    name,
    description: server.description,
    base_url: server.base_url,
    current: name === ctx.config.channel,
    risk: server.risk,
    check_interval_hours: checkInterval(ctx.config, name).hours,
  }));
}

/**
 * A channel and what its manifest says now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelProbe } from "./channel.ts";
 * const down: ChannelProbe = { name: "canary", description: "Daily builds", risk: "high",
 *   configured: false, available: null, decision: null, error: "Connection refused" };
 * assert.equal(down.available, null);
 * ```
 */
export interface ChannelProbe {
  /** The channel's name. */
  name: string;
  /** Its description. */
  description: string;
  /** How risky its releases are. */
  risk: RiskLevel;
  /** Whether it is the configured channel. */
  configured: boolean;
  /** Its newest release, when its manifest could be read and trusted. */
  available: {
    version: string;
    released_at: string;
    notes: string | null;
    size: number;
  } | null;
  /** What an update from it would do. */
  decision: UpdateDecision | null;
  /** Its staged rollout as it applies to this install (absent: none). */
  rollout?: RolloutFacts;
  /** Why its manifest could not be read or trusted. */
  error: string | null;
}

/**
 * Options of {@linkcode probeChannels}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProbeChannelsOptions } from "./channel.ts";
 * const options: ProbeChannelsOptions = { timeoutMs: 2000 };
 * assert.equal(options.timeoutMs, 2000);
 * ```
 */
export interface ProbeChannelsOptions {
  /** Longest wait for one channel's manifest, in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/**
 * Ask every configured channel for its newest release (in parallel, one attempt each, within
 * `timeoutMs`); a channel that cannot be read carries its error instead. Records nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { testEnv } from "../core/env.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { probeChannels } from "./channel.ts";
 * const env = testEnv(new Date(), () => Promise.reject(new TypeError("Offline")));
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "c.json", platform: "linux-x64", env };
 * const probes = await probeChannels(ctx);
 * assert.ok(probes.every((p) => p.available === null && p.error !== null));
 * ```
 */
export async function probeChannels(
  ctx: ActionContext,
  options: ProbeChannelsOptions = {},
): Promise<ChannelProbe[]> {
  const { config } = ctx;
  const { state } = await readState(ctx.layout);
  const trust = await readTrust(ctx.layout);
  const current = await currentVersion(ctx.layout);
  const timeoutMs = options.timeoutMs ?? 10_000;
  using own = ctx.env === undefined ? await httpEnv({ caFile: config.security.ca_file }) : null;
  const base = ctx.env ?? own!;
  const env: Env = {
    now: () => base.now(),
    fetch: (input, init) => {
      const signal = AbortSignal.timeout(timeoutMs);
      return base.fetch(input, {
        ...init,
        signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
      });
    },
  };
  const installId = await peekInstallId(ctx.layout);
  return await Promise.all(
    Object.entries(config.update_servers).map(async ([name, server]) => {
      const probe: ChannelProbe = {
        name,
        description: server.description,
        risk: server.risk,
        configured: name === config.channel,
        available: null,
        decision: null,
        error: null,
      };
      try {
        const check = await checkChannel({ ...config, max_retry_attempts: 1 }, {
          channel: name,
          platform: ctx.platform,
          current,
          state,
          trusted: config.security.verify_signatures ? trustedFor(ctx.layout, trust, name) : null,
          env,
          installId: installId ?? undefined,
        });
        probe.available = {
          version: check.manifest.version,
          released_at: check.manifest.released_at,
          notes: check.manifest.notes,
          size: check.artifact.size,
        };
        probe.decision = check.decision;
        Object.assign(probe, rolloutFacts(check, { admission: true }));
      } catch (error) {
        probe.error = (error as Error).message;
      }
      return probe;
    }),
  );
}

/**
 * Options of {@linkcode switchChannel}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SwitchChannelOptions } from "./channel.ts";
 * const keep: SwitchChannelOptions = { downgrade: "keep", acceptRisk: true };
 * assert.equal(keep.skipCheck, undefined);
 * ```
 */
export interface SwitchChannelOptions {
  /**
   * The answer when the new channel's newest release is lower than the installed build:
   * `install` switches and installs it (a downgrade), `keep` switches and keeps the installed
   * build until the channel catches up. Without an answer the channel is checked first, and a
   * switch that would downgrade is not made: the report asks for a confirmation instead.
   */
  downgrade?: "install" | "keep";
  /**
   * Consent to a channel of a higher risk than the configured one (`--yes`). Without it such a
   * switch is not made: the report asks for a confirmation showing the channel's risk and
   * description.
   */
  acceptRisk?: boolean;
  /** Switch without checking the new channel's releases first (no downgrade question is asked). */
  skipCheck?: boolean;
}

/**
 * A switch that needs an answer first: the new channel is riskier, or its newest release is lower
 * than the installed build (or both). Nothing was changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SwitchConfirmation } from "./channel.ts";
 * const ask: SwitchConfirmation = { channel: "canary", available: null, current: null,
 *   risk: { channel: "canary", risk: "high", from: "stable", previous: "low",
 *     description: "Daily builds" } };
 * assert.equal(ask.risk?.risk, "high");
 * ```
 */
export interface SwitchConfirmation {
  /** The channel to switch to. */
  channel: string;
  /** Its newest release, when it is lower than the installed build (a downgrade); else null. */
  available: string | null;
  /** The installed version, with `available`; else null. */
  current: string | null;
  /** Its risk, when it is higher than the configured channel's and not yet accepted; else null. */
  risk: RiskIncrease | null;
}

/**
 * The sentence for people asking about a riskier channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { riskSentence } from "./channel.ts";
 * assert.equal(riskSentence({ channel: "canary", risk: "high", from: "stable", previous: "low",
 *   description: "Daily builds, for testers" }),
 *   "canary is a high-risk channel (stable is low-risk): Daily builds, for testers");
 * ```
 */
export function riskSentence(risk: RiskIncrease): string {
  const about = risk.description === "" ? "" : `: ${risk.description}`;
  return `${risk.channel} is a ${risk.risk}-risk channel (${risk.from} is ${risk.previous}-risk)${about}`;
}

/**
 * What {@linkcode switchChannel} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SwitchReport } from "./channel.ts";
 * const report: SwitchReport = { message: "Already on stable", channel: "stable",
 *   previous: "stable", config: "c.json", confirmation: null, update: null };
 * assert.equal(report.confirmation, null);
 * ```
 */
export interface SwitchReport {
  /** One line for people. */
  message: string;
  /** The channel configured now (the old one when a confirmation is asked). */
  channel: string;
  /** The channel configured before. */
  previous: string;
  /** The configuration file. */
  config: string;
  /** Set when the switch needs an answer (a riskier channel, a downgrade): nothing was changed. */
  confirmation: SwitchConfirmation | null;
  /** The update made with `downgrade: "install"`. */
  update: UpdateSummary | null;
}

/**
 * Switch channel persistently: change the `channel` field of the configuration file (only that
 * field: the rest of the file stays as the user wrote it) and announce `channel_changed`.
 * Unknown channels are a `ConfigError`. A switch to a channel of a higher risk than the configured
 * one's, or (checked first unless `skipCheck`) one whose newest release is lower than the
 * installed build, changes nothing without its answer (`acceptRisk`, `downgrade`): the report
 * carries the question (`confirmation`) instead, both asked at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { switchChannel } from "./channel.ts";
 * const dir = await Deno.makeTempDir();
 * const ctx = { layout: layoutOf(dir), config: defaultConfig(), configPath: `${dir}/c.json`,
 *   platform: "linux-x64" };
 * const asked = await switchChannel(ctx, "canary", { skipCheck: true }); // stable low, canary high
 * assert.deepEqual([asked.channel, asked.confirmation?.risk?.risk], ["stable", "high"]);
 * const report = await switchChannel(ctx, "canary", { skipCheck: true, acceptRisk: true });
 * assert.equal(report.channel, "canary");
 * assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/c.json`)).channel, "canary");
 * ```
 */
export async function switchChannel(
  ctx: ActionContext,
  name: string,
  options: SwitchChannelOptions = {},
): Promise<SwitchReport> {
  const channel = resolveChannel(ctx.config, name);
  const previous = ctx.config.channel;
  let config = ctx.config;
  const base = { channel, previous, config: ctx.configPath, confirmation: null, update: null };
  const switched: SwitchReport = await runAction(
    ctx,
    { command: "channel", channel },
    async (announce) => {
      // A switch is about the configuration: with no install at the root there is nothing to
      // downgrade, and nothing is created there.
      const installed = (await installProblem(ctx.layout)) === null;
      const current = installed ? await currentVersion(ctx.layout) : null;
      let warning = "";
      // A riskier channel asks first, whatever the releases say; the question is asked together
      // with the downgrade one, when there is one, so that people answer once.
      const raised = options.acceptRisk ? null : riskIncrease(config, previous, channel);
      let downgrade: { available: string; current: string } | null = null;
      if (options.downgrade === undefined && !options.skipCheck && current !== null) {
        const { state } = await readState(ctx.layout);
        try {
          const check = await checkChannel(config, {
            channel,
            platform: ctx.platform,
            current,
            state,
            trusted: config.security.verify_signatures
              ? trustedFor(ctx.layout, await readTrust(ctx.layout), channel)
              : null,
            env: ctx.env,
            installId: (await peekInstallId(ctx.layout)) ?? undefined,
          });
          if (check.decision.action === "none" && check.decision.reason === "downgrade-refused") {
            downgrade = { available: check.manifest.version, current };
          }
        } catch (error) {
          warning = ` (could not check ${channel}: ${(error as Error).message})`;
        }
      }
      if (raised !== null || downgrade !== null) {
        const asks = [
          ...(raised === null
            ? []
            : [`${riskSentence(raised)}: confirm the switch (accept the risk)`]),
          ...(downgrade === null ? [] : [
            `${channel}'s newest release ${downgrade.available} is lower than the installed ${downgrade.current}: confirm the switch (downgrade "install" or "keep")`,
          ]),
        ];
        return {
          ...base,
          channel: previous,
          message: asks.join("; "),
          confirmation: {
            channel,
            available: downgrade?.available ?? null,
            current: downgrade?.current ?? null,
            risk: raised,
          },
        };
      }
      if (channel !== previous) {
        config = await setConfigField(ctx.configPath, "channel", channel);
        announce({
          type: "channel_changed",
          at: (ctx.env?.now() ?? new Date()).toISOString(),
          channel,
          version: null,
          current,
          message: `Channel changed: ${previous} -> ${channel} (saved in ${ctx.configPath})`,
        });
      }
      const done = channel === previous
        ? `Already on ${channel}`
        : `Switched channel ${previous} -> ${channel}`;
      return {
        ...base,
        message: options.downgrade === "keep" && current
          ? `${done}; keeping ${current} until ${channel} catches up`
          : options.downgrade === "install"
          ? done
          : `${done}${warning}`,
      };
    },
  );
  if (switched.confirmation !== null || options.downgrade !== "install") return switched;
  // The update is an action of its own: its failure is recorded as an update's.
  const update = await updateFromChannel({ ...ctx, config }, { channel, allowDowngrade: true });
  const then = update.message.charAt(0).toLowerCase() + update.message.slice(1);
  return { ...switched, message: `${switched.message}; ${then}`, update: update.summary };
}
