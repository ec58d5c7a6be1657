/**
 * Leaving a yanked build (docs/UPDATE_POLICY.md, "Yanked builds and minimum versions"). The
 * state keeps each channel's yanked versions from its newest accepted manifest (`controls`), so
 * the launcher acts on them offline: a staged yanked build is unstaged and removed; a current (or
 * on trial) yanked build is left for the newest backup that ran healthy and is not yanked itself,
 * through the journaled swap a rollback uses. With no such backup the install stays (it is never
 * left without a launchable build) until an update stages the release its channel offers.
 * Launcher-safe: install root code only.
 *
 * @module
 */
import { removeIfExists } from "../core/fs.ts";
import { launchProblem } from "../core/launchable.ts";
import { appendAudit } from "./audit.ts";
import { listBackups } from "./backups.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import { holdBack } from "./lifecycle.ts";
import { chooseRollback } from "./rollback_choice.ts";
import { acquireLock } from "./lock.ts";
import { readState, type State, writeState, yankOf } from "./state.ts";
import { recoverSwap, swapCurrent } from "./swap.ts";

/**
 * What was done about a yanked build.
 *
 * - `unstaged`: the staged build was yanked: it is no longer staged, and its files are removed.
 * - `left`: the current build was yanked: `to` (a backup that ran healthy) is current now.
 * - `staged`: the current build was yanked and a build is staged: it goes in at this launch.
 * - `stayed`: the current build was yanked and nothing good is here to go to: it stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { YankOutcome } from "./yank.ts";
 * const outcome: YankOutcome = { outcome: "left", version: "1.1.0", channel: "stable",
 *   reason: "crashes at start", to: "1.0.0", message: "Left 1.1.0 …" };
 * assert.equal(outcome.to, "1.0.0");
 * ```
 */
export interface YankOutcome {
  /** What was done. */
  outcome: "unstaged" | "left" | "staged" | "stayed";
  /** The yanked version. */
  version: string;
  /** The channel that yanked it. */
  channel: string;
  /** The publisher's reason. */
  reason: string;
  /** The build current now instead (`left`), the staged one (`staged`), else null. */
  to: string | null;
  /** One line for people. */
  message: string;
}

/** The reason a yanked build is held back with (and its rollback's). */
function holdReason(channel: string, reason: string): string {
  return `yanked on ${channel}: ${reason}`;
}

/**
 * Lift the holds a yank of `channel` put on builds it no longer yanks (the publisher unyanked
 * them, `state.controls` as the newest accepted manifest set them): their versions may be
 * staged again when the channel offers them. `state` is updated (the caller writes it under the
 * lock); resolves to the versions released. A hold for another reason (a rollback by hand) stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdBack } from "./lifecycle.ts";
 * import { emptyState } from "./state.ts";
 * import { liftUnyanked } from "./yank.ts";
 * const state = emptyState();
 * const at = "2026-12-02T00:00:00.000Z";
 * holdBack(state.lifecycle, { version: "1.1.0", channel: "stable" }, { at, reason: "yanked on stable: crashes" });
 * holdBack(state.lifecycle, { version: "1.0.5", channel: "stable" }, { at, reason: "rolled back to 1.0.0 by hand" });
 * state.controls = { stable: { checked_at: at, minimum_version: null, yanked: [] } };
 * assert.deepEqual(liftUnyanked(state, "stable"), ["1.1.0"]);
 * assert.equal(state.lifecycle.find((r) => r.version === "1.1.0")?.held, null);
 * assert.notEqual(state.lifecycle.find((r) => r.version === "1.0.5")?.held, null);
 * ```
 */
export function liftUnyanked(state: State, channel: string): string[] {
  const still = new Set((state.controls?.[channel]?.yanked ?? []).map((y) => y.version));
  const prefix = holdReason(channel, "");
  const lifted: string[] = [];
  for (const record of state.lifecycle) {
    if (
      record.channel === channel && record.held !== null &&
      record.held.reason.startsWith(prefix) && !still.has(record.version)
    ) {
      record.held = null;
      lifted.push(record.version);
    }
  }
  return lifted;
}

/**
 * Unstage the staged build when its channel yanked it: no longer staged, its record dropped, held
 * back on its channel with the yank's reason, the state written, its files removed, audited
 * (`yank_unstaged`). The caller holds the lock; `state` is updated. Null when nothing is staged
 * or the staged build is not yanked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState } from "./state.ts";
 * import { unstageYanked } from "./yank.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.1.0`, { recursive: true });
 * const state = emptyState();
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-12-01T00:00:00Z" };
 * const at = "2026-12-02T00:00:00Z";
 * assert.equal(await unstageYanked(layout, state, { at }), null); // not yanked
 * state.controls = { stable: { checked_at: at, minimum_version: null,
 *   yanked: [{ version: "1.1.0", reason: "crashes at start", at }] } };
 * const done = await unstageYanked(layout, state, { at });
 * assert.equal(done?.message, "Unstaged 1.1.0, yanked on stable (crashes at start); its files are removed");
 * assert.equal(state.staged, null);
 * await assert.rejects(Deno.stat(`${layout.builds}/1.1.0`), Deno.errors.NotFound);
 * assert.equal((await readAudit(layout))[0].event, "yank_unstaged");
 * ```
 */
