/**
 * A channel's rollout state as the publisher sees it (`rollout show`, `verify-release`): the
 * share now, the ramp step, pause, the release installs outside the cohort are offered, yanked
 * versions and the minimum version.
 *
 * @module
 */
import { isObject } from "../core/validate.ts";
import { currentShare } from "./_rollout.ts";

const HOUR_MS = 3600_000;

/**
 * The rollout state of one channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RolloutState, rolloutState } from "./rollout_state.ts";
 * const state: RolloutState = rolloutState({ version: "1.0.0", released_at: "2026-11-20T10:00:00Z" }, new Date());
 * assert.equal(state.share_basis_points, 10000);
 * ```
 */
export interface RolloutState {
  /** The offered release. */
  version: string;
  /** Its share now, in basis points (10000: every install). */
  share_basis_points: number;
  /** True when the manifest has a rollout (a share below 100% or a ramp not yet at its end). */
  staged: boolean;
  /** The ramp's step now (1-based) and the next one, or null without a ramp. */
  ramp:
    | { step: number; steps: number; next_at: string | null; next_basis_points: number | null }
    | null;
  /** Whether the rollout is paused, and since when. */
  paused: boolean;
  paused_at: string | null;
  /** What installs outside the cohort are offered (null: nothing). */
  previous: string | null;
  /** The yanked versions. */
  yanked: { version: string; reason: string; at: string }[];
  /** The minimum version (installs below it update at once), or null. */
  minimum_version: string | null;
}

/**
 * The rollout state of the manifest document `doc` at `now`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rolloutState } from "./rollout_state.ts";
 * const doc = {
 *   version: "1.1.0", released_at: "2026-11-20T10:00:00Z",
 *   rollout: { salt: "0".repeat(32), paused: false, ramp: [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 10000 }] },
 *   previous: { version: "1.0.0" }, yanked: [{ version: "1.0.5", reason: "crash", at: "2026-11-19T10:00:00Z" }],
 * };
 * const state = rolloutState(doc, new Date("2026-11-20T12:00:00Z"));
 * assert.deepEqual(state.ramp, { step: 1, steps: 2, next_at: "2026-11-21T10:00:00Z", next_basis_points: 10000 });
 * assert.deepEqual([state.share_basis_points, state.previous, state.yanked[0].version], [100, "1.0.0", "1.0.5"]);
 * ```
 */
export function rolloutState(doc: Record<string, unknown>, now: Date): RolloutState {
  const rollout = isObject(doc.rollout) ? doc.rollout : null;
  const paused = rollout?.paused === true;
  const share = currentShare(doc, now);
  let ramp: RolloutState["ramp"] = null;
  if (rollout !== null && Array.isArray(rollout.ramp)) {
    const steps = rollout.ramp as { after_hours: number; basis_points: number }[];
    const at = paused && typeof rollout.paused_at === "string"
      ? Date.parse(rollout.paused_at)
      : now.getTime();
    const released = Date.parse(String(doc.released_at));
    const index = steps.findLastIndex((s) => released + s.after_hours * HOUR_MS <= at);
    const next = steps[index + 1];
    ramp = {
      step: index + 1,
      steps: steps.length,
      next_at: next === undefined || paused
        ? null
        : new Date(released + next.after_hours * HOUR_MS).toISOString().replace(/\.\d{3}Z$/, "Z"),
      next_basis_points: next === undefined || paused ? null : next.basis_points,
    };
  }
  const yanked = (Array.isArray(doc.yanked) ? doc.yanked : []).filter(isObject).map((y) => ({
    version: String(y.version),
    reason: String(y.reason),
    at: String(y.at),
  }));
  return {
    version: String(doc.version),
    share_basis_points: share,
    staged: rollout !== null,
    ramp,
    paused,
    paused_at: paused && typeof rollout?.paused_at === "string" ? rollout.paused_at : null,
    previous: rollout !== null && isObject(doc.previous) ? String(doc.previous.version) : null,
    yanked,
    minimum_version: typeof doc.minimum_version === "string" ? doc.minimum_version : null,
  };
}

/**
 * The state in one line for people.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeRollout, rolloutState } from "./rollout_state.ts";
 * const doc = { version: "1.1.0", released_at: "2026-11-20T10:00:00Z", minimum_version: "1.0.0",
 *   rollout: { salt: "0".repeat(32), basis_points: 1000, paused: true, paused_at: "2026-11-21T10:00:00Z" },
 *   previous: { version: "1.0.0" } };
 * assert.equal(
 *   describeRollout(rolloutState(doc, new Date())),
 *   "1.1.0 at 10%, paused since 2026-11-21T10:00:00Z; others: 1.0.0; minimum 1.0.0",
 * );
 * ```
 */
export function describeRollout(state: RolloutState): string {
  const parts = [
    `${state.version} at ${state.share_basis_points / 100}%${state.staged ? "" : " (complete)"}${
      state.ramp === null
        ? ""
        : ` (ramp step ${state.ramp.step} of ${state.ramp.steps}${
          state.ramp.next_at === null
            ? ""
            : `, ${state.ramp.next_basis_points! / 100}% from ${state.ramp.next_at}`
        })`
    }${state.paused ? `, paused since ${state.paused_at}` : ""}`,
  ];
  if (state.staged) parts.push(`others: ${state.previous ?? "nothing"}`);
  if (state.yanked.length > 0) {
    parts.push(`yanked ${state.yanked.map((y) => `${y.version} (${y.reason})`).join(", ")}`);
  }
  if (state.minimum_version !== null) parts.push(`minimum ${state.minimum_version}`);
  return parts.join("; ");
}
