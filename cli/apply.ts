// `ms11-update apply`: the launcher's hook at every start. Kept light: no network code and no
// npm packages are loaded on this path, and with nothing staged it reads one small file.
import { applyStaged } from "../lib/swap.ts";
import { type GlobalOptions, loadContext } from "./_context.ts";

/** Run `apply`; returns the exit code. */
export async function applyCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const result = await applyStaged(ctx.layout, {
    keepBackups: ctx.config.keep_backups_count,
    lockWaitMs: ctx.lockWaitMs,
  });
  if (result.problem) ctx.ui.warn(result.problem);
  if (result.applied) {
    ctx.ui.notice(`Applied ${result.to} (was ${result.from ?? "nothing"})`);
    if (result.pruned.length > 0) {
      ctx.ui.notice(`Removed old backups: ${result.pruned.join(", ")}`);
    }
  }
  ctx.ui.data(
    result,
    result.applied ? `applied ${result.to}` : `nothing staged; current ${result.to ?? "none"}`,
  );
  return 0;
}
