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
  markConfirmed(state.lifecycle, { version: trial.version, channel: trial.channel }, {
    at,
    reason,
  });
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
 * Signals that are evidence of a crash when they end a build nobody sent them to (the kernel's
 * answer to a fault or an abort). Other signals it was not sent by the launcher (a `kill` from
 * elsewhere, the OOM killer's SIGKILL) are no verdict.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CRASH_SIGNALS } from "./health.ts";
 * assert.ok(CRASH_SIGNALS.includes("SIGSEGV"));
 * assert.ok(!CRASH_SIGNALS.includes("SIGTERM"));
 * ```
 */
export const CRASH_SIGNALS: readonly string[] = [
  "SIGSEGV",
  "SIGBUS",
  "SIGILL",
  "SIGFPE",
  "SIGABRT",
  "SIGSYS",
  "SIGTRAP",
];

/**
 * How a launched build ended, as {@linkcode judgeExit} sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExitFacts, judgeExit } from "./health.ts";
 * const interrupted: ExitFacts = { code: 130, signal: "SIGINT", signalled: true, onTrial: true,
 *   windowOver: false, requireConfirm: false, failureCodes: null };
 * assert.equal(judgeExit(interrupted).verdict, "none"); // the user's Ctrl-C is not a failure
 * ```
 */
export interface ExitFacts {
  /** Its exit code (128 + signal number when killed by a signal). */
  code: number;
  /** The signal that ended it, if one did. */
  signal: string | null;
  /** Whether the launcher passed a signal on to it (a user's Ctrl-C is no verdict). */
  signalled: boolean;
  /** Whether the build was still on trial (not confirmed) when it ended. */
  onTrial: boolean;
  /** Whether the health window had ended when it exited. */
  windowOver: boolean;
  /** Whether the build must confirm by itself (`health.require_confirm`). */
  requireConfirm: boolean;
  /** Exit codes that are evidence of failure (`health.failure_exit_codes`); null: all non-zero. */
  failureCodes: readonly number[] | null;
}

/**
 * What a build's end says about its health: `healthy` (confirm it), `failed` (roll it back and
 * reject it) or `none` (no evidence either way: it stays on trial), and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExitVerdict } from "./health.ts";
 * const verdict: ExitVerdict = { verdict: "healthy", reason: "exited cleanly (code 0)" };
 * assert.equal(verdict.verdict, "healthy");
 * ```
 */
export interface ExitVerdict {
  /** The verdict. */
  verdict: "healthy" | "failed" | "none";
  /** Why, as a phrase after the version (`1.1.0 exited with code 3 before …`). */
  reason: string;
}

/**
 * The health rule of `ms11-update run`, for a build that ended. Pure. A clean exit is evidence of
 * health; a crash is evidence of failure; nothing else is a verdict:
 *
 * 1. a build no longer on trial, or stopped by a signal the launcher passed on (the user's): none;
 * 2. killed by a crash signal ({@linkcode CRASH_SIGNALS}) before it proved healthy: failed; killed
 *    by another signal: none;
 * 3. exit code 0: healthy, unless it must confirm by itself (`requireConfirm`): then none (a launch
 *    without a confirm, which `apply` counts against `health.max_attempts`);
 * 4. a failure code (`failureCodes`, or any non-zero when null) before the health window ended
 *    (with `requireConfirm`: before it confirmed, whenever): failed;
 * 5. after the window (without `requireConfirm`): healthy (it ran through it); any other code: none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgeExit } from "./health.ts";
 * const base = { code: 0, signal: null, signalled: false, onTrial: true, windowOver: false,
 *   requireConfirm: false, failureCodes: null };
 * assert.deepEqual(judgeExit(base), { verdict: "healthy", reason: "exited cleanly (code 0)" });
 * assert.deepEqual(judgeExit({ ...base, code: 3 }),
 *   { verdict: "failed", reason: "exited with code 3 before its health check passed" });
 * assert.equal(judgeExit({ ...base, code: 3, failureCodes: [70] }).verdict, "none");
 * assert.equal(judgeExit({ ...base, code: 139, signal: "SIGSEGV" }).verdict, "failed");
 * assert.equal(judgeExit({ ...base, requireConfirm: true }).verdict, "none");
 * ```
 */
export function judgeExit(facts: ExitFacts): ExitVerdict {
  const before = facts.requireConfirm ? "before it confirmed" : "before its health check passed";
  if (!facts.onTrial) return { verdict: "none", reason: "is not on trial" };
  if (facts.signalled) {
    return { verdict: "none", reason: "was stopped by a signal passed on from the user" };
  }
  if (facts.signal !== null) {
    return CRASH_SIGNALS.includes(facts.signal)
      ? { verdict: "failed", reason: `crashed (${facts.signal}) ${before}` }
      : { verdict: "none", reason: `was stopped by ${facts.signal}` };
  }
  if (facts.code === 0) {
    return facts.requireConfirm
      ? { verdict: "none", reason: "exited cleanly before it confirmed" }
      : { verdict: "healthy", reason: "exited cleanly (code 0)" };
  }
  const failure = facts.failureCodes === null || facts.failureCodes.includes(facts.code);
  if (failure && (facts.requireConfirm || !facts.windowOver)) {
    return { verdict: "failed", reason: `exited with code ${facts.code} ${before}` };
  }
  if (!facts.requireConfirm && facts.windowOver) {
    return { verdict: "healthy", reason: "ran through its health window" };
  }
  return {
    verdict: "none",
    reason: `exited with code ${facts.code}, not a failure code (health.failure_exit_codes)`,
  };
}
