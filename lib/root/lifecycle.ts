/**
 * The build lifecycle: what is known about each build's health, per version and channel, and
 * whether updates hold it back. Pure: these functions change an in-memory list of records (the
 * state file's `lifecycle`) and touch no disk.
 *
 * ```
 *   verified ──► staged ──apply over a build──► trial ──confirm / health evidence──► confirmed
 *                  │  └──apply, nothing to fall back to──────────────────────────────► confirmed
 *                  └──smoke test fails, not launchable──► rejected ◄──crash, no confirm after
 *                                                            │        K launches, rollback --reject
 *   rejected ──update --force──► staged;  rejected ──rollback --to──► trial ──confirm──► confirmed
 * ```
 *
 * A hold is apart from the state: a build rolled back from by hand (without `--reject`), or a
 * staged build a rollback cancelled, is held: updates skip its version on its channel until a
 * newer release or `--force`. Staging it again, or making it current again, lifts the hold.
 * docs/UPDATE_POLICY.md ("Build lifecycle") is the reference.
 *
 * @module
 */

/**
 * What is known about a build's health.
 *
 * - `staged`: verified and placed in `builds/`; it never ran as current.
 * - `trial`: it ran as current without a verdict yet (on trial while current; a backup in this
 *   state left its trial unconfirmed).
 * - `confirmed`: it proved healthy (confirmed, lived through its health window, exited cleanly),
 *   or it was the install's first build with nothing to fall back to.
 * - `rejected`: it proved broken (or was rejected by hand); updates skip it until a newer release.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BuildState } from "./lifecycle.ts";
 * const healthy = (state: BuildState) => state === "confirmed";
 * assert.equal(healthy("trial"), false);
 * ```
 */
export type BuildState = "staged" | "trial" | "confirmed" | "rejected";

/**
 * The states, in lifecycle order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILD_STATES } from "./lifecycle.ts";
 * assert.deepEqual(BUILD_STATES, ["staged", "trial", "confirmed", "rejected"]);
 * ```
 */
export const BUILD_STATES: readonly BuildState[] = ["staged", "trial", "confirmed", "rejected"];

/**
 * Why updates skip a version that is not bad: it was rolled back from (or cancelled) by hand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HoldRecord } from "./lifecycle.ts";
 * const hold: HoldRecord = { at: "2026-11-27T12:00:00.000Z", reason: "rolled back to 1.1.0 by hand" };
 * assert.match(hold.reason, /by hand/);
 * ```
 */
export interface HoldRecord {
  /** When it was held. */
  at: string;
  /** Why. */
  reason: string;
}

/**
 * The lifecycle of one build (a version from one channel).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LifecycleRecord } from "./lifecycle.ts";
 * const record: LifecycleRecord = { version: "1.1.0", channel: "stable", state: "confirmed",
 *   at: "2026-11-27T12:00:00.000Z", reason: "confirmed healthy", held: null };
 * assert.equal(record.held, null);
 * ```
 */
export interface LifecycleRecord {
  /** The build's version. */
  version: string;
  /** The channel it came from (`adopted` for an adopted build). */
  channel: string;
  /** Its state. */
  state: BuildState;
  /** When it entered that state. */
  at: string;
  /** Why (for `rejected`: what went wrong). */
  reason: string;
  /** Set while updates hold its version back on its channel. */
  held: HoldRecord | null;
}

/**
 * A version updates skip on its channel, with the reason (a rejected or a held build).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RejectedRecord } from "./lifecycle.ts";
 * const skip: RejectedRecord = { version: "1.1.0", channel: "stable", reason: "crashed",
 *   at: "2026-11-27T12:00:00.000Z" };
 * assert.equal(skip.reason, "crashed");
 * ```
 */
export interface RejectedRecord {
  /** The version. */
  version: string;
  /** Its channel. */
  channel: string;
  /** Why. */
  reason: string;
  /** When. */
  at: string;
}

/**
 * Most records kept: records of builds no longer in `builds/` go first (oldest first), and only
 * rejected or held ones are kept for builds that are gone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_LIFECYCLE_RECORDS } from "./lifecycle.ts";
 * assert.equal(MAX_LIFECYCLE_RECORDS, 64);
 * ```
 */
