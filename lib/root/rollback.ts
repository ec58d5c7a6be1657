/**
 * Rolling back by hand: restore the newest backup that last ran healthy (or a named one); a
 * backup its channel yanked is passed over (lib/root/yank.ts). The build it replaces is kept as a backup and, when it is the newer one, held back from updates
 * until a newer release appears (or `--force`); it is rejected only when asked (`reject`).
 *
 * @module
 */
import { faultPoint } from "../core/fault.ts";
import { listBackups } from "./backups.ts";
import { chooseRollback, type SkippedBackup } from "./rollback_choice.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import { readState, yankOf } from "./state.ts";
import { acquireLock } from "./lock.ts";
import { recoverSwap, swapCurrent } from "./swap.ts";

/**
 * Options of {@linkcode rollback}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { rejectedBuilds, skipReason } from "./lifecycle.ts";
 * import { rollback, type RollbackOptions } from "./rollback.ts";
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
 * const options: RollbackOptions = { to: "1.0.0", reason: "the new menus confuse our users" };
 * await rollback(layout, options);
 * const { lifecycle } = (await readState(layout)).state;
 * // Held back from updates with that reason, not rejected (that takes `reject: true`).
 * assert.equal(skipReason(lifecycle, { version: "1.1.0", channel: "stable" }), "the new menus confuse our users");
 * assert.deepEqual(rejectedBuilds(lifecycle), []);
 * ```
 */
export interface RollbackOptions {
  /** The backup to restore (default: the newest one that last ran healthy). */
  to?: string;
  /** Reject the build rolled back from (updates skip it as bad), not only hold it back. */
  reject?: boolean;
  /** The time to record (default now). */
  now?: Date;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
  /** Why (recorded with the version rolled back from). */
  reason?: string;
}

/**
 * What `rollback` did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { rollback, type RollbackResult } from "./rollback.ts";
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
 * const result: RollbackResult = await rollback(layout);
 * assert.deepEqual(result, { from: "1.1.0", to: "1.0.0", cancelledStaged: null, skipped: [],
 *   rejected: false, held: true, onTrial: false });
 * ```
 */
export interface RollbackResult {
  /** The version current before. */
  from: string;
  /** The version current now. */
  to: string;
  /** A staged build that was cancelled, if there was one. */
  cancelledStaged: string | null;
  /** Newer backups a plain rollback passed over, and why (empty with `to`). */
  skipped: SkippedBackup[];
  /** Whether the build rolled back from was rejected. */
  rejected: boolean;
  /** Whether it was held back from updates instead (it is newer than the build restored). */
  held: boolean;
  /** Whether the restored build is on trial (it had not proved healthy). */
  onTrial: boolean;
}

/**
 * Restore a backup. Without `to`, the newest backup that last ran healthy (confirmed and not
 * held back): the newer ones passed over are in the result's `skipped`. Throws a `RangeError`
 * when there is none (or not the named one), saying what each backup is; a staged build is
 * cancelled, so that the next launch does not undo the rollback.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { currentVersion } from "./layout.ts";
 * import { rollback } from "./rollback.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * const empty = await Deno.makeTempDir();
 * await assert.rejects(rollback(layoutOf(empty)), {
 *   message: `Nothing is installed in ${empty}; nothing to roll back`,
 * });
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
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 (it ran) its fallback
 * const back = await rollback(layout);
 * assert.deepEqual([back.from, back.to, back.held, back.rejected], ["1.1.0", "1.0.0", true, false]);
 * assert.equal(await currentVersion(layout), "1.0.0");
 * await assert.rejects(rollback(layout, { to: "0.9.0" }), RangeError); // no such backup
 * ```
 */
