/**
 * A check's staged rollout as the state's last check, the audit log and the dashboard's channel
 * cards record it (docs/STATUS.md, `last_check.rollout`).
 *
 * @module
 */
import type { RolloutRecord } from "../root/state.ts";
import type { CheckResult } from "../trust/check.ts";

/**
 * A rollout record with, for the audit log and the dashboard, when the ramp admits this install.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutFacts } from "./_rollout_facts.ts";
 * const facts: RolloutFacts = { newest: "1.1.0", offered: "previous", in_cohort: false,
 *   share_basis_points: 1000, paused: false, yanked: [], minimum_version: null,
 *   reason: "outside the cohort (10%)", admits_at: "2026-11-22T10:00:00.000Z" };
 * assert.equal(facts.admits_at?.slice(0, 10), "2026-11-22");
 * ```
 */
export interface RolloutFacts extends RolloutRecord {
  /** When the ramp admits this install, outside the cohort now (null: not on a schedule). */
  admits_at?: string | null;
}

/**
 * The rollout facts of a check: `{rollout}` when the manifest has a staged rollout, yanked
 * versions or a minimum version, else nothing. With `admission`, also when the ramp admits this
 * install (`admits_at`: the audit log's `checked` entry and the dashboard's channel cards; the
 * state's `last_check` keeps the record without it, and `status` computes it afresh).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rolloutFacts } from "./_rollout_facts.ts";
 * import type { CheckResult } from "../trust/check.ts";
 * const check = {
 *   newest: "1.1.0",
 *   offered: { which: "previous", in_cohort: false, share: 1000, bucket: 4321,
 *     admits_at: "2026-11-22T10:00:00.000Z", reason: "outside the cohort (10%)" },
 *   fetchedManifest: { rollout: { paused: false }, yanked: [], minimum_version: null },
 * } as unknown as CheckResult;
 * assert.equal(rolloutFacts(check).rollout?.offered, "previous");
 * assert.equal(rolloutFacts(check, { admission: true }).rollout?.admits_at, "2026-11-22T10:00:00.000Z");
 * assert.equal("admits_at" in rolloutFacts(check).rollout!, false);
 * const plain = { ...check, fetchedManifest: { rollout: null, yanked: [], minimum_version: null } };
 * assert.deepEqual(rolloutFacts(plain as unknown as CheckResult), {});
 * ```
 */
export function rolloutFacts(
  check: CheckResult,
  options: { admission?: boolean } = {},
): { rollout?: RolloutFacts } {
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
      ...(options.admission ? { admits_at: check.offered.admits_at } : {}),
    },
  };
}