export const MAX_LIFECYCLE_RECORDS = 64;

/**
 * Which build a lifecycle record is about: a version from a channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BuildKey } from "./lifecycle.ts";
 * const build: BuildKey = { version: "1.1.0", channel: "stable" };
 * assert.equal(build.channel, "stable");
 * ```
 */
export interface BuildKey {
  /** The version (semver, canonical form). */
  version: string;
  /** The channel it came from. */
  channel: string;
}

/**
 * The record of `build` (a version from a channel), if there is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findLifecycle, markStaged } from "./lifecycle.ts";
 * const records = [markStaged([], { version: "1.1.0", channel: "stable" }, { at: "2026-11-27T12:00:00.000Z" })];
 * assert.equal(findLifecycle(records, { version: "1.1.0", channel: "stable" })?.state, "staged");
 * assert.equal(findLifecycle(records, { version: "1.1.0", channel: "canary" }), undefined);
 * ```
 */
export function findLifecycle(
  records: readonly LifecycleRecord[],
  build: BuildKey,
): LifecycleRecord | undefined {
  return records.find((r) => r.version === build.version && r.channel === build.channel);
}

/**
 * When and why a transition happens.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markConfirmed, type TransitionOptions } from "./lifecycle.ts";
 * const when: TransitionOptions = { at: "2026-11-27T12:00:00.000Z", reason: "ran 30 s" };
 * assert.equal(markConfirmed([], { version: "1.1.0", channel: "stable" }, when).reason, "ran 30 s");
 * ```
 */
export interface TransitionOptions {
  /** When (ISO 8601). */
  at: string;
  /** Why (each transition has a default). */
  reason?: string;
}

function enter(
  records: LifecycleRecord[],
  build: BuildKey,
  options: { state: BuildState; at: string; reason: string; held: HoldRecord | null | "keep" },
): LifecycleRecord {
  const { state } = options;
  let record = findLifecycle(records, build);
  if (record === undefined) {
    const { version, channel } = build;
    record = { version, channel, state, at: options.at, reason: options.reason, held: null };
    records.push(record);
  } else {
    record.state = state;
    record.at = options.at;
    record.reason = options.reason;
  }
  if (options.held !== "keep") record.held = options.held;
  return record;
}

/**
 * A build was verified and staged: `staged`, and any hold is lifted (staging a held or rejected
 * version again happens only with `--force`: consent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markRejected, markStaged } from "./lifecycle.ts";
 * const records = [markRejected([], { version: "1.1.0", channel: "stable" }, { at: "2026-11-27T12:00:00.000Z",
 *   reason: "crashed" })];
 * const staged = markStaged(records, { version: "1.1.0", channel: "stable" }, { at: "2026-11-28T12:00:00.000Z" });
 * assert.equal(staged.state, "staged");
 * assert.equal(records.length, 1);
 * ```
 */
export function markStaged(
  records: LifecycleRecord[],
  build: BuildKey,
  options: TransitionOptions,
): LifecycleRecord {
  return enter(records, build, {
    state: "staged",
    at: options.at,
    reason: options.reason ?? "verified and staged",
    held: null,
  });
}

/**
 * A build became current by an apply: on `trial` when there is a build to fall back to, else
 * `confirmed` (the first build of an install: nothing to judge it against). Any hold is lifted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markApplied } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * assert.equal(markApplied([], { version: "1.1.0", channel: "stable" }, { at, fallback: true }).state, "trial");
 * assert.equal(markApplied([], { version: "1.0.0", channel: "stable" }, { at, fallback: false }).state, "confirmed");
 * ```
 */
export function markApplied(
  records: LifecycleRecord[],
  build: BuildKey,
  options: TransitionOptions & { fallback: boolean },
): LifecycleRecord {
  return options.fallback
    ? enter(records, build, {
      state: "trial",
      at: options.at,
      reason: options.reason ?? "swapped in; on trial until confirmed healthy",
      held: null,
    })
    : enter(records, build, {
      state: "confirmed",
      at: options.at,
      reason: options.reason ?? "first build of the install: nothing to fall back to",
      held: null,
    });
}

