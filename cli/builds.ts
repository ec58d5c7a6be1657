// The commands about the install's builds and channel: `confirm`, `rollback`, `status` and
// `channel`. They parse options, call lib/actions/ and print.
import { confirmTrial, rollBack } from "../lib/actions/builds.ts";
import {
  listChannels,
  riskSentence,
  switchChannel,
  type SwitchConfirmation,
} from "../lib/actions/channel.ts";
import { installStatus } from "../lib/actions/status.ts";
import { ConfigError } from "../lib/core/errors.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import { describeLifecycle } from "../lib/root/lifecycle.ts";
import type { AuditEntry } from "../lib/root/audit.ts";
import { escapeText as t } from "../lib/core/text.ts";
import { isVersion } from "../lib/core/version.ts";
import { admissionPhrase } from "../lib/core/rollout.ts";
import { actionContext, type Context, type GlobalOptions, loadContext } from "./_context.ts";
import type { UpdateCommandOptions } from "./update.ts";

/**
 * Options of `rollback`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RollbackCommandOptions } from "./builds.ts";
 * const options: RollbackCommandOptions = { root: "/opt/ms11", to: "1.0.0" };
 * assert.equal(options.to, "1.0.0");
 * ```
 */
export interface RollbackCommandOptions extends GlobalOptions {
  to?: string;
  reject?: boolean;
}

/**
 * `ms11-update rollback [--to VERSION] [--reject]`: restore the newest backup that ran healthy
 * (or that version); the replaced build is kept (rejected with `--reject`). A failure is
 * recorded in the install's state; a root with no install is an error, and nothing is created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rollbackCommand } from "./builds.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root` };
 * await assert.rejects(rollbackCommand({ ...options, to: "latest" }), {
 *   name: "ConfigError",
 *   message: 'Invalid --to "latest": expected a version',
 * });
 * await assert.rejects(rollbackCommand(options), /^Error: No install at .*\/root: it does not exist/);
 * await assert.rejects(Deno.stat(`${dir}/root`), Deno.errors.NotFound); // a mistyped root stays so
 * await Deno.mkdir(`${dir}/root/builds`, { recursive: true }); // an install, with nothing current
 * await assert.rejects(rollbackCommand(options), /^Error: Nothing is installed in .*; nothing to roll back$/);
 * const state = JSON.parse(await Deno.readTextFile(`${dir}/root/state.json`));
 * assert.equal(state.last_error.command, "rollback");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function rollbackCommand(options: RollbackCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  if (options.to !== undefined && !isVersion(options.to)) {
    throw new ConfigError(`Invalid --to ${JSON.stringify(options.to)}: expected a version`);
  }
  const report = await rollBack(actionContext(ctx), { to: options.to, reject: options.reject });
  ctx.ui.notice(report.message);
  ctx.ui.data(report.result, "");
  return 0;
}

/**
 * `ms11-update confirm`: the build on trial is healthy; commit it. Nothing on trial is no error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confirmCommand } from "./builds.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * await assert.rejects(confirmCommand(options), /^Error: No install at /); // a mistyped root
 * await Deno.mkdir(`${dir}/root/builds`, { recursive: true }); // an install
 * assert.equal(await confirmCommand(options), 0); // prints {"confirmed": null, …}
 * await assert.rejects(Deno.stat(`${dir}/root/state.json`), Deno.errors.NotFound);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function confirmCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const { message, result } = await confirmTrial(actionContext(ctx));
  ctx.ui.notice(message);
  ctx.ui.data(result, "");
  return 0;
}

/**
 * An audit entry in one line: time, event, reason and its facts, every value escaped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { auditLine } from "./builds.ts";
 * assert.equal(
 *   auditLine({ at: "2026-11-27T00:00:00Z", event: "failed", reason: "x\x1b[2J", command: "check" }),
 *   "2026-11-27T00:00:00Z failed: x\\x1b[2J (command: check)",
 * );
 * ```
 */
