/**
 * The only code that changes what "current" is. `current` is a symlink to `builds/<version>`;
 * a swap creates a new link beside it and renames it over `current` (atomic: there is never a
 * moment without a launchable `current`), then fsyncs the root.
 *
 * Every swap is journaled: the intent is written to the state file (atomically, fsynced) before
 * the rename, and cleared when the swap is recorded; {@linkcode recoverSwap}, run first by every
 * command, finishes a swap interrupted in between (or undoes it when its target is gone).
 *
 * `applyStaged` is the launcher's hook at every start: with nothing staged, nothing on trial and
 * no interrupted swap it reads one small file and returns, without taking the lock or importing
 * anything heavy.
 *
 * @module
 */
import { exists, removeIfExists } from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";
import type { SmokeOptions } from "./_smoke.ts";
import { recordSwap, settleJournal, swapCurrent, switchCurrent } from "./_journal.ts";
import { appendAudit } from "./audit.ts";
import { pruneBackups } from "./backups.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import { markRejected } from "./lifecycle.ts";
import { applyPending, type JournalRecord, readState, type State, writeState } from "./state.ts";
import { acquireLock } from "./lock.ts";
import { sweepLeftovers } from "./sweep.ts";
import { refuseLinks } from "./safe.ts";

export type { SmokeOptions } from "./_smoke.ts";

export { recordSwap, settleJournal, swapCurrent, switchCurrent } from "./_journal.ts";

/**
 * What {@linkcode recoverSwap} did about an interrupted swap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { currentVersion } from "./layout.ts";
 * import { type Recovery, recoverSwap, switchCurrent } from "./swap.ts";
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
 * // A crash between writing the journal and renaming `current`:
 * state.journal = { op: "apply", from: "1.0.0", to: "1.1.0", at: "2026-11-27T00:00:00Z", reason: "staged", bad: false };
 * await writeState(layout, state);
 * const recovery: Recovery | null = await recoverSwap(layout, state);
 * assert.equal(recovery?.outcome, "finished");
 * assert.equal(await currentVersion(layout), "1.1.0");
 * ```
 */
export interface Recovery {
  /** The interrupted step. */
  journal: JournalRecord;
  /** `finished` (its target is current now) or `undone` (its target was gone). */
  outcome: "finished" | "undone";
  /** Backups pruned after finishing an interrupted apply, as the apply would have. */
  pruned?: string[];
}

/**
 * Options of {@linkcode recoverSwap}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RecoverOptions } from "./swap.ts";
 * const options: RecoverOptions = { keepBackups: 2 };
 * assert.equal(options.keepBackups, 2);
 * ```
 */
export interface RecoverOptions {
  /**
   * Backups to keep: after finishing an interrupted apply, prune beyond this many, as the apply
   * would have (not given: the next clean apply prunes).
   */
  keepBackups?: number;
}

/**
 * Recover from whatever a killed command left, first thing under the lock: sweep its leftovers
 * (`sweepLeftovers`: half-made builds, temporary files of dead writers), then finish a swap that
 * was interrupted (the state file still holds its journal): make its target current when the
 * target build is there, else go back to the build it started from; a finished apply then prunes
 * backups beyond `keepBackups`, as the apply would have. Returns null when there was no swap to
 * recover. The caller holds the lock; `state` is updated and written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { currentVersion } from "./layout.ts";
 * import { recoverSwap, switchCurrent } from "./swap.ts";
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
 * assert.equal(await recoverSwap(layout, state), null); // no journal: nothing to do
 * // An interrupted swap to a build that is gone is undone:
 * state.journal = { op: "apply", from: "1.0.0", to: "2.0.0", at: "2026-11-27T00:00:00Z", reason: "staged", bad: false };
 * assert.equal((await recoverSwap(layout, state))?.outcome, "undone");
 * assert.equal(await currentVersion(layout), "1.0.0");
 * assert.equal(state.journal, undefined);
 * ```
 */
export async function recoverSwap(
  layout: Layout,
  state: State,
  options: RecoverOptions = {},
): Promise<Recovery | null> {
  // What interrupted commands left (half-made builds, temporary files of dead writers) goes
  // first, whatever else there is to recover.
  await sweepLeftovers(layout);
  const journal = state.journal;
  if (journal === undefined) return null;
  const current = await currentVersion(layout);
  const isBuild = async (v: string) =>
    (await Deno.lstat(buildDir(layout, v)).catch(() => null))?.isDirectory === true;
  let outcome: Recovery["outcome"];
  if (current === journal.to || await isBuild(journal.to)) {
    if (current !== journal.to) await switchCurrent(layout, journal.to);
    settleJournal(state, journal);
    outcome = "finished";
  } else {
    if (journal.from !== null && current !== journal.from && await isBuild(journal.from)) {
      await switchCurrent(layout, journal.from);
    }
    delete state.journal;
    outcome = "undone";
  }
  await writeState(layout, state);
  await appendAudit(layout, {
    at: new Date().toISOString(),
    event: "recovered",
    reason: `interrupted ${journal.op} ${journal.from ?? "nothing"} -> ${journal.to} ${outcome}`,
    op: journal.op,
    from: journal.from,
    to: journal.to,
    outcome,
  });
  if (journal.op === "apply" && outcome === "finished" && options.keepBackups !== undefined) {
    const pruned = await pruneBackups(layout, state, { keep: options.keepBackups });
    return { journal, outcome, pruned };
  }
  return { journal, outcome };
}