/**
 * A build proved healthy: `confirmed`. A build rejected before and confirmed now is not
 * rejected any more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markConfirmed, markRejected } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [markRejected([], { version: "1.1.0", channel: "stable" }, { at, reason: "crashed" })];
 * markConfirmed(records, { version: "1.1.0", channel: "stable" }, { at, reason: "confirmed healthy" });
 * assert.equal(records[0].state, "confirmed");
 * ```
 */
export function markConfirmed(
  records: LifecycleRecord[],
  build: BuildKey,
  options: TransitionOptions,
): LifecycleRecord {
  return enter(records, build, {
    state: "confirmed",
    at: options.at,
    reason: options.reason ?? "confirmed healthy",
    held: null,
  });
}

/**
 * A build proved broken, or was rejected by hand: `rejected`, with the reason. Updates skip its
 * version on its channel until a newer release or `--force`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markRejected, skipReason } from "./lifecycle.ts";
 * const records = [markRejected([], { version: "1.1.0", channel: "stable" }, { at: "2026-11-27T12:00:00.000Z",
 *   reason: "1.1.0 exited with code 3 before its health check passed" })];
 * assert.match(skipReason(records, { version: "1.1.0", channel: "stable" }) ?? "", /exited with code 3/);
 * ```
 */
export function markRejected(
  records: LifecycleRecord[],
  build: BuildKey,
  options: TransitionOptions & { reason: string },
): LifecycleRecord {
  return enter(records, build, {
    state: "rejected",
    at: options.at,
    reason: options.reason,
    held: null,
  });
}

/**
 * Hold a version back on its channel (rolled back from by hand, or a staged build cancelled by
 * a rollback) without judging its health. A build with no record yet is recorded as `trial`
 * (it ran, without a verdict) or, with `staged`, as never run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdBack, markConfirmed } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [markConfirmed([], { version: "1.2.0", channel: "stable" }, { at })];
 * holdBack(records, { version: "1.2.0", channel: "stable" }, { at, reason: "rolled back to 1.1.0 by hand" });
 * assert.equal(records[0].state, "confirmed");
 * assert.equal(records[0].held?.reason, "rolled back to 1.1.0 by hand");
 * ```
 */
export function holdBack(
  records: LifecycleRecord[],
  build: BuildKey,
  options: TransitionOptions & { reason: string; staged?: boolean },
): LifecycleRecord {
  const held = { at: options.at, reason: options.reason };
  const record = findLifecycle(records, build);
  if (record !== undefined) {
    record.held = held;
    return record;
  }
  return enter(records, build, {
    state: options.staged ? "staged" : "trial",
    at: options.at,
    reason: options.staged ? "staged, never ran" : "ran without a verdict",
    held,
  });
}

/**
 * Lift the hold of a version (it is current again by choice). Returns whether there was one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdBack, liftHold } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [holdBack([], { version: "1.2.0", channel: "stable" }, { at, reason: "rolled back by hand" })];
 * assert.equal(liftHold(records, { version: "1.2.0", channel: "stable" }), true);
 * assert.equal(records[0].held, null);
 * ```
 */
export function liftHold(records: LifecycleRecord[], build: BuildKey): boolean {
  const record = findLifecycle(records, build);
  if (record?.held == null) return false;
  record.held = null;
  return true;
}

/**
 * Why updates skip `version` on `channel` (a rejected build, or a held one), or null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdBack, skipReason } from "./lifecycle.ts";
 * const records = [holdBack([], { version: "1.2.0", channel: "stable" }, { at: "2026-11-27T12:00:00.000Z",
 *   reason: "rolled back to 1.1.0 by hand" })];
 * assert.equal(skipReason(records, { version: "1.2.0", channel: "stable" }), "rolled back to 1.1.0 by hand");
 * assert.equal(skipReason(records, { version: "1.3.0", channel: "stable" }), null);
 * ```
 */
export function skipReason(
  records: readonly LifecycleRecord[],
  build: BuildKey,
): string | null {
  const record = findLifecycle(records, build);
  if (record === undefined) return null;
  if (record.state === "rejected") return record.reason;
  return record.held?.reason ?? null;
}

