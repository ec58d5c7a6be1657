// Private: the journaled swap of `current` (docs/RELIABILITY.md): switchCurrent renames a new
// link over it; recordSwap and settleJournal keep the state's builds and lifecycle in step;
// swapCurrent journals the intent, swaps, and records it. swap.ts (which re-exports these) adds
// the recovery of an interrupted swap and the launcher's apply.
import { renameDurable, tempSibling } from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";
import { appendAudit } from "./audit.ts";
import { buildDir, type Layout } from "./layout.ts";
import {
  findLifecycle,
  holdBack,
  liftHold,
  markApplied,
  markConfirmed,
  markRejected,
} from "./lifecycle.ts";
import { type JournalRecord, type State, writeState } from "./state.ts";
import { refuseLinks } from "./safe.ts";

/**
 * Point `current` at `builds/<version>` atomically and durably.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.0.0`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
 * await assert.rejects(switchCurrent(layout, "2.0.0"), {
 *   message: `Cannot switch to 2.0.0: build ${layout.builds}/2.0.0 is missing`,
 * });
 * ```
 */
export async function switchCurrent(layout: Layout, version: string): Promise<void> {
  const dir = buildDir(layout, version);
  await refuseLinks(layout, dir);
  const info = await Deno.lstat(dir).catch(() => null);
  if (!info?.isDirectory) throw new Error(`Cannot switch to ${version}: build ${dir} is missing`);
  const link = tempSibling(layout.current);
  await Deno.symlink(`builds/${version}`, link);
  faultPoint("during-link"); // the new link made, not renamed over `current` yet
  try {
    await renameDurable(link, layout.current);
  } catch (error) {
    await Deno.remove(link).catch(() => {});
    throw error;
  }
}

/**
 * Record in `state` that `from` stopped being current and `to` became it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyState } from "./state.ts";
 * import { recordSwap } from "./swap.ts";
 * const state = emptyState();
 * const build = (version: string, retired_at: string | null) => ({
 *   version, channel: "stable", sha256: null, kind: "executable", installed_at: "2026-11-01T00:00:00Z", retired_at,
 * });
 * state.builds["1.0.0"] = build("1.0.0", null);
 * state.builds["1.1.0"] = build("1.1.0", "2026-11-20T00:00:00Z");
 * recordSwap(state, { from: "1.0.0", to: "1.1.0", at: "2026-11-27T00:00:00Z" });
 * assert.equal(state.builds["1.0.0"].retired_at, "2026-11-27T00:00:00Z");
 * assert.equal(state.builds["1.1.0"].retired_at, null); // current again
 * ```
 */
export function recordSwap(
  state: State,
  swap: { from: string | null; to: string; at: string },
): void {
  const { from, to, at } = swap;
  if (from !== null && from !== to && state.builds[from]) state.builds[from].retired_at = at;
  if (state.builds[to]) state.builds[to].retired_at = null;
}

/**
 * Apply the effects of a journaled swap to `state` and clear the journal. Pure and idempotent:
 * the same journal settled twice gives the same state.
 *
 * - `apply`: the old build is retired, the staged build is no longer staged, and the new build
 *   goes on trial (when there was a build before it to fall back to: the build it replaced, or,
 *   if that one was itself still on trial, that one's fallback); with nothing to fall back to it
 *   is confirmed at once (lib/root/lifecycle.ts).
 * - `rollback`: the old build is retired and, for a `bad` rollback, rejected on its channel with
 *   the journal's reason; otherwise it is only held back from updates (when `hold`: it is newer
 *   than the build rolled back to). A staged build is
 *   cancelled (and held back), any trial ends, and the build made current is no longer held. A
 *   build brought back by a rollback that rejects nothing, and that never proved healthy, goes
 *   on trial again, falling back to the build it replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyState, type JournalRecord } from "./state.ts";
 * import { findLifecycle } from "./lifecycle.ts";
 * import { settleJournal } from "./swap.ts";
 * const state = emptyState();
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-26T00:00:00Z" };
 * const journal: JournalRecord = {
 *   op: "apply", from: "1.0.0", to: "1.1.0", at: "2026-11-27T00:00:00Z", reason: "staged", bad: false,
 * };
 * state.journal = journal;
 * settleJournal(state, journal);
 * assert.equal(state.staged, null);
 * assert.equal(state.journal, undefined);
 * assert.deepEqual(state.trial, {
 *   version: "1.1.0", from: "1.0.0", channel: "unknown", started_at: "2026-11-27T00:00:00Z", attempts: 1,
 * });
 * assert.equal(findLifecycle(state.lifecycle, { version: "1.1.0", channel: "unknown" })?.state, "trial");
 * const once = structuredClone(state);
 * settleJournal(state, journal); // idempotent
 * assert.deepEqual(state, once);
 * ```
 */