export function auditLine(entry: AuditEntry): string {
  const facts = Object.entries(entry)
    .filter(([k, v]) =>
      k !== "at" && k !== "event" && k !== "reason" && v !== null && v !== undefined
    )
    .map(([k, v]) => `${t(k)}: ${t(typeof v === "string" ? v : JSON.stringify(v))}`);
  return `${t(String(entry.at))} ${t(String(entry.event))}: ${t(String(entry.reason ?? ""))}${
    facts.length === 0 ? "" : ` (${facts.join(", ")})`
  }`;
}

/** How many audit entries the human status shows. */
const STATUS_EVENTS = 5;

/**
 * The human form of the status document. Every value read from the state file or the audit log
 * is escaped one by one (lib/core/text.ts): a planted or quoted newline cannot make a line of its
 * own, and no control sequence reaches the terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { statusText } from "./builds.ts";
 * const status = await readStatus(layoutOf(await Deno.makeTempDir()), defaultConfig(), {
 *   platform: "linux-x64",
 * });
 * status.last_error = { at: "2026-11-27T00:00:00Z", command: "check", message: "a\nb" };
 * assert.ok(statusText(status).includes("last error: 2026-11-27T00:00:00Z check: a\\x0ab"));
 * ```
 */
export function statusText(s: StatusDocument): string {
  const listed = (records: StatusDocument["rejected"]) =>
    records.length === 0
      ? "none"
      : records.map((r) => `${t(r.version)} on ${t(r.channel)} (${t(r.reason)})`).join("; ");
  const lines = [
    `root:       ${t(s.root)}`,
    `channel:    ${
      t(s.channel)
    } (${s.channel_info.risk} risk, checked every ${s.channel_info.check_interval_hours} h)${
      s.channel_info.description ? ` - ${t(s.channel_info.description)}` : ""
    }`,
    `platform:   ${t(s.platform)}`,
    `current:    ${
      s.current
        ? `${t(s.current.version)} from ${t(s.current.channel ?? "an unknown channel")}, ${
          t(describeLifecycle(s.current.lifecycle, { current: true }))
        }`
        : "none"
    }`,
    `staged:     ${
      s.staged
        ? `${t(s.staged.version)} from ${t(s.staged.channel)}, applied at next launch`
        : "none"
    }`,
    `trial:      ${
      s.trial
        ? `${
          t(s.trial.version)
        }, launch ${s.trial.attempts} of ${s.trial.max_attempts} without a confirm (falls back to ${
          t(s.trial.from ?? "nothing")
        })`
        : "none"
    }`,
    `backups:    ${
      s.backups.length === 0
        ? "none"
        : s.backups.map((b) =>
          `${t(b.version)} (${t(describeLifecycle(b.lifecycle))}${
            b.retired_at ? `; replaced at ${t(b.retired_at)}` : ""
          })`
        ).join(", ")
    }`,
    `held back:  ${listed(s.held)}`,
    `rejected:   ${listed(s.rejected)}`,
    ...controlsLines(s),
    `last check: ${
      s.last_check
        ? `${t(s.last_check.at)} on ${t(s.last_check.channel)}: ${
          t(s.last_check.available)
        } available (${t(s.last_check.decision)})`
        : "never"
    }`,
    ...(!s.cohort ? [] : [
      `rollout:    ${t(s.cohort.newest)} at ${s.cohort.share_basis_points / 100}%${
        s.cohort.ramp ? " (ramp)" : ""
      }${s.cohort.paused ? ", paused" : ""}; ${
        !s.cohort.in_cohort && s.current?.version === s.cohort.newest
          ? "this install runs it already (taken ahead of the rollout)"
          : admissionPhrase(s.cohort)
      }`,
    ]),
    `served by:  ${
      s.mirror ? `${t(s.mirror.base_url)} (checked ${t(s.mirror.checked_at)})` : "not checked yet"
    }`,
    `last error: ${
      s.last_error
        ? `${t(s.last_error.at)} ${t(s.last_error.command)}: ${t(s.last_error.message)}`
        : "none"
    }`,
    `trust:      ${
      s.trust.problem !== null
        ? t(s.trust.problem)
        : Object.keys(s.trust.channels).length === 0
        ? "nothing accepted yet"
        : Object.entries(s.trust.channels).map(([name, c]) =>
          `${t(name)} serial ${c.serial} (${t(c.version)})`
        ).join(", ")
    }`,
    ...(s.updater === undefined ? [] : [`updater:    ${updaterText(s.updater)}`]),
    `events:     ${s.recent_events.length === 0 ? "none" : ""}`.trimEnd(),
    ...s.recent_events.slice(-STATUS_EVENTS).map((entry) => `  ${auditLine(entry)}`),
  ];
  return lines.join("\n");
}

