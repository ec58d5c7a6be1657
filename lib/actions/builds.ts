/**
 * The build use cases both front ends call: confirm the build on trial, and roll back to a
 * backup. Failures are recorded and announced once (lib/actions/_act.ts).
 *
 * @module
 */
import { confirmBuild, type ConfirmResult } from "../root/health.ts";
import { rollback, type RollbackResult } from "../root/rollback.ts";
import { runAction } from "./_act.ts";
import type { ActionContext } from "./context.ts";

/**
 * Options of {@linkcode confirmTrial} and {@linkcode rollBack}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BuildActionOptions } from "./builds.ts";
 * const options: BuildActionOptions = { reason: "confirmed from the dashboard" };
 * assert.match(options.reason!, /dashboard/);
 * ```
 */
export interface BuildActionOptions {
  /** Why, in the audit log (e.g. "confirmed from the dashboard"). */
  reason?: string;
}

/**
 * What {@linkcode confirmTrial} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConfirmReport } from "./builds.ts";
 * const nothing = (r: ConfirmReport) => r.result.confirmed === null;
 * assert.equal(typeof nothing, "function");
 * ```
 */
export interface ConfirmReport {
  /** One line for people. */
  message: string;
  /** The confirmation itself. */
  result: ConfirmResult;
}

/**
 * The build on trial is healthy: commit it (it stays current and is no longer rolled back
 * automatically), and prune backups beyond `keep_backups_count`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { confirmTrial } from "./builds.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const ctx = { layout, config: defaultConfig(), configPath: "update_channel.json", platform: "linux-x64" };
 * await assert.rejects(confirmTrial(ctx), /^Error: No install at .*: the folder holds no install/);
 * await Deno.mkdir(layout.builds); // an install
 * const report = await confirmTrial(ctx);
 * assert.equal(report.message, "No build is on trial; nothing to confirm");
 * ```
 */
export async function confirmTrial(
  ctx: ActionContext,
  options: BuildActionOptions = {},
): Promise<ConfirmReport> {
  const result = await runAction(
    ctx,
    { command: "confirm", channel: ctx.config.channel, install: "required" },
    () =>
      confirmBuild(ctx.layout, {
        lockWaitMs: ctx.lockWaitMs,
        keepBackups: ctx.config.keep_backups_count,
        now: ctx.env?.now(),
        reason: options.reason,
      }),
  );
  const pruned = result.pruned.length > 0
    ? `; removed old backups ${result.pruned.join(", ")}`
    : "";
  return {
    message: result.confirmed === null
      ? "No build is on trial; nothing to confirm"
      : `Confirmed ${result.confirmed} after ${result.attempts} launch${
        result.attempts === 1 ? "" : "es"
      }: it stays current and is no longer rolled back automatically${pruned}`,
    result,
  };
}

/**
 * Options of {@linkcode rollBack}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RollBackOptions } from "./builds.ts";
 * const options: RollBackOptions = { to: "1.0.0", reason: "rolled back by support" };
 * assert.equal(options.to, "1.0.0");
 * ```
 */
export interface RollBackOptions extends BuildActionOptions {
  /** The backup to restore (default: the newest one that last ran healthy). */
  to?: string;
  /** Reject the build rolled back from as bad (default: only hold it back from updates). */
  reject?: boolean;
}

/**
 * What {@linkcode rollBack} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RollbackReport } from "./builds.ts";
 * const target = (r: RollbackReport) => r.result.to;
 * assert.equal(typeof target, "function");
 * ```
 */
export interface RollbackReport {
  /** One line for people. */
  message: string;
  /** The rollback itself. */
  result: RollbackResult;
}

/**
 * Restore a backup by hand (the newest that last ran healthy, or `to`); the build it replaces is
 * kept as a backup and held back from updates until a newer release (rejected with `reject`).
 * The message names the backups a plain rollback passed over, and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { rollBack } from "./builds.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const ctx = { layout, config: defaultConfig(), configPath: "update_channel.json", platform: "linux-x64" };
 * await assert.rejects(rollBack(ctx), /^Error: No install at /); // only install sets one up
 * await Deno.mkdir(layout.builds);
 * await assert.rejects(rollBack(ctx), /^Error: Nothing is installed in .*; nothing to roll back$/);
 * ```
 */
export async function rollBack(
  ctx: ActionContext,
  options: RollBackOptions = {},
): Promise<RollbackReport> {
  const result = await runAction(
    ctx,
    { command: "rollback", channel: ctx.config.channel, install: "required" },
    () =>
      rollback(ctx.layout, {
        to: options.to,
        reject: options.reject,
        lockWaitMs: ctx.lockWaitMs,
        now: ctx.env?.now(),
        reason: options.reason,
      }),
  );
  return { message: rollbackMessage(result), result };
}

/**
 * The one line for people about a rollback: what is current now, what was passed over and why,
 * what happens to the build rolled back from, a cancelled staged build, and a trial.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rollbackMessage } from "./builds.ts";
 * assert.equal(
 *   rollbackMessage({ from: "1.2.0", to: "1.0.0", cancelledStaged: null, rejected: false,
 *     held: true, onTrial: false, skipped: [{ version: "1.1.0", why: "rejected: crashed" }] }),
 *   "Rolled back 1.2.0 -> 1.0.0 (skipped 1.1.0: rejected: crashed); updates skip 1.2.0 until a newer release",
 * );
 * ```
 */
export function rollbackMessage(result: RollbackResult): string {
  const skipped = result.skipped.length === 0
    ? ""
    : ` (skipped ${result.skipped.map((s) => `${s.version}: ${s.why}`).join("; ")})`;
  const fate = result.rejected
    ? `; ${result.from} is rejected`
    : result.held
    ? `; updates skip ${result.from} until a newer release`
    : "";
  const cancelled = result.cancelledStaged
    ? `; cancelled the staged ${result.cancelledStaged}`
    : "";
  const trial = result.onTrial ? `; ${result.to} is on trial until confirmed` : "";
  return `Rolled back ${result.from} -> ${result.to}${skipped}${fate}${cancelled}${trial}`;
}
