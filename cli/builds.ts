// The commands about the install's builds and channel: `confirm`, `rollback`, `status` and
// `channel`. They parse options, call lib/actions/ and print.
import { confirmTrial, rollBack } from "../lib/actions/builds.ts";
import { listChannels, switchChannel } from "../lib/actions/channel.ts";
import { installStatus } from "../lib/actions/status.ts";
import { ConfigError } from "../lib/core/errors.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import { describeLifecycle } from "../lib/root/lifecycle.ts";
import type { AuditEntry } from "../lib/root/audit.ts";
import { escapeText as t } from "../lib/core/text.ts";
import { isVersion } from "../lib/core/version.ts";
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
    `channel:    ${t(s.channel)}`,
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
    `last check: ${
      s.last_check
        ? `${t(s.last_check.at)} on ${t(s.last_check.channel)}: ${
          t(s.last_check.available)
        } available (${t(s.last_check.decision)})`
        : "never"
    }`,
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
 * const options: ChannelCommandOptions = { keepCurrent: true };
 * assert.equal(options.allowDowngrade, undefined);
 * ```
 */
export interface ChannelCommandOptions extends GlobalOptions {
  allowDowngrade?: boolean;
  keepCurrent?: boolean;
}

/** The answer to a channel switch that would downgrade: from the flags, else asked on a terminal. */
async function downgradeAnswer(
  ctx: Context,
  options: ChannelCommandOptions,
  c: { channel: string; available: string; current: string },
): Promise<"install" | "keep"> {
  if (options.allowDowngrade) return "install";
  if (options.keepCurrent) return "keep";
  const question =
    `${c.channel}'s newest release ${c.available} is lower than the installed ${c.current}. Switch to ${c.channel} and install ${c.available} (a downgrade), keep ${c.current} until ${c.channel} catches up, or cancel? [install/keep/Cancel]`;
  const answer = await ctx.ui.ask(question);
  if (answer === "i" || answer === "install") return "install";
  if (answer === "k" || answer === "keep") return "keep";
  throw new Error(
    `${c.channel}'s newest release ${c.available} is lower than the installed ${c.current}: the channel was not switched (${
      answer === null ? "pass" : "cancelled; pass"
    } --allow-downgrade to switch and install ${c.available}, or --keep-current to switch and keep ${c.current})`,
  );
}

/**
 * `ms11-update channel [NAME]`: show channels, or persist a switch in the configuration file. A
 * switch that would mean a downgrade (the new channel's newest release is lower than the
 * installed build) asks first, as the dashboard does: on a terminal, else `--allow-downgrade` or
 * `--keep-current` answers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelCommand } from "./builds.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * assert.equal(await channelCommand("canary", options), 0);
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
      channels.map((c) => `${c.current ? "*" : " "} ${c.name.padEnd(10)} ${c.description}`).join(
        "\n",
      ),
    );
    return 0;
  }
  if (options.allowDowngrade && options.keepCurrent) {
    throw new ConfigError("Pass --allow-downgrade or --keep-current, not both");
  }
  let report = await switchChannel(actionContext(ctx), name);
  if (report.confirmation !== null) {
    const downgrade = await downgradeAnswer(ctx, options, report.confirmation);
    report = await switchChannel(actionContext(ctx, { progress: downgrade === "install" }), name, {
      downgrade,
    });
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
