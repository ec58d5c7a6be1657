// The commands about the install's builds and channel: `confirm`, `rollback`, `status` and
// `channel`. They parse options, call lib/actions/ and print.
import { confirmTrial, rollBack } from "../lib/actions/builds.ts";
import { listChannels, switchChannel } from "../lib/actions/channel.ts";
import { installStatus } from "../lib/actions/status.ts";
import { ConfigError } from "../lib/core/errors.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import type { AuditEntry } from "../lib/root/audit.ts";
import { escapeText as t } from "../lib/core/text.ts";
import { isVersion } from "../lib/core/version.ts";
import { actionContext, type GlobalOptions, loadContext } from "./_context.ts";
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
}

/**
 * `ms11-update rollback [--to VERSION]`: restore the newest backup (or that version); the
 * replaced build is kept. A failure is recorded in the install's state.
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
  const report = await rollBack(actionContext(ctx), { to: options.to });
  ctx.ui.notice(report.message);
  ctx.ui.data(report.result, `rolled back to ${report.result.to}`);
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
 * assert.equal(await confirmCommand(options), 0); // prints {"confirmed": null, …}
 * await assert.rejects(Deno.stat(`${dir}/root/state.json`), Deno.errors.NotFound);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function confirmCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const { message, result } = await confirmTrial(actionContext(ctx));
  if (result.confirmed !== null) ctx.ui.notice(message);
  ctx.ui.data(
    result,
    result.confirmed !== null
      ? `confirmed ${result.confirmed}`
      : `nothing on trial; current ${result.current ?? "none"}`,
  );
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
  const lines = [
    `root:       ${t(s.root)}`,
    `channel:    ${t(s.channel)}`,
    `platform:   ${t(s.platform)}`,
    `current:    ${
      s.current ? `${t(s.current.version)} (${t(s.current.channel ?? "unknown channel")})` : "none"
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
          `${t(b.version)}${b.retired_at ? ` (until ${t(b.retired_at)})` : ""}`
        ).join(", ")
    }`,
    `last check: ${
      s.last_check
        ? `${t(s.last_check.at)} on ${t(s.last_check.channel)}: ${
          t(s.last_check.available)
        } available (${t(s.last_check.decision)})`
        : "never"
    }`,
    `rejected:   ${
      s.rejected.length === 0
        ? "none"
        : s.rejected.map((r) => `${t(r.version)} on ${t(r.channel)} (${t(r.reason)})`).join("; ")
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
 * assert.equal(await statusCommand(options), 0); // prints {"schema": 1, …, "current": null, …}
 * await assert.rejects(Deno.stat(`${dir}/root`), Deno.errors.NotFound); // nothing written
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
 * `ms11-update channel [NAME]`: show channels, or persist a switch in the configuration file.
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
  options: GlobalOptions,
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
  const report = await switchChannel(actionContext(ctx), name, { skipCheck: true });
  if (report.channel === report.previous) ctx.ui.notice(report.message);
  ctx.ui.data(
    { channel: report.channel, previous: report.previous, config: report.config },
    `channel ${report.channel}`,
  );
  return 0;
}