/** The status's lines about the channel's yanks and minimum version (none when it has none). */
function controlsLines(s: StatusDocument): string[] {
  const c = s.controls;
  const lines: string[] = [];
  if (c !== null && (c.yanked.length > 0 || c.minimum_version !== null)) {
    const yanks = c.yanked.map((y) => `${t(y.version)} (${t(y.reason)})`).join("; ") || "none";
    const minimum = c.minimum_version === null ? "" : `; minimum version ${t(c.minimum_version)}`;
    lines.push(`yanked:     ${yanks}${minimum}`);
  }
  const y = s.current_yanked;
  if (y !== null) {
    lines.push(
      `leaving:    ${t(y.version)} is yanked on ${t(y.channel)} (${
        t(y.reason)
      }): the next launch leaves it for a backup that ran healthy, if there is one`,
    );
  }
  return lines;
}

/** The status's updater line: version, form, path, what is pending, the previous one. */
function updaterText(u: NonNullable<StatusDocument["updater"]>): string {
  const parts = [`${t(u.version)} (${u.form}, ${t(u.path)})`];
  if (u.pending !== null) {
    parts.push(
      `${t(u.pending.version)} staged from ${t(u.pending.channel)}, takes over at next launch`,
    );
  }
  if (u.previous !== null) parts.push(`previous ${t(u.previous)} kept`);
  if (u.problem !== null) parts.push(t(u.problem));
  return parts.join("; ");
}

/**
 * `ms11-update status [--json]`: the status document (docs/STATUS.md), read-only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusCommand } from "./builds.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * await assert.rejects(statusCommand(options), /^Error: No install at .*: it does not exist/);
 * await assert.rejects(Deno.stat(`${dir}/root`), Deno.errors.NotFound); // nothing written
 * await Deno.mkdir(`${dir}/root/builds`, { recursive: true }); // an install
 * assert.equal(await statusCommand(options), 0); // prints {"schema": 2, …, "current": null, …}
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function statusCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const status = await installStatus(actionContext(ctx), { channel: options.channel });
  if (status.state_problem) ctx.ui.warn(status.state_problem);
  if (status.trust.problem) ctx.ui.warn(status.trust.problem);
  ctx.ui.data(status, statusText(status));
  return 0;
}

/**
 * Options of `channel`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelCommandOptions } from "./builds.ts";
 * const options: ChannelCommandOptions = { keepCurrent: true, yes: true };
 * assert.equal(options.allowDowngrade, undefined);
 * ```
 */
export interface ChannelCommandOptions extends GlobalOptions {
  allowDowngrade?: boolean;
  keepCurrent?: boolean;
  /** Consent to a channel of a higher risk. */
  yes?: boolean;
}

/**
 * The answers to a switch's questions (a riskier channel, a downgrade): from the flags, else asked
 * on a terminal, in one question; without an answer the switch is refused, naming the flags.
 */
