/**
 * A check's staged rollout as the state's last check, the audit log and the dashboard's channel
 * cards record it (docs/STATUS.md, `last_check.rollout`).
 *
 * @module
 */
import type { RolloutRecord } from "../root/state.ts";
import type { CheckResult } from "../trust/check.ts";

/**
 * The rollout facts of a check: `{rollout}` when the manifest has a staged rollout, yanked
 * versions or a minimum version, else nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rolloutFacts } from "./_rollout_facts.ts";
 * import type { CheckResult } from "../trust/check.ts";
 * const check = {
 *   newest: "1.1.0",
 *   offered: { which: "previous", in_cohort: false, share: 1000, bucket: 4321, reason: "outside the cohort (10%)" },
 *   fetchedManifest: { rollout: { paused: false }, yanked: [], minimum_version: null },
 * } as unknown as CheckResult;
 * assert.equal(rolloutFacts(check).rollout?.offered, "previous");
 * const plain = { ...check, fetchedManifest: { rollout: null, yanked: [], minimum_version: null } };
 * assert.deepEqual(rolloutFacts(plain as unknown as CheckResult), {});
 * ```
 */
export function rolloutFacts(check: CheckResult): { rollout?: RolloutRecord } {
  const { rollout, yanked, minimum_version } = check.fetchedManifest;
  if (rollout === null && yanked.length === 0 && minimum_version === null) return {};
  return {
    rollout: {
      newest: check.newest,
      offered: check.offered.which,
      in_cohort: check.offered.in_cohort,
      share_basis_points: check.offered.share,
      paused: rollout?.paused ?? false,
      yanked: yanked.map((y) => y.version),
      minimum_version,
      reason: check.offered.reason,
    },
  };
}
