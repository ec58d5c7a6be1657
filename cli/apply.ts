// The launcher's commands: `apply` (swap in a staged build, count a launch of a build on trial,
// roll back one never confirmed) and `run` (apply, then start the application and gate a new
// build on its health). Kept light: no network code and no npm packages are loaded on this
// path, and with nothing staged or on trial `apply` reads one small file.
import { type ApplyResult, applyStaged } from "../lib/swap.ts";
import { ConfigError } from "../lib/errors.ts";
import { type Context, type GlobalOptions, loadContext } from "./_context.ts";

async function apply(ctx: Context): Promise<ApplyResult> {
  const { health } = ctx.config;
  const result = await applyStaged(ctx.layout, {
    keepBackups: ctx.config.keep_backups_count,
    lockWaitMs: ctx.lockWaitMs,
    maxAttempts: health.max_attempts,
    smoke: health.smoke_command === null ? null : {
      executable: ctx.config.executable,
      args: health.smoke_command,
      timeoutMs: health.smoke_timeout_seconds * 1000,
    },
  });
  const { ui } = ctx;
  if (result.problem) ui.warn(result.problem);
  if (result.recovered) {
    const j = result.recovered.journal;
    ui.notice(
      `Interrupted ${j.op} ${j.from ?? "nothing"} -> ${j.to} ${result.recovered.outcome}`,
    );
  }
  if (result.refused) {
    ui.warn(`Staged build ${result.refused.version} was not applied: ${result.refused.reason}`);
  }
  if (result.rolledBack) {
    const r = result.rolledBack;
    ui.warn(`Rolled back ${r.from} -> ${r.to}: ${r.reason}`);
  }
  if (result.applied) {
    ui.notice(`Applied ${result.to} (was ${result.from ?? "nothing"})`);
    if (result.pruned.length > 0) {
      ui.notice(`Removed old backups: ${result.pruned.join(", ")}`);
    }
  }
  return result;
}

/** Run `apply`; returns the exit code. */
export async function applyCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const result = await apply(ctx);
  ctx.ui.data(
    result,
    result.applied ? `applied ${result.to}` : `nothing staged; current ${result.to ?? "none"}`,
  );
  return 0;
}

/** Options of `run`. */
export interface RunOptions extends GlobalOptions {
  healthTimeout?: string;
}

/** Run `run -- COMMAND [ARGS...]`; returns the application's exit code. */
export async function runCommand(command: string[], options: RunOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  let healthSeconds = ctx.config.health.health_timeout_seconds;
  if (options.healthTimeout !== undefined) {
    healthSeconds = Number(options.healthTimeout);
    if (
      options.healthTimeout.trim() === "" || !Number.isFinite(healthSeconds) || healthSeconds < 0
    ) {
      throw new ConfigError(
        `Invalid --health-timeout ${JSON.stringify(options.healthTimeout)}: expected seconds >= 0`,
      );
    }
  }
  if (command.length === 0) throw new ConfigError("run needs a command after --");
  try {
    await apply(ctx);
  } catch (error) {
    // The application starts whatever apply said: the previous build stays current.
    ctx.ui.warn(`apply failed: ${(error as Error).message}`);
  }
  const { launchApp } = await import("../lib/launch.ts");
  const result = await launchApp(ctx.layout, command, {
    healthTimeoutMs: healthSeconds * 1000,
    requireConfirm: ctx.config.health.require_confirm,
    keepBackups: ctx.config.keep_backups_count,
    lockWaitMs: ctx.lockWaitMs,
    onNotice: (message) => ctx.ui.notice(message),
  });
  return result.code;
}