export async function unstageYanked(
  layout: Layout,
  state: State,
  options: { at: string },
): Promise<YankOutcome | null> {
  const staged = state.staged;
  const yank = staged === null ? null : yankOf(state, staged.version);
  if (staged === null || yank === null) return null;
  const { at } = options;
  state.staged = null;
  delete state.builds[staged.version];
  holdBack(state.lifecycle, { version: staged.version, channel: staged.channel }, {
    at,
    reason: holdReason(yank.channel, yank.reason),
    staged: true,
  });
  await writeState(layout, state);
  const dir = buildDir(layout, staged.version);
  const trash = `${layout.builds}/.trash-${staged.version}-${Date.now()}`;
  if (await Deno.rename(dir, trash).then(() => true, () => false)) {
    await removeIfExists(trash, true);
  }
  await appendAudit(layout, {
    at,
    event: "yank_unstaged",
    reason: holdReason(yank.channel, yank.reason),
    version: staged.version,
    channel: yank.channel,
  });
  return {
    outcome: "unstaged",
    version: staged.version,
    channel: yank.channel,
    reason: yank.reason,
    to: null,
    message:
      `Unstaged ${staged.version}, yanked on ${yank.channel} (${yank.reason}); its files are removed`,
  };
}

/**
 * Options of {@linkcode leaveYanked}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LeaveYankedOptions } from "./yank.ts";
 * const options: LeaveYankedOptions = { executable: "ms11", lockWaitMs: 5000 };
 * assert.equal(options.executable, "ms11");
 * ```
 */
export interface LeaveYankedOptions {
  /** The time to record (default now). */
  now?: Date;
  /** How long to wait for the install lock, in milliseconds (default 0). */
  lockWaitMs?: number;
  /** The application's executable: a backup without it is not gone to (default: not checked). */
  executable?: string;
}

/**
 * The launcher's part of a yank, before the staged build is applied: unstage a yanked staged
 * build; leave a yanked current build (on trial or not) for the newest backup that last ran
 * healthy and is not yanked (a journaled rollback, the yanked build held back with the reason,
 * audited `yank_left`). When a build is staged, it is what goes in (`staged`: the caller applies
 * it); with no good backup the install stays (`stayed`). Reads only, and takes no lock, when
 * nothing here is yanked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentVersion, layoutOf } from "./layout.ts";
 * import { markConfirmed } from "./lifecycle.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { switchCurrent } from "./swap.ts";
 * import { leaveYanked } from "./yank.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptyState();
 * for (const [version, retired_at] of [["1.0.0", "2026-11-20T00:00:00Z"], ["1.1.0", null]]) {
 *   await Deno.mkdir(`${layout.builds}/${version}`, { recursive: true });
 *   state.builds[version!] = { version: version!, channel: "stable", sha256: null, kind: "executable",
 *     installed_at: "2026-11-01T00:00:00Z", retired_at };
 *   markConfirmed(state.lifecycle, { version: version!, channel: "stable" }, { at: "2026-11-10T00:00:00Z" });
 * }
 * await switchCurrent(layout, "1.1.0");
 * await writeState(layout, state);
 * assert.deepEqual(await leaveYanked(layout), []); // nothing yanked
 * const at = "2026-12-01T00:00:00Z";
 * state.controls = { stable: { checked_at: at, minimum_version: null,
 *   yanked: [{ version: "1.1.0", reason: "crashes at start", at }] } };
 * await writeState(layout, state);
 * const [left] = await leaveYanked(layout);
 * assert.deepEqual([left.outcome, left.to], ["left", "1.0.0"]);
 * assert.equal(await currentVersion(layout), "1.0.0");
 * ```
 */