/**
 * The versions updates skip, with the reason: every rejected or held build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markConfirmed, markRejected, skippedVersions } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [markRejected([], { version: "1.1.0", channel: "stable" }, { at, reason: "crashed" })];
 * markConfirmed(records, { version: "1.0.0", channel: "stable" }, { at });
 * assert.deepEqual(skippedVersions(records),
 *   [{ version: "1.1.0", channel: "stable", reason: "crashed", at }]);
 * ```
 */
export function skippedVersions(records: readonly LifecycleRecord[]): RejectedRecord[] {
  const out: RejectedRecord[] = [];
  for (const r of records) {
    if (r.state === "rejected") {
      out.push({ version: r.version, channel: r.channel, reason: r.reason, at: r.at });
    } else if (r.held !== null) {
      out.push({ version: r.version, channel: r.channel, reason: r.held.reason, at: r.held.at });
    }
  }
  return out;
}

/**
 * The rejected builds (not the held ones).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdBack, markRejected, rejectedBuilds } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [markRejected([], { version: "1.1.0", channel: "stable" }, { at, reason: "crashed" })];
 * holdBack(records, { version: "1.2.0", channel: "stable" }, { at, reason: "rolled back by hand" });
 * assert.deepEqual(rejectedBuilds(records).map((r) => r.version), ["1.1.0"]);
 * ```
 */
export function rejectedBuilds(records: readonly LifecycleRecord[]): RejectedRecord[] {
  return records.filter((r) => r.state === "rejected").map((r) => ({
    version: r.version,
    channel: r.channel,
    reason: r.reason,
    at: r.at,
  }));
}

/**
 * Forget records nobody needs: those of builds no longer in `builds/` (`present` lists the
 * versions that are) unless rejected or held, then, beyond {@linkcode MAX_LIFECYCLE_RECORDS},
 * the oldest of builds that are gone. Returns the records kept, in their order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markConfirmed, markRejected, trimLifecycle } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [markConfirmed([], { version: "1.0.0", channel: "stable" }, { at })];
 * markRejected(records, { version: "1.1.0", channel: "stable" }, { at, reason: "crashed" });
 * assert.deepEqual(trimLifecycle(records, new Set()).map((r) => r.version), ["1.1.0"]);
 * ```
 */
export function trimLifecycle(
  records: readonly LifecycleRecord[],
  present: ReadonlySet<string>,
): LifecycleRecord[] {
  const kept = records.filter((r) =>
    present.has(r.version) || r.state === "rejected" || r.held !== null
  );
  let excess = kept.length - MAX_LIFECYCLE_RECORDS;
  if (excess <= 0) return kept;
  const gone = kept.filter((r) => !present.has(r.version))
    .sort((a, b) => a.at.localeCompare(b.at));
  const drop = new Set<LifecycleRecord>();
  for (const r of gone) {
    if (excess-- <= 0) break;
    drop.add(r);
  }
  return kept.filter((r) => !drop.has(r));
}

/**
 * A build's lifecycle in a few words for people (the CLI's `status`, the dashboard's backups):
 * its state, why when rejected, and a hold. `unknown` without a record; a `trial` is `on trial`
 * for the `current` build, `never confirmed` for a backup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeLifecycle } from "./lifecycle.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * assert.equal(describeLifecycle({ state: "rejected", reason: "crashed", held: null }), "rejected: crashed");
 * assert.equal(
 *   describeLifecycle({ state: "confirmed", reason: "", held: { at, reason: "rolled back by hand" } }),
 *   "confirmed healthy; held back: rolled back by hand",
 * );
 * assert.equal(describeLifecycle({ state: "trial", reason: "", held: null }, { current: true }), "on trial");
 * assert.equal(describeLifecycle(null), "unknown");
 * ```
 */
export function describeLifecycle(
  record: Pick<LifecycleRecord, "state" | "reason" | "held"> | null,
  options: { current?: boolean } = {},
): string {
  if (record === null) return "unknown";
  const state = {
    staged: "never ran",
    trial: options.current ? "on trial" : "never confirmed",
    confirmed: "confirmed healthy",
    rejected: `rejected: ${record.reason}`,
  }[record.state];
  return record.held && record.state !== "rejected"
    ? `${state}; held back: ${record.held.reason}`
    : state;
}