export function settleJournal(state: State, journal: JournalRecord): void {
  const { from, to, at } = journal;
  const channelOf = (v: string) => state.builds[v]?.channel ?? "unknown";
  recordSwap(state, { from, to, at });
  if (journal.op === "apply") {
    if (state.staged?.version === to) state.staged = null;
    const fallback = from !== null && from !== to;
    const fromOnTrial = from !== null && state.trial?.version === from;
    if (fallback) {
      // Replacing a build still on trial: fall back to the last build known good, not to it.
      const previous = state.trial?.version === from ? state.trial.from : null;
      state.trial = {
        version: to,
        from: previous ?? from,
        channel: channelOf(to),
        started_at: at,
        attempts: 1,
      };
    } else delete state.trial;
    if (
      from !== null && fallback && !fromOnTrial &&
      !findLifecycle(state.lifecycle, { version: from, channel: channelOf(from) })
    ) {
      // A build with no lifecycle yet (adopted or staged before lifecycles) ran until now.
      markConfirmed(state.lifecycle, { version: from, channel: channelOf(from) }, {
        at,
        reason: "ran as current until an update replaced it",
      });
    }
    markApplied(state.lifecycle, { version: to, channel: channelOf(to) }, { at, fallback });
  } else {
    const cancelled = state.staged;
    state.staged = null;
    delete state.trial;
    if (cancelled !== null && cancelled.version !== to) {
      holdBack(state.lifecycle, { version: cancelled.version, channel: cancelled.channel }, {
        at,
        reason: `cancelled by the rollback to ${to}`,
        staged: true,
      });
    }
    if (from !== null && from !== to) {
      if (journal.bad) {
        markRejected(state.lifecycle, { version: from, channel: channelOf(from) }, {
          at,
          reason: journal.reason,
        });
      } else if (journal.hold ?? true) {
        holdBack(state.lifecycle, { version: from, channel: channelOf(from) }, {
          at,
          reason: journal.reason,
        });
      }
    }
    liftHold(state.lifecycle, { version: to, channel: channelOf(to) });
    const target = findLifecycle(state.lifecycle, { version: to, channel: channelOf(to) });
    if (target?.state !== "confirmed" && !journal.bad && from !== null && from !== to) {
      // A build that never proved healthy, brought back by hand: on trial again.
      state.trial = {
        version: to,
        from,
        channel: channelOf(to),
        started_at: at,
        attempts: 0,
      };
      markApplied(state.lifecycle, { version: to, channel: channelOf(to) }, {
        at,
        fallback: true,
        reason: "made current again by a rollback; on trial until confirmed healthy",
      });
    }
  }
  delete state.journal;
}

/**
 * Make `journal.to` current as one journaled step: write the journal, rename, record the swap,
 * clear the journal, append to the audit log. The caller holds the lock; `state` is updated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAudit } from "./audit.ts";
 * import { currentVersion, layoutOf } from "./layout.ts";
 * import { emptyState, readState } from "./state.ts";
 * import { swapCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.0.0`, { recursive: true });
 * const state = emptyState();
 * await swapCurrent(layout, state, {
 *   op: "apply", from: null, to: "1.0.0", at: "2026-11-27T00:00:00Z", reason: "first", bad: false,
 * });
 * assert.equal(await currentVersion(layout), "1.0.0");
 * assert.deepEqual((await readState(layout)).state, state); // written, journal cleared
 * assert.equal(state.journal, undefined);
 * assert.deepEqual((await readAudit(layout)).map((e) => [e.event, e.to]), [["applied", "1.0.0"]]);
 * ```
 */
export async function swapCurrent(
  layout: Layout,
  state: State,
  journal: JournalRecord,
): Promise<void> {
  state.journal = journal;
  await writeState(layout, state);
  faultPoint("after-journal");
  faultPoint("before-rename");
  await switchCurrent(layout, journal.to);
  faultPoint("after-rename");
  settleJournal(state, journal);
  await writeState(layout, state);
  await appendAudit(layout, {
    at: journal.at,
    event: journal.op === "apply" ? "applied" : "rolled_back",
    reason: journal.reason,
    from: journal.from,
    to: journal.to,
    ...(journal.op === "rollback"
      ? {
        bad: journal.bad,
        ...(journal.automatic === undefined ? {} : { automatic: journal.automatic }),
      }
      : {}),
  });
}
