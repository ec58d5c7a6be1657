// Private to lib/root/state.ts: converting a schema 1 state file, which had one `rejected` list
// (builds rolled back from by hand and bad builds alike) and no lifecycle, into schema 2's
// lifecycle records. Safe means: nothing skipped before is installed again by an update, and a
// build that is running now is not called rejected.
import { isNonEmptyString as str, isObject } from "../core/validate.ts";
import { isBuildName } from "./layout.ts";
import {
  findLifecycle,
  holdBack,
  type LifecycleRecord,
  markConfirmed,
  markRejected,
} from "./lifecycle.ts";
import type { State } from "./state.ts";

/** The reasons schema 1 gave a build rolled back from by hand (CLI and dashboard). */
const BY_HAND = /(?: by hand| from the dashboard)$/;

const UPGRADED = "recorded before build lifecycles (state schema 1)";

/**
 * The lifecycle records of a schema 1 document. `state` holds what was already parsed of it
 * (builds, staged, trial); `current` is the build the `current` link names. Entries of
 * `raw.rejected` that do not fit are reported in `problems`.
 *
 * - a rejected entry for the current build: `trial` while it is on trial, else `confirmed` (it
 *   was brought back and runs);
 * - one whose reason says it was rolled back from by hand: held back (updates still skip it),
 *   not rejected;
 * - any other: `rejected`, with its reason and time;
 * - builds with no entry: the staged one `staged`, the one on trial `trial`, one that ran
 *   (current, or retired) `confirmed`, one that never ran `staged`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrateV1 } from "./_state_migrate.ts";
 * import { emptyState } from "./state.ts";
 * const problems: string[] = [];
 * const records = migrateV1({ schema: 1, rejected: [
 *   { version: "1.2.0", channel: "stable", reason: "rolled back to 1.1.0 by hand", at: "T1" },
 *   { version: "1.3.0", channel: "stable", reason: "1.3.0 crashed", at: "T2" },
 * ] }, { state: emptyState(), current: null, problems });
 * assert.deepEqual(records.map((r) => [r.version, r.state, r.held?.reason ?? null]), [
 *   ["1.2.0", "trial", "rolled back to 1.1.0 by hand"], // held back, not bad
 *   ["1.3.0", "rejected", null],
 * ]);
 * assert.deepEqual(problems, []);
 * ```
 */
export function migrateV1(
  raw: Record<string, unknown>,
  options: { state: State; current: string | null; problems: string[] },
): LifecycleRecord[] {
  const { state, current, problems } = options;
  const records: LifecycleRecord[] = [];
  const trial = state.trial;
  const entries = Array.isArray(raw.rejected) ? raw.rejected : [];
  if (raw.rejected !== undefined && !Array.isArray(raw.rejected)) problems.push("rejected");
  for (const r of entries) {
    if (
      !isObject(r) || !str(r.version) || !isBuildName(r.version) || !str(r.channel) ||
      !str(r.reason) || !str(r.at)
    ) {
      problems.push("rejected[]");
      continue;
    }
    const { version, channel, reason, at } = r;
    const isCurrent = version === current && state.builds[version]?.channel === channel;
    if (isCurrent && trial?.version === version) {
      records.push({
        version,
        channel,
        state: "trial",
        at: trial.started_at,
        reason: `on trial (${UPGRADED}; it had been skipped: ${reason})`,
        held: null,
      });
    } else if (isCurrent) {
      markConfirmed(records, { version, channel }, {
        at,
        reason: `current when the state file was upgraded (it had been skipped: ${reason})`,
      });
    } else if (BY_HAND.test(reason)) {
      holdBack(records, { version, channel }, { at, reason });
    } else {
      markRejected(records, { version, channel }, { at, reason });
    }
  }
  for (const [version, b] of Object.entries(state.builds)) {
    if (findLifecycle(records, { version, channel: b.channel }) !== undefined) continue;
    const at = b.retired_at ?? b.installed_at;
    const record: LifecycleRecord = {
      version,
      channel: b.channel,
      state: "confirmed",
      at,
      reason: `ran (${UPGRADED})`,
      held: null,
    };
    if (state.staged?.version === version) {
      record.state = "staged";
      record.reason = `staged (${UPGRADED})`;
    } else if (trial?.version === version) {
      record.state = "trial";
      record.at = trial.started_at;
      record.reason = `on trial (${UPGRADED})`;
    } else if (version !== current && b.retired_at === null) {
      record.state = "staged";
      record.reason = `never ran (${UPGRADED})`;
    }
    records.push(record);
  }
  return records;
}
