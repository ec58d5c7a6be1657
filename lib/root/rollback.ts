/**
 * Rolling back by hand: restore the newest (or a named) backup. The build it replaces is kept as
 * a backup and is not installed again by updates until a newer release appears (or `--force`).
 *
 * @module
 */
import { faultPoint } from "../core/fault.ts";
import { listBackups } from "./backups.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import { readState } from "./state.ts";
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
 * const { rejected } = (await readState(layout)).state;
 * assert.deepEqual(rejected.map((r) => [r.version, r.reason]), [["1.1.0", "the new menus confuse our users"]]);
 * ```
 */
export interface RollbackOptions {
  /** The backup to restore (default: the one most recently current). */
  to?: string;
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
 * assert.deepEqual(result, { from: "1.1.0", to: "1.0.0", cancelledStaged: null });
 * ```
 */
export interface RollbackResult {
  /** The version current before. */
  from: string;
  /** The version current now. */
  to: string;
  /** A staged build that was cancelled, if there was one. */
  cancelledStaged: string | null;
}

/**
 * Restore a backup. Throws a `RangeError` when there is no backup (or not the named one),
 * listing the backups there are; a staged build is cancelled, so that the next launch does not
 * undo the rollback.
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
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 its fallback
 * assert.equal((await rollback(layout)).to, "1.0.0");
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
  // By default: the newest backup that ran before and was not itself rolled back from, so that
  // rolling back twice goes further back instead of flipping, and never forward to a build
  // that never ran.
  const rejected = (version: string) =>
    state.rejected.some((r) =>
      r.version === version && r.channel === state.builds[version]?.channel
    );
  const target = options.to === undefined
    ? backups.find((b) => b.retired_at !== null && !rejected(b.version))
    : backups.find((b) => b.version === options.to);
  if (target === undefined) {
    const have = backups.map((b) => b.version).join(", ");
    throw new RangeError(
      options.to === undefined
        ? `No backup to roll back to in ${layout.root}${
          have ? ` (backups: ${have}; they never ran or were rolled back from: use --to)` : ""
        }`
        : options.to === from
        ? `${from} is already the current build`
        : `No backup ${options.to} in ${layout.root} (backups: ${have || "none"})`,
    );
  }
  const at = (options.now ?? new Date()).toISOString();
  const cancelledStaged = state.staged?.version ?? null;
  faultPoint("during-rollback");
  await swapCurrent(layout, state, {
    op: "rollback",
    from,
    to: target.version,
    at,
    reason: options.reason ?? `rolled back to ${target.version} by hand`,
    bad: false,
  });
  return { from, to: target.version, cancelledStaged };
}

/**
 * Options of {@linkcode abandonTrial}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
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
 * const [bad] = (await readState(layout)).state.rejected;
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
 * assert.deepEqual(back, { from: "1.1.0", to: "1.0.0", cancelledStaged: null });
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
  await swapCurrent(layout, state, {
    op: "rollback",
    from: trial.version,
    to: trial.from,
    at: (options.now ?? new Date()).toISOString(),
    reason: options.reason,
    bad: true,
  });
  return { from: trial.version, to: trial.from, cancelledStaged };
}
