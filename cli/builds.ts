// The commands about the install's builds and channel: `confirm`, `rollback`, `status` and
// `channel`. They parse options, call lib/actions/ and print.
import { confirmTrial, rollBack } from "../lib/actions/builds.ts";
import { listChannels, switchChannel } from "../lib/actions/channel.ts";
import { installStatus } from "../lib/actions/status.ts";
import { ConfigError } from "../lib/core/errors.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import { describeLifecycle } from "../lib/root/lifecycle.ts";
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

function statusText(s: StatusDocument): string {
  const listed = (records: StatusDocument["rejected"]) =>
    records.length === 0
      ? "none"
      : records.map((r) => `${r.version} on ${r.channel} (${r.reason})`).join("; ");
  const lines = [
    `root:       ${s.root}`,
    `channel:    ${s.channel}`,
    `platform:   ${s.platform}`,
    `current:    ${
      s.current
        ? `${s.current.version} from ${s.current.channel ?? "an unknown channel"}, ${
          describeLifecycle(s.current.lifecycle, { current: true })
        }`
        : "none"
    }`,
    `staged:     ${
      s.staged ? `${s.staged.version} from ${s.staged.channel}, applied at next launch` : "none"
    }`,
    `trial:      ${
      s.trial
        ? `${s.trial.version}, launch ${s.trial.attempts} of ${s.trial.max_attempts} without a confirm (falls back to ${
          s.trial.from ?? "nothing"
        })`
        : "none"
    }`,
    `backups:    ${
      s.backups.length === 0
        ? "none"
        : s.backups.map((b) =>
          `${b.version} (${describeLifecycle(b.lifecycle)}${
            b.retired_at ? `; replaced at ${b.retired_at}` : ""
          })`
        ).join(", ")
    }`,
    `held back:  ${listed(s.held)}`,
    `rejected:   ${listed(s.rejected)}`,
    `last check: ${
      s.last_check
        ? `${s.last_check.at} on ${s.last_check.channel}: ${s.last_check.available} available (${s.last_check.decision})`
        : "never"
    }`,
    `last error: ${
      s.last_error ? `${s.last_error.at} ${s.last_error.command}: ${s.last_error.message}` : "none"
    }`,
  ];
  return lines.join("\n");
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