async function switchAnswers(
  ctx: Context,
  options: ChannelCommandOptions,
  c: SwitchConfirmation,
): Promise<{ acceptRisk: boolean; downgrade?: "install" | "keep" }> {
  const flagged = options.allowDowngrade ? "install" : options.keepCurrent ? "keep" : undefined;
  const risk = c.risk !== null && !options.yes ? c.risk : null;
  const downgrade = c.available !== null && c.current !== null && flagged === undefined
    ? { available: c.available, current: c.current }
    : null;
  if (risk === null && downgrade === null) return { acceptRisk: true, downgrade: flagged };
  const lower = downgrade === null
    ? ""
    : `${c.channel}'s newest release ${downgrade.available} is lower than the installed ${downgrade.current}`;
  const question = downgrade === null
    ? `${riskSentence(risk!)}. Switch to ${c.channel}? [y/N]`
    : `${
      risk === null ? "" : `${riskSentence(risk)}. `
    }${lower}. Switch to ${c.channel} and install ${downgrade.available} (a downgrade), keep ${downgrade.current} until ${c.channel} catches up, or cancel? [install/keep/Cancel]`;
  const answer = await ctx.ui.ask(question);
  if (downgrade === null && (answer === "y" || answer === "yes")) {
    return { acceptRisk: true, downgrade: flagged };
  }
  if (downgrade !== null && (answer === "i" || answer === "install")) {
    return { acceptRisk: true, downgrade: "install" };
  }
  if (downgrade !== null && (answer === "k" || answer === "keep")) {
    return { acceptRisk: true, downgrade: "keep" };
  }
  const pass = answer === null ? "pass" : "cancelled; pass";
  const flags = [
    ...(risk === null ? [] : ["--yes to accept the risk"]),
    ...(downgrade === null ? [] : [
      `--allow-downgrade to switch and install ${downgrade.available}, or --keep-current to switch and keep ${downgrade.current}`,
    ]),
  ].join(", and ");
  throw new Error(
    `${
      downgrade === null
        ? riskSentence(risk!)
        : risk === null
        ? lower
        : `${riskSentence(risk)}; ${lower}`
    }: the channel was not switched (${pass} ${flags})`,
  );
}

/**
 * `ms11-update channel [NAME]`: show channels (with their risk, check interval and description),
 * or persist a switch in the configuration file. A switch to a channel of a higher risk shows its
 * risk and description and asks first, and so does one that would mean a downgrade (the new
 * channel's newest release is lower than the installed build), as the dashboard does: on a
 * terminal, else `--yes` and `--allow-downgrade` or `--keep-current` answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelCommand } from "./builds.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * await assert.rejects(channelCommand("canary", options), {
 *   message: /^canary is a high-risk channel \(stable is low-risk\): .*: the channel was not switched \(pass --yes to accept the risk\)$/,
 * });
 * assert.equal(await channelCommand("canary", { ...options, yes: true }), 0);
 * assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).channel, "canary");
 * await assert.rejects(channelCommand("beta", options), {
 *   name: "ConfigError",
 *   message: 'Unknown channel "beta": configured channels are stable, canary',
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function channelCommand(
  name: string | undefined,
  options: ChannelCommandOptions,
): Promise<number> {
  const ctx = await loadContext(options);
  if (name === undefined) {
    const channels = listChannels(actionContext(ctx));
    ctx.ui.data(
      { channel: ctx.config.channel, channels },
      channels.map((c) =>
        `${c.current ? "*" : " "} ${c.name.padEnd(10)} ${`${c.risk} risk`.padEnd(11)} ${
          `every ${c.check_interval_hours} h`.padEnd(11)
        } ${c.description}`.trimEnd()
      ).join("\n"),
    );
    return 0;
  }
  if (options.allowDowngrade && options.keepCurrent) {
    throw new ConfigError("Pass --allow-downgrade or --keep-current, not both");
  }
  let report = await switchChannel(actionContext(ctx), name, { acceptRisk: options.yes });
  if (report.confirmation !== null) {
    const answers = await switchAnswers(ctx, options, report.confirmation);
    report = await switchChannel(
      actionContext(ctx, { progress: answers.downgrade === "install" }),
      name,
      answers,
    );
    // Asked again only if the channel changed between the two looks (a release just published).
    if (report.confirmation !== null) throw new Error(report.message);
  }
  ctx.ui.notice(report.message);
  ctx.ui.data(
    {
      channel: report.channel,
      previous: report.previous,
      config: report.config,
      ...(report.update === null ? {} : { update: report.update }),
    },
    "",
  );
  return 0;
}