/**
 * Options of {@linkcode applyStaged}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { type ApplyOptions, applyStaged, switchCurrent } from "./swap.ts";
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
 * const options: ApplyOptions = { maxAttempts: 1 }; // no confirm after one launch: roll back
 * const result = await applyStaged(layout, options);
 * assert.deepEqual(result.rolledBack, {
 *   from: "1.1.0",
 *   to: "1.0.0",
 *   reason: "1.1.0 was not confirmed healthy after 1 launches (health.max_attempts 1)",
 * });
 * ```
 */
export interface ApplyOptions {
  /** The time to record (default now). */
  now?: Date;
  /** Backups to keep after the swap (default 2). */
  keepBackups?: number;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
  /**
   * Launches of an unconfirmed build before the next apply rolls it back (default 3); null:
   * launches are counted but never roll back (under `run`, the exits are the evidence).
   */
  maxAttempts?: number | null;
  /** Smoke-test a staged build before swapping it in (default: no smoke test). */
  smoke?: SmokeOptions | null;
}

/**
 * What `applyStaged` did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { type ApplyResult, applyStaged, switchCurrent } from "./swap.ts";
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
 * const result: ApplyResult = await applyStaged(layout);
 * assert.deepEqual(result, {
 *   applied: true,
 *   from: "1.0.0",
 *   to: "1.1.0",
 *   pruned: [],
 *   problem: null,
 *   trial: { version: "1.1.0", attempts: 1, max_attempts: 3 },
 * });
 * ```
 */
export interface ApplyResult {
  /** Whether a build was swapped in. */
  applied: boolean;
  /** The version current before. */
  from: string | null;
  /** The version current after. */
  to: string | null;
  /** Backups removed by pruning. */
  pruned: string[];
  /** A problem with the state file, when there was one. */
  problem: string | null;
  /** An interrupted swap finished or undone first, when there was one. */
  recovered?: Recovery;
  /** A staged build refused (seal broken or smoke test failed) and removed. */
  refused?: { version: string; reason: string };
  /** An automatic rollback of a build never confirmed. */
  rolledBack?: { from: string; to: string; reason: string };
  /** The build on trial after this launch, and the launches counted. */
  trial?: { version: string; attempts: number; max_attempts: number | null };
}

/**
 * Why a staged build must not be swapped in: its files differ from what was verified (its
 * seal), or its smoke test fails. Null when it may go in. A build whose stat stamp is unchanged
 * since staging is known to be as staged without reading it (one `lstat` per entry, whatever its
 * size); only when the stamp moved (something was written, touched, or the root was copied
 * elsewhere) is the seal recomputed, by reading the build once.
 */
async function vetStaged(
  layout: Layout,
  state: State,
  options: ApplyOptions,
): Promise<{ reason: string; bad: boolean } | null> {
  const version = state.staged!.version;
  const dir = buildDir(layout, version);
  const stamped = state.builds[version]?.stat_sha256;
  const sealed = state.builds[version]?.tree_sha256;
  const unchanged = stamped !== undefined &&
    await (await import("./stamp.ts")).statStamp(dir) === stamped;
  if (!unchanged && sealed !== undefined) {
    const { treeDigest } = await import("./seal.ts");
    const actual = await treeDigest(dir);
    if (actual !== sealed) {
      return {
        reason:
          `staged build ${version} changed since it was verified (seal ${sealed}, now ${actual})`,
        bad: false,
      };
    }
  }
  if (options.smoke) {
    const { smokeTest } = await import("./_smoke.ts");
    const failure = await smokeTest(dir, options.smoke);
    if (failure !== null) return { reason: failure, bad: true };
  }
  return null;
}

/**
 * The launcher's hook, run at every start of the application. In order:
 *
 * 1. finish (or undo) a swap interrupted by a crash;
 * 2. with a build staged: check it is unchanged since staging (no file is read) and smoke-test
 *    it, then swap it in (journaled), put it on trial, and prune backups beyond `keepBackups`
 *    (never the trial's fallback). A build that
 *    fails is not swapped in, its files are removed, and (for a failed smoke test) it is
 *    remembered as bad on its channel;
 * 3. with a build on trial: count this launch, or, after `maxAttempts` launches without a
 *    `confirm` (never when it is null), roll back to the previous build and reject the failed
 *    one.
 *
 * With nothing staged, nothing on trial and no interrupted swap it returns at once without
 * taking the lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * assert.equal((await applyStaged(layoutOf(await Deno.makeTempDir()))).applied, false); // nothing staged
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
 * const first = await applyStaged(layout);
 * assert.equal(first.applied && first.to, "1.1.0");
 * const second = await applyStaged(layout); // the next launch: counted while on trial
 * assert.deepEqual([second.applied, second.trial?.attempts], [false, 2]);
 * ```
 */
