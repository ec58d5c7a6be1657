/**
 * The launcher's use cases: apply a staged build at start-up, and launch the application with
 * a new build gated on its health. The one actions module the launcher's path loads: it
 * imports the install root only (no network, trust, archive or npm code), and is itself loaded
 * only when the idle check of cli/apply.ts found work.
 *
 * @module
 */
import type { Config } from "../core/config.ts";
import type { Layout } from "../root/layout.ts";
import { launchApp, type LaunchResult } from "../root/launch.ts";
import { type ApplyResult, applyStaged } from "../root/swap.ts";
import { leaveYanked, noteLeftYanked, type YankOutcome } from "../root/yank.ts";
import { holdInUse } from "../self/in_use.ts";

/**
 * What the launcher's apply did: {@linkcode ApplyResult}, and what it did about a yanked build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LauncherApplyResult } from "./apply.ts";
 * const result: LauncherApplyResult = { applied: false, from: "1.0.0", to: "1.0.0", pruned: [],
 *   problem: null };
 * assert.equal(result.yank, undefined); // nothing here is yanked
 * ```
 */
export type LauncherApplyResult = ApplyResult & {
  /** What was done about yanked builds (docs/UPDATE_POLICY.md); absent when nothing is yanked. */
  yank?: YankOutcome[];
};

/**
 * What the launcher's actions need (a subset of an `ActionContext`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import type { LauncherContext } from "./apply.ts";
 * const ctx: LauncherContext = { layout: layoutOf("/opt/ms11"), config: defaultConfig(), lockWaitMs: 5000 };
 * assert.equal(ctx.layout.current, "/opt/ms11/current");
 * ```
 */
export interface LauncherContext {
  /** The install root. */
  layout: Layout;
  /** The configuration in force. */
  config: Config;
  /** How long to wait for the install lock, in milliseconds (default 0). */
  lockWaitMs?: number;
}

/**
 * Options of {@linkcode applyUpdate}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApplyUpdateOptions } from "./apply.ts";
 * const underRun: ApplyUpdateOptions = { run: true };
 * assert.equal(underRun.run, true);
 * ```
 */
export interface ApplyUpdateOptions {
  /**
   * The apply of `ms11-update run`, which then judges the build by how it ends: launches without
   * a confirm roll it back only when it must confirm by itself (`health.require_confirm`). The
   * launcher hook `apply` (default) expects the application to confirm.
   */
  run?: boolean;
}

/**
 * Leave a yanked build (lib/root/yank.ts: unstage it, or go back to a backup that ran healthy),
 * then swap in the staged build, if any (smoke-tested first when `health.smoke_command` is set),
 * count a launch of a build on trial and roll back one that used up `health.max_attempts`
 * where it is expected to confirm (see {@linkcode ApplyUpdateOptions}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { applyUpdate } from "./apply.ts";
 * const result = await applyUpdate({ layout: layoutOf(await Deno.makeTempDir()),
 *   config: defaultConfig() });
 * assert.equal(result.applied, false);
 * ```
 */
export async function applyUpdate(
  ctx: LauncherContext,
  options: ApplyUpdateOptions = {},
): Promise<LauncherApplyResult> {
  const { health } = ctx.config;
  const expectConfirm = !options.run || health.require_confirm;
  // A yanked build is left first: unstaged, or current left for a good backup (offline).
  const yank = await leaveYanked(ctx.layout, {
    lockWaitMs: ctx.lockWaitMs,
    executable: ctx.config.executable,
  });
  const result = await applyStaged(ctx.layout, {
    keepBackups: ctx.config.keep_backups_count,
    lockWaitMs: ctx.lockWaitMs,
    maxAttempts: expectConfirm ? health.max_attempts : null,
    smoke: health.smoke_command === null ? null : {
      executable: ctx.config.executable,
      args: health.smoke_command,
      timeoutMs: health.smoke_timeout_seconds * 1000,
    },
  });
  if (result.applied && result.to !== null && yank.some((y) => y.outcome === "staged")) {
    const left = await noteLeftYanked(ctx.layout, {
      from: result.from,
      to: result.to,
      lockWaitMs: ctx.lockWaitMs,
    });
    if (left !== null) yank.splice(yank.findIndex((y) => y.outcome === "staged"), 1, left);
  }
  return yank.length === 0 ? result : { ...result, yank };
}

/**
 * Options of {@linkcode launch}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LaunchOptions } from "./apply.ts";
 * const notices: string[] = [];
 * const options: LaunchOptions = { healthTimeoutSeconds: 10, onNotice: (m) => notices.push(m) };
 * options.onNotice?.("Confirmed 1.1.0");
 * assert.deepEqual(notices, ["Confirmed 1.1.0"]);
 * ```
 */
export interface LaunchOptions {
  /** How long a new build must run without failing, in seconds (default: the configuration's). */
  healthTimeoutSeconds?: number;
  /** One line for people (rollbacks, the health verdict). */
  onNotice?: (message: string) => void;
}

/**
 * Start the application (`command`, usually `<root>/current/<executable>`), pass signals and its
 * exit code on, and judge a build on trial by how it ends (the health rule of
 * lib/root/health.ts `judgeExit`): confirm it on a clean exit or once it lives through the
 * window, roll it back on a crash or a failure exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { launch } from "./apply.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig() };
 * const result = await launch(ctx, ["true"]);
 * assert.equal(result.code, 0);
 * ```
 */
export async function launch(
  ctx: LauncherContext,
  command: string[],
  options: LaunchOptions = {},
): Promise<LaunchResult> {
  const { health } = ctx.config;
  // While the application runs, this updater's version is in use: its chunks and kept folder
  // are not pruned under it (lib/self/in_use.ts; nothing when no self-update ever happened).
  const lease = await holdInUse(ctx.layout);
  try {
    return await launchApp(ctx.layout, command, {
      healthTimeoutMs: (options.healthTimeoutSeconds ?? health.health_timeout_seconds) * 1000,
      requireConfirm: health.require_confirm,
      failureCodes: health.failure_exit_codes,
      keepBackups: ctx.config.keep_backups_count,
      lockWaitMs: ctx.lockWaitMs,
      onNotice: options.onNotice,
    });
  } finally {
    lease?.release();
  }
}
