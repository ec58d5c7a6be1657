// The update commands: `ms11-update` itself (check, download, verify, stage), `check` and
// `install`. They parse options, call lib/actions/ and print: a line for people on stderr,
// data on stdout.
import { adoptExisting, installFromChannel } from "../lib/actions/install.ts";
import { checkForUpdate, updateFromChannel } from "../lib/actions/update.ts";
import { actionContext, type GlobalOptions, loadContext } from "./_context.ts";
import { formatBytes } from "./_ui.ts";

/** Options of the update, check and install commands. */
export interface UpdateCommandOptions extends GlobalOptions {
  channel?: string;
  allowDowngrade?: boolean;
  force?: boolean;
  auto?: boolean;
}

/** `ms11-update [--channel NAME]`: check, download, verify and stage. */
export async function updateCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  let report = await updateFromChannel(actionContext(ctx, { progress: true }), options);
  const refused = report.summary?.decision;
  if (
    options.channel !== undefined && refused?.action === "none" &&
    refused.reason === "downgrade-refused"
  ) {
    // A channel for this run whose newest release is lower: ask, as `channel NAME` does.
    const { available, current } = report.summary!;
    const answer = await ctx.ui.ask(
      `${options.channel}'s newest release ${available} is lower than the installed ${current}. Install ${available} (a downgrade)? [y/N]`,
    );
    if (answer === "y" || answer === "yes") {
      report = await updateFromChannel(actionContext(ctx, { progress: true }), {
        ...options,
        allowDowngrade: true,
      });
    }
  }
  if (report.skipped) {
    ctx.ui.notice(report.message);
    ctx.ui.data(report.skipped, `skipped: ${report.skipped.reason}`);
    return 0;
  }
  const summary = report.summary!;
  if (report.problem) ctx.ui.warn(report.problem);
  const { decision } = summary;
  if (decision.action === "none") ctx.ui.notice(decision.message);
  ctx.ui.data(
    summary,
    summary.staged
      ? `staged ${summary.staged} from ${summary.channel}`
      : `no update: ${decision.action === "none" ? decision.reason : "none"} (current ${
        summary.current ?? "none"
      }, ${summary.channel} has ${summary.available})`,
  );
  return 0;
}

/** `ms11-update check`: report current and available versions; download nothing. */
export async function checkCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const { summary } = await checkForUpdate(actionContext(ctx), options);
  const { decision } = summary;
  ctx.ui.data(
    summary,
    [
      `channel:   ${summary.channel}`,
      `current:   ${summary.current ?? "none"}`,
      `available: ${summary.available} (released ${summary.released_at}, ${
        formatBytes(summary.size)
      })`,
      `update:    ${summary.update_available ? "yes" : `no - ${decision.message}`}`,
    ].join("\n"),
  );
  return 0;
}

/** Options of `install`. */
export interface InstallCommandOptions extends UpdateCommandOptions {
  adopt?: string;
  version?: string;
}

/** `ms11-update install`: set up an install root from a release, or adopt an existing build. */
export async function installCommand(options: InstallCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const report = options.adopt !== undefined
    ? await adoptExisting(actionContext(ctx), options.adopt, { version: options.version })
    : await installFromChannel(actionContext(ctx, { progress: true }), options);
  ctx.ui.notice(report.message);
  ctx.ui.data(
    report.adopted === null
      ? { installed: report.installed, channel: report.channel, root: report.root }
      : { installed: report.installed, adopted: report.adopted, root: report.root },
    `installed ${report.installed}`,
  );
  return 0;
}