export async function leaveYanked(
  layout: Layout,
  options: LeaveYankedOptions = {},
): Promise<YankOutcome[]> {
  const first = await readState(layout);
  const seen = await currentVersion(layout);
  if (
    yankOf(first.state, seen) === null &&
    (first.state.staged === null || yankOf(first.state, first.state.staged.version) === null)
  ) return [];
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state } = await readState(layout);
  await recoverSwap(layout, state);
  const at = (options.now ?? new Date()).toISOString();
  const done: YankOutcome[] = [];
  const unstaged = await unstageYanked(layout, state, { at });
  if (unstaged !== null) done.push(unstaged);
  const current = await currentVersion(layout);
  const yank = yankOf(state, current);
  if (current === null || yank === null) return done;
  const facts = { version: current, channel: yank.channel, reason: yank.reason };
  const why = `${current} is yanked on ${yank.channel} (${yank.reason})`;
  if (state.staged !== null) {
    const to = state.staged.version;
    done.push({ ...facts, outcome: "staged", to, message: `${why}: ${to}, staged, goes in` });
    return done;
  }
  const choice = await retreatTarget(layout, state, { executable: options.executable });
  if (choice.target === null) {
    const have = choice.passed.length === 0 ? "there are no backups" : choice.passed.join("; ");
    const message =
      `${why}, but no backup here last ran healthy (${have}): staying on ${current}; the next update installs the release ${yank.channel} offers`;
    // Audited at each launch that stays: how many launches ran the yanked build is worth knowing.
    await appendAudit(layout, {
      at,
      event: "yank_stayed",
      reason: message,
      version: current,
      channel: yank.channel,
      yank_reason: yank.reason,
    });
    done.push({ ...facts, outcome: "stayed", to: null, message });
    return done;
  }
  const to = choice.target;
  await swapCurrent(layout, state, {
    op: "rollback",
    from: current,
    to,
    at,
    reason: holdReason(yank.channel, yank.reason),
    bad: false,
    hold: true,
    automatic: true,
  });
  const message = `Left ${current}, yanked on ${yank.channel} (${yank.reason}): back to ${to}`;
  await appendAudit(layout, {
    at,
    event: "yank_left",
    reason: `${why}: back to ${to}, the newest backup that last ran healthy`,
    version: current,
    channel: yank.channel,
    yank_reason: yank.reason,
    to,
    via: "backup",
  });
  done.push({ ...facts, outcome: "left", to, message });
  return done;
}

/**
 * The backup a yanked build is left for: the newest that last ran healthy (lib/root/lifecycle.ts
 * `chooseRollback`), not yanked itself, and (with `executable`) launchable; null when none is,
 * with each backup passed over and why (`1.0.5: yanked on stable`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState } from "./state.ts";
 * import { retreatTarget } from "./yank.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.0.0`, { recursive: true });
 * const choice = await retreatTarget(layout, emptyState(), { executable: "ms11" });
 * assert.deepEqual(choice, { target: null, passed: ["1.0.0: has no file ms11 at the top level"] });
 * ```
 */
export async function retreatTarget(
  layout: Layout,
  state: State,
  options: { executable?: string } = {},
): Promise<{ target: string | null; passed: string[] }> {
  const usable: Awaited<ReturnType<typeof listBackups>> = [];
  const passed: string[] = [];
  for (const backup of await listBackups(layout, state)) {
    const other = yankOf(state, backup.version);
    const problem = other !== null
      ? `yanked on ${other.channel}`
      : options.executable === undefined
      ? null
      : await launchProblem(buildDir(layout, backup.version), options.executable);
    if (problem === null) usable.push(backup);
    else passed.push(`${backup.version}: ${problem}`);
  }
  const choice = chooseRollback(usable, state.lifecycle);
  passed.push(...choice.skipped.map((s) => `${s.version}: ${s.why}`));
  return { target: choice.target, passed };
}

/**
 * After the launcher applied the staged build over a yanked one: hold the yanked build back
 * with the yank's reason and audit it (`yank_left`, `via: "staged"`). Null when `from` is not
 * yanked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { noteLeftYanked } from "./yank.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.equal(await noteLeftYanked(layout, { from: "1.1.0", to: "1.2.0" }), null);
 * ```
 */
export async function noteLeftYanked(
  layout: Layout,
  options: { from: string | null; to: string; now?: Date; lockWaitMs?: number },
): Promise<YankOutcome | null> {
  const { from, to } = options;
  if (!(await readState(layout).then((r) => yankOf(r.state, from) !== null))) return null;
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state } = await readState(layout);
  const yank = yankOf(state, from);
  if (yank === null || from === null) return null;
  const at = (options.now ?? new Date()).toISOString();
  holdBack(state.lifecycle, { version: from, channel: yank.channel }, {
    at,
    reason: holdReason(yank.channel, yank.reason),
  });
  await writeState(layout, state);
  await appendAudit(layout, {
    at,
    event: "yank_left",
    reason: `${from} is yanked on ${yank.channel} (${yank.reason}): ${to}, staged, went in`,
    version: from,
    channel: yank.channel,
    yank_reason: yank.reason,
    to,
    via: "staged",
  });
  return {
    outcome: "left",
    version: from,
    channel: yank.channel,
    reason: yank.reason,
    to,
    message: `Left ${from}, yanked on ${yank.channel} (${yank.reason}): ${to} applied`,
  };
}
