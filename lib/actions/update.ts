/**
 * The update use cases both front ends call: check a channel, and update from it (check,
 * download, verify, stage), including the unattended schedule of `--auto`. Failures are recorded
 * and announced here, once (lib/actions/_act.ts).
 *
 * @module
 */
import type { DownloadRecord } from "../root/state.ts";
import { checkInterval, resolveChannel, type UpdateDecision } from "../core/channel.ts";
import type { Config, RiskLevel } from "../core/config_schema.ts";
import { formatBytes } from "../core/format.ts";
import { currentVersion, requireInstall } from "../root/layout.ts";
import { readState } from "../root/state.ts";
import { autoCheckDue } from "../trust/check.ts";
import { pipelineOptions, runAction } from "./_act.ts";
import type { ActionContext } from "./context.ts";
import { runUpdate, type UpdateResult } from "./pipeline.ts";
import { offeredUpdater, type UpdaterReport } from "./self.ts";

/**
 * Options of {@linkcode checkForUpdate} and {@linkcode updateFromChannel}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdateActionOptions } from "./update.ts";
 * const options: UpdateActionOptions = { channel: "canary", allowDowngrade: true };
 * assert.ok(options.allowDowngrade);
 * ```
 */
export interface UpdateActionOptions {
  /** The channel for this run (default: the configured one). */
  channel?: string;
  /** Install (or report as applicable) a release lower than the installed one. */
  allowDowngrade?: boolean;
  /** Install even a release that was rolled back from; with `auto`, check even when not due. */
  force?: boolean;
  /** Take the newest release ahead of its staged rollout (`--now`). */
  now?: boolean;
  /** Download the full build even when the manifest offers a delta (`--no-delta`). */
  noDelta?: boolean;
}

/**
 * What an update or a check found: the data both front ends show (the CLI's `--json`
 * document, the dashboard's `result`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdateSummary } from "./update.ts";
 * const none: Pick<UpdateSummary, "staged" | "downloaded"> = { staged: null, downloaded: false };
 * assert.equal(none.staged, null);
 * ```
 */
export interface UpdateSummary {
  /** The channel checked. */
  channel: string;
  /** The installed version, if any. */
  current: string | null;
  /** The channel's newest version. */
  available: string;
  /** When it was released (ISO 8601). */
  released_at: string;
  /** Its release notes, if any. */
  notes: string | null;
  /** What was decided. */
  decision: UpdateDecision;
  /** The version now staged for the next launch, or null. */
  staged: string | null;
  /** Whether the artifact was downloaded. */
  downloaded: boolean;
  /**
   * How the build was downloaded (`method` `delta` or `full`, `from`, `bytes`, `full_bytes`,
   * `saved_bytes`, `delta_failed`); for a check, how it would be; null when nothing is.
   */
  download: DownloadRecord | null;
  /** Whether the server answered 304 and the cached manifest was used. */
  manifest_not_modified: boolean;
  /** The channel's description, from the configuration. */
  description: string;
  /** The channel's risk level. */
  risk: RiskLevel;
  /** Hours between the channel's automatic checks (its own, else the top-level interval). */
  check_interval_hours: number;
}

/**
 * What {@linkcode updateFromChannel} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdateReport } from "./update.ts";
 * const skipped: UpdateReport = {
 *   skipped: { channel: "stable", skipped: true, reason: "disabled", next_check_at: null },
 *   message: "Automatic checks are disabled",
 *   summary: null,
 *   problem: null,
 * };
 * assert.equal(skipped.summary, null);
 * ```
 */
export interface UpdateReport {
  /** One line for people. */
  message: string;
  /** What was found and done; null when an unattended run was not due. */
  summary: UpdateSummary | null;
  /** Why an unattended run did not check (`--auto`), else null. */
  skipped: {
    channel: string;
    skipped: true;
    reason: string;
    next_check_at: string | null;
  } | null;
  /** A problem with the state file that does not stop the update, or null. */
  problem: string | null;
  /**
   * The updater's own update in this run: what the manifest offers, what was staged (for its
   * trial at the next launch), what is pending (see lib/actions/self.ts `UpdaterReport`; absent
   * from reports that checked nothing).
   */
  updater?: UpdaterReport;
}

/**
 * What {@linkcode checkForUpdate} found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CheckReport } from "./update.ts";
 * const applies = (r: CheckReport) => r.summary.update_available;
 * assert.equal(typeof applies, "function");
 * ```
 */
export interface CheckReport {
  /** One line for people: the decision. */
  message: string;
  /** What was found, with whether an update applies and the artifact's size. */
  summary: UpdateSummary & { update_available: boolean; size: number };
}

