// Private to lib/actions/: what every action does around its work, once for both front ends:
// announce the events the configuration asks for (to the front end and the notification hook),
// and record a failure (state's last_error, the audit log, a `failure` event) before rethrowing.
import { ConfigError } from "../core/errors.ts";
import { escapeText } from "../core/text.ts";
import { appendAudit } from "../root/audit.ts";
import { currentVersion, type Layout, requireInstall } from "../root/layout.ts";
import { acquireLock } from "../root/lock.ts";
import { readState, type State, writeState } from "../root/state.ts";
import type { ActionContext } from "./context.ts";
import { isAnnounced, runHook, type UpdateEvent } from "./notify.ts";
import type { UpdateOptions } from "./pipeline.ts";

/**
 * Announces one event: to the front end now, to the hook when the action ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Announce } from "./_act.ts";
 * const heard: string[] = [];
 * const announce: Announce = (event) => heard.push(event.type);
 * announce({ type: "downloaded", at: "2026-12-01T00:00:00Z", channel: "stable", version: "1.1.0",
 *   current: "1.0.0", message: "Downloaded 1.1.0" });
 * assert.deepEqual(heard, ["downloaded"]);
 * ```
 */
export type Announce = (event: UpdateEvent) => void;

/**
 * Options of {@linkcode runAction}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunActionOptions } from "./_act.ts";
 * const options: RunActionOptions = { command: "rollback", channel: "stable" };
 * assert.equal(options.command, "rollback");
 * ```
 */
export interface RunActionOptions {
  /** The action's name, as `last_error.command` records it: `update`, `check`, `rollback`… */
  command: string;
  /** The channel the action concerns (named in a failure event). */
  channel: string;
  /**
   * The action works on an existing install: without one at the root it fails first, saying
   * so, and creates nothing (lib/root/layout.ts `requireInstall`). Only `install` sets one up.
   */
  install?: "required";
}

/**
 * Run `body` as one action: events it announces reach the front end at once and the
 * notification hook when it ends (a failing hook is a warning); a failure other than a
 * {@linkcode ConfigError} is recorded as `last_error`, audited and announced, then rethrown. With
 * `install: "required"` and no install at the root it fails first, recording nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { readState } from "../root/state.ts";
 * import { runAction } from "./_act.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const heard: string[] = [];
 * const ctx = { layout, config: defaultConfig(), configPath: "x.json", platform: "linux-x64",
 *   onEvent: (e: { message: string }) => heard.push(e.message) };
 * await assert.rejects(
 *   runAction(ctx, { command: "check", channel: "stable" }, () => Promise.reject(new Error("Offline"))),
 *   /Offline/,
 * );
 * assert.deepEqual(heard, ["check failed: Offline"]);
 * assert.equal((await readState(layout)).state.last_error?.message, "Offline");
 * ```
 */
export async function runAction<T>(
  ctx: ActionContext,
  options: RunActionOptions,
  body: (announce: Announce) => Promise<T>,
): Promise<T> {
  const pending: UpdateEvent[] = [];
  const announce: Announce = (event) => {
    if (!isAnnounced(event.type, ctx.config.notifications)) return;
    pending.push(event);
    try {
      ctx.onEvent?.(event);
    } catch { /* must not throw; ignored */ }
  };
  if (options.install === "required") await requireInstall(ctx.layout);
  try {
    return await body(announce);
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      const message = (error as Error).message;
      const now = ctx.env?.now() ?? new Date();
      await recordFailure(ctx.layout, message, { command: options.command, now });
      announce({
        type: "failure",
        at: now.toISOString(),
        channel: options.channel,
        version: null,
        current: await currentVersion(ctx.layout).catch(() => null),
        message: `${options.command} failed: ${escapeText(message)}`,
      });
    }
    throw error;
  } finally {
    const hook = ctx.config.notifications.command;
    if (hook !== null) {
      for (const event of pending) {
        const failure = await runHook(hook, event);
        if (failure) ctx.onWarning?.(failure);
      }
    }
  }
}

/**
 * The pipeline's options for an action on `channel`: the context's platform, clock and
 * network, lock wait and progress, with events announced through `announce`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { pipelineOptions } from "./_act.ts";
 * const ctx = { layout: layoutOf("/tmp/x"), config: defaultConfig(), configPath: "c.json",
 *   platform: "linux-x64", lockWaitMs: 5000 };
 * const options = pipelineOptions(ctx, "canary", () => {});
 * assert.equal(options.channel, "canary");
 * assert.equal(options.lockWaitMs, 5000);
 * ```
 */
export function pipelineOptions(
  ctx: ActionContext,
  channel: string,
  announce: Announce,
): UpdateOptions {
  return {
    channel,
    platform: ctx.platform,
    env: ctx.env,
    onProgress: ctx.onProgress,
    onEvent: announce,
    onWarning: ctx.onWarning,
    lockWaitMs: ctx.lockWaitMs,
  };
}

/**
 * Options of {@linkcode recordFailure}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { readState } from "../root/state.ts";
 * import { recordFailure, type RecordFailureOptions } from "./_act.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const options: RecordFailureOptions = { command: "rollback", now: new Date("2026-11-27T00:00:00Z") };
 * await recordFailure(layout, "No backup to roll back to", options);
 * assert.deepEqual((await readState(layout)).state.last_error, {
 *   at: "2026-11-27T00:00:00.000Z", command: "rollback", message: "No backup to roll back to",
 * });
 * ```
 */
export interface RecordFailureOptions {
  /** The command that failed. */
  command: string;
  /** The time to record. */
  now?: Date;
}

/**
 * Record a failure as the state's `last_error`, best effort: a root that does not exist is not
 * created, and a held lock or an unwritable root is ignored (the error is reported anyway). The
 * message is kept escaped (lib/core/text.ts): it may quote a manifest, a server or an archive,
 * and whoever shows `last_error` later (status, the dashboard, a script) gets one safe line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exists } from "../core/fs.ts";
 * import { readAudit } from "../root/audit.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { recordFailure } from "./_act.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await recordFailure(layout, "Download failed", { command: "update" });
 * assert.deepEqual((await readAudit(layout)).map((e) => [e.event, e.reason]), [["failed", "Download failed"]]);
 * const missing = layoutOf(`${layout.root}/not-installed`);
 * await recordFailure(missing, "Download failed", { command: "update" }); // never throws
 * assert.equal(await exists(missing.root), false); // and creates no root
 * ```
 */
export async function recordFailure(
  layout: Layout,
  message: string,
  options: RecordFailureOptions,
): Promise<void> {
  try {
    if (!(await Deno.stat(layout.root)).isDirectory) return;
    using _lock = await acquireLock(layout, { waitMs: 500 });
    const { state } = await readState(layout);
    state.last_error = {
      at: (options.now ?? new Date()).toISOString(),
      command: options.command,
      message: escapeText(message),
    };
    await writeState(layout, state as State);
    await appendAudit(layout, {
      at: state.last_error.at,
      event: "failed",
      reason: message,
      command: options.command,
    });
  } catch {
    // Best effort: the failure itself is what gets reported.
  }
}