export async function rollback(
  layout: Layout,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state } = await readState(layout);
  await recoverSwap(layout, state);
  const from = await currentVersion(layout);
  if (from === null) {
    throw new Error(`Nothing is installed in ${layout.root}; nothing to roll back`);
  }
  const backups = await listBackups(layout, state);
  let target: string | null;
  let skipped: SkippedBackup[] = [];
  if (options.to === undefined) {
    // A yanked backup is passed over as well (lib/root/yank.ts: the launcher would leave it).
    const yanked = backups.map((b) => yankOf(state, b.version)).filter((y) => y !== null);
    const names = new Set(yanked.map((y) => y.version));
    ({ target, skipped } = chooseRollback(
      backups.filter((b) => !names.has(b.version)),
      state.lifecycle,
    ));
    skipped = [
      ...yanked.map((y) => ({ version: y.version, why: `yanked on ${y.channel}: ${y.reason}` })),
      ...skipped,
    ];
    if (target === null) {
      const have = skipped.map((s) => `${s.version}: ${s.why}`).join("; ");
      throw new RangeError(
        `No backup that last ran healthy in ${layout.root}${
          have ? ` (${have}); name one with --to` : " (there are no backups)"
        }`,
      );
    }
  } else {
    target = backups.find((b) => b.version === options.to)?.version ?? null;
    if (target === null) {
      const have = backups.map((b) => b.version).join(", ");
      throw new RangeError(
        options.to === from
          ? `${from} is already the current build`
          : `No backup ${options.to} in ${layout.root} (backups: ${have || "none"})`,
      );
    }
  }
  const at = (options.now ?? new Date()).toISOString();
  const cancelledStaged = state.staged?.version ?? null;
  const reject = options.reject ?? false;
  // Only a build newer than the one restored is held back: an update would bring it back. Going
  // to a newer build by name holds nothing (semver is loaded here, off the launcher's path).
  const { compareVersions } = await import("../core/version.ts");
  const hold = !reject && compareVersions(from, target) > 0;
  faultPoint("during-rollback");
  await swapCurrent(layout, state, {
    op: "rollback",
    from,
    to: target,
    at,
    reason: options.reason ??
      (reject ? `rejected by hand (rolled back to ${target})` : `rolled back to ${target} by hand`),
    bad: reject,
    hold,
    automatic: false,
  });
  const onTrial = state.trial?.version === target;
  return { from, to: target, cancelledStaged, skipped, rejected: reject, held: hold, onTrial };
}

/**
 * Options of {@linkcode abandonTrial}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { rejectedBuilds } from "./lifecycle.ts";
 * import { abandonTrial, type AbandonTrialOptions } from "./rollback.ts";
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
 * const options: AbandonTrialOptions = { reason: "exited with code 1 before its health check passed" };
 * await abandonTrial(layout, options);
 * const [bad] = rejectedBuilds((await readState(layout)).state.lifecycle);
 * assert.deepEqual([bad.version, bad.reason], ["1.1.0", options.reason]);
 * ```
 */
export interface AbandonTrialOptions {
  /** Why the build on trial failed (recorded, and shown by `status`). */
  reason: string;
  /** The time to record (default now). */
  now?: Date;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
}

/**
 * Roll back the build on trial to the build it replaced, and remember it as bad on its channel
 * so it is not staged again (a newer release is). Resolves to null, changing nothing, when no
 * build is on trial any more (it was confirmed, or something else is current) or its fallback
 * is gone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { currentVersion } from "./layout.ts";
 * import { abandonTrial } from "./rollback.ts";
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
 * const back = await abandonTrial(layout, { reason: "crashed" });
 * assert.deepEqual(back, { from: "1.1.0", to: "1.0.0", cancelledStaged: null, skipped: [],
 *   rejected: true, held: false, onTrial: false });
 * assert.equal(await currentVersion(layout), "1.0.0");
 * assert.equal(await abandonTrial(layout, { reason: "crashed" }), null); // nothing on trial any more
 * ```
 */
export async function abandonTrial(
  layout: Layout,
  options: AbandonTrialOptions,
): Promise<RollbackResult | null> {
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state } = await readState(layout);
  await recoverSwap(layout, state);
  const trial = state.trial;
  const current = await currentVersion(layout);
  if (trial === undefined || trial.version !== current || trial.from === null) return null;
  const fallback = await Deno.stat(buildDir(layout, trial.from)).catch(() => null);
  if (!fallback?.isDirectory) return null;
  const cancelledStaged = state.staged?.version ?? null;
  faultPoint("during-rollback");
  const to = trial.from;
  await swapCurrent(layout, state, {
    op: "rollback",
    from: trial.version,
    to,
    at: (options.now ?? new Date()).toISOString(),
    reason: options.reason,
    bad: true,
    automatic: true,
  });
  const onTrial = state.trial?.version === to;
  return {
    from: trial.version,
    to,
    cancelledStaged,
    skipped: [],
    rejected: true,
    held: false,
    onTrial,
  };
}