/** The one line about a staged build: from where, over what, and whether it was downloaded. */
function stagedMessage(result: UpdateResult, channel: string): string {
  const { current, decision, artifact } = result.check;
  const over = current === null
    ? ""
    : decision.action === "update" && decision.downgrade
    ? `a downgrade: ${current} -> ${result.staged}; `
    : `${current} -> ${result.staged}; `;
  const bytes = result.downloaded
    ? `downloaded and verified ${formatBytes(artifact.size)}`
    : "already downloaded";
  return `Staged ${result.staged} from ${channel} (${over}${bytes}); it is applied at the next launch`;
}

function summarize(result: UpdateResult, config: Config): UpdateSummary {
  const { check } = result;
  const server = config.update_servers[check.channel];
  return {
    channel: check.channel,
    current: check.current,
    available: check.manifest.version,
    released_at: check.manifest.released_at,
    notes: check.manifest.notes,
    decision: check.decision,
    staged: result.staged,
    downloaded: result.downloaded,
    download: result.download,
    manifest_not_modified: check.notModified,
    description: server.description,
    risk: server.risk,
    check_interval_hours: checkInterval(config, check.channel).hours,
  };
}

/**
 * Check a channel and report what is installed and what is available; download nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { checkForUpdate } from "./update.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "update_channel.json", platform: "linux-x64" };
 * // The shipped configuration pins no signing keys: checking refuses to trust any manifest.
 * await assert.rejects(checkForUpdate(ctx, { channel: "nope" }), /Unknown channel "nope"/);
 * ```
 */
export async function checkForUpdate(
  ctx: ActionContext,
  options: UpdateActionOptions = {},
): Promise<CheckReport> {
  const channel = resolveChannel(ctx.config, options.channel);
  const result = await runAction(
    ctx,
    { command: "check", channel, install: "required" },
    (announce) =>
      runUpdate(ctx.layout, ctx.config, {
        ...pipelineOptions(ctx, channel, announce),
        onProgress: undefined,
        checkOnly: true,
        allowDowngrade: options.allowDowngrade,
        force: options.force,
        rolloutNow: options.now || ctx.config.rollout_early_adopter,
        noDelta: options.noDelta,
      }),
  );
  const { decision, artifact } = result.check;
  return {
    message: decision.message,
    summary: {
      ...summarize(result, ctx.config),
      update_available: decision.action === "update",
      size: artifact.size,
    },
  };
}

/**
 * Options of {@linkcode updateFromChannel}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdateFromChannelOptions } from "./update.ts";
 * const unattended: UpdateFromChannelOptions = { auto: true };
 * assert.equal(unattended.force, undefined);
 * ```
 */
export interface UpdateFromChannelOptions extends UpdateActionOptions {
  /** An unattended run: check only when `auto_check_enabled` and the interval say it is due. */
  auto?: boolean;
}

/**
 * Check a channel and, when a newer (or allowed) release is there, download, verify and stage
 * it for the next launch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { updateFromChannel } from "./update.ts";
 * const config = { ...defaultConfig(), auto_check_enabled: false };
 * const layout = layoutOf(await Deno.makeTempDir());
 * const ctx = { layout, config, configPath: "update_channel.json", platform: "linux-x64" };
 * await assert.rejects(updateFromChannel(ctx), /^Error: No install at .*: the folder holds no install/);
 * await Deno.mkdir(layout.builds); // an install (`install` sets one up)
 * const report = await updateFromChannel(ctx, { auto: true });
 * assert.equal(report.skipped?.reason, "disabled");
 * ```
 */
export async function updateFromChannel(
  ctx: ActionContext,
  options: UpdateFromChannelOptions = {},
): Promise<UpdateReport> {
  const channel = resolveChannel(ctx.config, options.channel);
  if (options.auto) {
    await requireInstall(ctx.layout);
    const { state } = await readState(ctx.layout);
    const now = ctx.env?.now() ?? new Date();
    const due = autoCheckDue(ctx.config, state, {
      channel,
      now,
      force: options.force,
      current: await currentVersion(ctx.layout),
    });
    if (!due.due) {
      return {
        message: due.message,
        summary: null,
        skipped: { channel, skipped: true, reason: due.reason, next_check_at: due.next },
        problem: null,
      };
    }
  }
  const result = await runAction(
    ctx,
    { command: "update", channel, install: "required" },
    (announce) =>
      runUpdate(ctx.layout, ctx.config, {
        ...pipelineOptions(ctx, channel, announce),
        allowDowngrade: options.allowDowngrade,
        force: options.force,
        rolloutNow: options.now || ctx.config.rollout_early_adopter,
        noDelta: options.noDelta,
      }),
  );
  const { decision } = result.check;
  // The same verified manifest may offer a new ms11-update: staged too (a failure is a warning).
  const updater = await offeredUpdater(ctx, result.check.manifest, { channel });
  return {
    message: result.staged ? stagedMessage(result, channel) : decision.message,
    summary: summarize(result, ctx.config),
    skipped: null,
    problem: result.problem,
    updater,
  };
}