export async function applyStaged(
  layout: Layout,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const first = await readState(layout);
  const s = first.state;
  if (!applyPending(s)) {
    const v = await currentVersion(layout);
    return { applied: false, from: v, to: v, pruned: [], problem: first.problem };
  }
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state, problem } = await readState(layout);
  const recovered = await recoverSwap(layout, state, { keepBackups: options.keepBackups ?? 2 });
  const extra: Partial<ApplyResult> = recovered === null ? {} : { recovered };
  const from = await currentVersion(layout);
  /** The result when no staged build goes in (`more`: what happened instead). */
  const notApplied = (more: Partial<ApplyResult> = {}): ApplyResult => ({
    applied: false,
    from,
    to: from,
    pruned: recovered?.pruned ?? [],
    problem,
    ...extra,
    ...more,
  });
  const at = (options.now ?? new Date()).toISOString();
  const keep = options.keepBackups ?? 2;
  const maxAttempts = options.maxAttempts === undefined ? 3 : options.maxAttempts;
  const staged = state.staged;
  if (staged === null) {
    const trial = state.trial;
    // A swap finished just now counts as this launch's attempt.
    if (trial === undefined || recovered?.journal.op === "apply") {
      return notApplied();
    }
    if (trial.version !== from) {
      delete state.trial; // stale: something else is current now
      await writeState(layout, state);
      return notApplied();
    }
    const fallback = trial.from;
    if (
      maxAttempts !== null && trial.attempts >= maxAttempts && fallback !== null &&
      await exists(buildDir(layout, fallback))
    ) {
      const reason =
        `${trial.version} was not confirmed healthy after ${trial.attempts} launches (health.max_attempts ${maxAttempts})`;
      faultPoint("during-rollback");
      await swapCurrent(layout, state, {
        op: "rollback",
        from: trial.version,
        to: fallback,
        at,
        reason,
        bad: true,
        automatic: true,
      });
      return notApplied({
        to: fallback,
        rolledBack: { from: trial.version, to: fallback, reason },
      });
    }
    trial.attempts += 1;
    await writeState(layout, state);
    await appendAudit(layout, {
      at,
      event: "trial_launch",
      reason: `launch ${trial.attempts} of ${trial.version} without a verdict`,
      version: trial.version,
      attempts: trial.attempts,
      max_attempts: maxAttempts,
    });
    return notApplied({
      trial: { version: trial.version, attempts: trial.attempts, max_attempts: maxAttempts },
    });
  }
  await refuseLinks(layout, buildDir(layout, staged.version));
  if (!(await exists(buildDir(layout, staged.version)))) {
    state.staged = null;
    state.last_error = {
      at,
      command: "apply",
      message: `Staged build ${staged.version} is missing from ${layout.builds}; nothing applied`,
    };
    await writeState(layout, state);
    throw new Error(state.last_error.message);
  }
  if (from === staged.version) {
    // Current already is the staged build (a swap from before journaling): record it.
    recordSwap(state, { from, to: staged.version, at });
    state.staged = null;
    await writeState(layout, state);
    return notApplied();
  }
  const refusal = await vetStaged(layout, state, options);
  if (refusal !== null) {
    const message = `Staged build ${staged.version} was not applied: ${refusal.reason}`;
    state.staged = null;
    delete state.builds[staged.version];
    if (refusal.bad) {
      markRejected(state.lifecycle, { version: staged.version, channel: staged.channel }, {
        at,
        reason: refusal.reason,
      });
    } else {
      state.lifecycle = state.lifecycle.filter((r) =>
        !(r.version === staged.version && r.channel === staged.channel)
      );
    }
    state.last_error = { at, command: "apply", message };
    await writeState(layout, state);
    const trash = `${layout.builds}/.trash-${staged.version}-${Date.now()}`;
    await Deno.rename(buildDir(layout, staged.version), trash);
    await removeIfExists(trash, true);
    await appendAudit(layout, {
      at,
      event: "refused",
      reason: refusal.reason,
      version: staged.version,
      channel: staged.channel,
      bad: refusal.bad,
    });
    return notApplied({ refused: { version: staged.version, reason: refusal.reason } });
  }
  await swapCurrent(layout, state, {
    op: "apply",
    from,
    to: staged.version,
    at,
    reason: "staged build swapped in at launch",
    bad: false,
  });
  const pruned = await pruneBackups(layout, state, { keep, at });
  const trial = state.trial;
  return {
    applied: true,
    from,
    to: staged.version,
    pruned,
    problem,
    ...extra,
    ...(trial
      ? { trial: { version: trial.version, attempts: trial.attempts, max_attempts: maxAttempts } }
      : {}),
  };
}
