/**
 * Health-gated commit: a build swapped in is on trial until it is confirmed healthy
 * (`ms11-update confirm`, called by the application or its launcher), and the pure judgement of
 * how a launched build ended.
 *
 * @module
 */
import { appendAudit } from "./audit.ts";
import { pruneBackups } from "./backups.ts";
import { currentVersion, type Layout } from "./layout.ts";
import { markConfirmed } from "./lifecycle.ts";
import { readState, writeState } from "./state.ts";
import { acquireLock } from "./lock.ts";
import { recoverSwap } from "./swap.ts";

/**
 * Options of {@linkcode confirmBuild}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { readAudit } from "./audit.ts";
 * import { confirmBuild, type ConfirmOptions } from "./health.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * const state = emptyState();
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   const installed_at = "2026-11-01T00:00:00Z";
 *   state.builds[version] = { version, channel: "stable", sha256: null, kind: "executable", installed_at, retired_at: null };
 * }
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" };
 * await writeState(layout, state);
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 its fallback
 * const options: ConfirmOptions = { reason: "passed its self-test", now: new Date("2026-11-28T00:00:00Z") };
 * await confirmBuild(layout, options);
 * const last = (await readAudit(layout)).at(-1)!;
 * assert.deepEqual([last.event, last.reason, last.at], ["confirmed", "passed its self-test", "2026-11-28T00:00:00.000Z"]);
 * ```
 */
export interface ConfirmOptions {
  /** The time to record (default now). */
  now?: Date;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
  /** Backups to keep once the trial's fallback is no longer needed (default 2). */
  keepBackups?: number;
  /** Why it is confirmed (recorded in the audit log). */
  reason?: string;
}

/**
 * What {@linkcode confirmBuild} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { confirmBuild, type ConfirmResult } from "./health.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * const state = emptyState();
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   const installed_at = "2026-11-01T00:00:00Z";
 *   state.builds[version] = { version, channel: "stable", sha256: null, kind: "executable", installed_at, retired_at: null };
 * }
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" };
 * await writeState(layout, state);
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 its fallback
 * const result: ConfirmResult = await confirmBuild(layout);
 * assert.deepEqual(result, { confirmed: "1.1.0", current: "1.1.0", attempts: 1, pruned: [] });
 * ```
 */
export interface ConfirmResult {
  /** The build now committed, or null when no build was on trial. */
  confirmed: string | null;
  /** The current build. */
  current: string | null;
  /** Launches it took. */
  attempts: number;
  /** Backups removed now that the fallback is no longer needed. */
  pruned: string[];
}

/**
 * Commit the build on trial: it stays current, is no longer rolled back automatically, and is
 * `confirmed` in its lifecycle (a build rejected before is not rejected any more). With no build
 * on trial it changes nothing (confirming twice is harmless).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { confirmBuild } from "./health.ts";
 * import { readState } from "./state.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * const state = emptyState();
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   const installed_at = "2026-11-01T00:00:00Z";
 *   state.builds[version] = { version, channel: "stable", sha256: null, kind: "executable", installed_at, retired_at: null };
 * }
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" };
 * await writeState(layout, state);
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 its fallback
 * assert.equal((await confirmBuild(layout)).confirmed, "1.1.0");
 * assert.equal((await readState(layout)).state.trial, undefined); // no longer rolled back automatically
 * assert.equal((await confirmBuild(layout)).confirmed, null); // confirming twice is harmless
 * ```
 */
export async function confirmBuild(
  layout: Layout,
  options: ConfirmOptions = {},
): Promise<ConfirmResult> {
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state } = await readState(layout);
  await recoverSwap(layout, state);
  const current = await currentVersion(layout);
  const trial = state.trial;
  if (trial === undefined || trial.version !== current) {
    if (trial !== undefined) {
      delete state.trial;
      await writeState(layout, state);
    }
    return { confirmed: null, current, attempts: 0, pruned: [] };
  }
  const at = (options.now ?? new Date()).toISOString();
  const reason = options.reason ?? "confirmed healthy";
  delete state.trial;
  markConfirmed(state.lifecycle, trial.version, trial.channel, { at, reason });
  await writeState(layout, state);
  await appendAudit(layout, {
    at,
    event: "confirmed",
    reason,
    version: trial.version,
    from: trial.from,
    attempts: trial.attempts,
  });
  const keep = options.keepBackups ?? 2;
  const pruned = await pruneBackups(layout, state, { keep, at });
  return { confirmed: trial.version, current, attempts: trial.attempts, pruned };
}

/**
 * How a launched build ended, as {@linkcode judgeExit} sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExitFacts, judgeExit } from "./health.ts";
 * const interrupted: ExitFacts = { code: 130, signalled: true, onTrial: true, windowOver: false, requireConfirm: false };
 * assert.equal(judgeExit(interrupted), null); // the user's Ctrl-C is not a failed health check
 * ```
 */
export interface ExitFacts {
  /** Its exit code (128 + signal number when killed by a signal). */
  code: number;
  /** Whether the launcher passed a signal on to it (a user's Ctrl-C is not a failure). */
  signalled: boolean;
  /** Whether the build was still on trial (not confirmed) when it ended. */
  onTrial: boolean;
  /** Whether the health window had ended when it exited. */
  windowOver: boolean;
  /** Whether the build must confirm by itself (`health.require_confirm`). */
  requireConfirm: boolean;
}

/**
 * Whether a build that ended like this failed its health check and must be rolled back. Pure.
 * Only a build still on trial can fail it: one that exits with failure before the health window
 * ends, or, with `requireConfirm`, at any time before it confirmed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgeExit } from "./health.ts";
 * const crashed = { code: 1, signalled: false, onTrial: true, windowOver: false, requireConfirm: false };
 * assert.equal(judgeExit(crashed), "exited with code 1 before its health check passed");
 * assert.equal(judgeExit({ ...crashed, code: 0 }), null);
 * assert.equal(judgeExit({ ...crashed, windowOver: true }), null);
 * assert.equal(judgeExit({ ...crashed, windowOver: true, requireConfirm: true }), "exited with code 1 before it confirmed");
 * ```
 */
export function judgeExit(facts: ExitFacts): string | null {
  if (facts.code === 0 || facts.signalled || !facts.onTrial) return null;
  if (facts.requireConfirm) return `exited with code ${facts.code} before it confirmed`;
  if (facts.windowOver) return null;
  return `exited with code ${facts.code} before its health check passed`;
}
