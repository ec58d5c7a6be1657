/**
 * The status use cases both front ends call: the one status document (docs/STATUS.md) of the
 * install, for the configured channel or the one given, and the install's history from its
 * audit log (lib/root/history.ts; the dashboard's timeline and `GET /api/history`).
 *
 * @module
 */
import { resolveChannel } from "../core/channel.ts";
import { type HistoryOptions, type InstallHistory, readHistory } from "../root/history.ts";
import { type CohortNow, cohortNow } from "../core/rollout.ts";
import { peekInstallId } from "../root/install_id.ts";
import { type Layout, requireInstall } from "../root/layout.ts";
import { readState } from "../root/state.ts";
import { readStatus, type StatusDocument } from "../root/status.ts";
import { updaterStatus } from "../self/status.ts";
import type { ActionContext } from "./context.ts";

/**
 * Options of {@linkcode installStatus}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StatusActionOptions } from "./status.ts";
 * const options: StatusActionOptions = { channel: "canary" };
 * assert.equal(options.channel, "canary");
 * ```
 */
export interface StatusActionOptions {
  /** The channel to report (default: the configured one). */
  channel?: string;
  /** The time the channel's staged rollout is judged at (default now). */
  now?: Date;
}

/**
 * The status document of the install: current, staged, trial, backups, last check and error,
 * rejected builds, recent events, and the updater itself (its version, form, a pending updater
 * update). Reads only; an unknown channel is a `ConfigError`, a root with no install an error
 * (see lib/root/layout.ts `requireInstall`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { installStatus } from "./status.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const ctx = { layout, config: defaultConfig(), configPath: "c.json", platform: "linux-x64" };
 * await assert.rejects(installStatus(ctx), /^Error: No install at /);
 * await Deno.mkdir(layout.builds); // an install, nothing current yet
 * const status = await installStatus(ctx);
 * assert.equal(status.current, null);
 * assert.equal(status.channel, "stable");
 * assert.equal(status.cohort, null); // no check yet: no staged rollout known
 * assert.deepEqual([status.updater?.form, status.updater?.pending], ["source", null]); // a test runs from source
 * ```
 */
export async function installStatus(
  ctx: ActionContext,
  options: StatusActionOptions = {},
): Promise<StatusDocument> {
  const channel = resolveChannel(ctx.config, options.channel);
  await requireInstall(ctx.layout);
  const status = await readStatus(ctx.layout, ctx.config, { channel, platform: ctx.platform });
  return {
    ...status,
    cohort: await channelCohort(ctx.layout, { channel, now: options.now ?? new Date() }),
    updater: await updaterStatus(ctx.layout),
  };
}

/** The channel's staged rollout for this install now, from the manifest kept at the last check. */
async function channelCohort(
  layout: Layout,
  options: { channel: string; now: Date },
): Promise<CohortNow | null> {
  const { state } = await readState(layout);
  if (!Object.hasOwn(state.manifests, options.channel)) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(state.manifests[options.channel].body);
  } catch {
    return null;
  }
  return cohortNow(doc, await peekInstallId(layout), options.now);
}

/**
 * The install's history: its timeline (installs, updates, rollbacks, confirmations, rejected
 * builds), which build was current when, and failing checks, from the audit log. Reads only;
 * refuses a root with no install, as {@linkcode installStatus} does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { appendAudit } from "../root/audit.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { installHistory } from "./status.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(layout.builds); // an install, with nothing current yet
 * await appendAudit(layout, { at: "2026-11-01T00:00:00Z", event: "failed", reason: "Fetch failed", command: "check" });
 * const ctx = { layout, config: defaultConfig(), configPath: "c.json", platform: "linux-x64" };
 * const history = await installHistory(ctx, { limit: 20 });
 * assert.deepEqual([history.entries, history.failing?.since], [[], "2026-11-01T00:00:00Z"]);
 * ```
 */
export async function installHistory(
  ctx: ActionContext,
  options: HistoryOptions = {},
): Promise<InstallHistory> {
  await requireInstall(ctx.layout);
  return await readHistory(ctx.layout, options);
}
