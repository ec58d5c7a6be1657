/**
 * Which backup a rollback goes back to (lib/root/lifecycle.ts's records judge them): the newest
 * that last ran healthy, passing over rejected, held and unknown ones, each with the reason.
 * Used by the plain rollback, the automatic one and the retreat off a yanked build.
 *
 * @module
 */
import { findLifecycle, type LifecycleRecord } from "./lifecycle.ts";

/**
 * A backup as {@linkcode chooseRollback} sees it (see lib/root/backups.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseRollback, type RollbackCandidate } from "./rollback_choice.ts";
 * const never: RollbackCandidate = { version: "1.1.0", channel: "stable", retired_at: null };
 * assert.deepEqual(chooseRollback([never], []).skipped, [{ version: "1.1.0", why: "never ran" }]);
 * ```
 */
export interface RollbackCandidate {
  /** Its version. */
  version: string;
  /** Its channel, when known. */
  channel: string | null;
  /** When it last stopped being current (null: it never ran). */
  retired_at: string | null;
}

/**
 * A backup a plain rollback passed over, and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SkippedBackup } from "./rollback_choice.ts";
 * const skipped: SkippedBackup = { version: "1.2.0", why: "never confirmed healthy" };
 * assert.equal(`${skipped.version}: ${skipped.why}`, "1.2.0: never confirmed healthy");
 * ```
 */
export interface SkippedBackup {
  /** Its version. */
  version: string;
  /** Why it was passed over, e.g. `rejected: 1.1.0 exited with code 3 …`. */
  why: string;
}

/**
 * What {@linkcode chooseRollback} found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseRollback, type RollbackChoice } from "./rollback_choice.ts";
 * const none: RollbackChoice = chooseRollback([], []);
 * assert.deepEqual(none, { target: null, skipped: [] });
 * ```
 */
export interface RollbackChoice {
  /** The backup to restore, or null when none qualifies. */
  target: string | null;
  /** The newer backups passed over, newest first. */
  skipped: SkippedBackup[];
}

/**
 * The backup a plain `rollback` restores: the newest (most recently current) backup that last
 * ran healthy (`confirmed`, not held). Newer backups passed over are listed with the reason:
 * never ran, rejected, rolled back from (held), or left its trial unconfirmed. Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markConfirmed, markRejected } from "./lifecycle.ts";
 * import { chooseRollback } from "./rollback_choice.ts";
 * const at = "2026-11-27T12:00:00.000Z";
 * const records = [markRejected([], { version: "1.1.0", channel: "stable" }, { at, reason: "crashed" })];
 * markConfirmed(records, { version: "1.0.0", channel: "stable" }, { at });
 * const choice = chooseRollback([
 *   { version: "1.1.0", channel: "stable", retired_at: "2026-11-27T11:00:00.000Z" },
 *   { version: "1.0.0", channel: "stable", retired_at: "2026-11-20T11:00:00.000Z" },
 * ], records);
 * assert.deepEqual(choice, { target: "1.0.0",
 *   skipped: [{ version: "1.1.0", why: "rejected: crashed" }] });
 * ```
 */
export function chooseRollback(
  backups: readonly RollbackCandidate[],
  records: readonly LifecycleRecord[],
): RollbackChoice {
  const skipped: SkippedBackup[] = [];
  for (const b of backups) {
    const record = b.channel === null
      ? undefined
      : findLifecycle(records, { version: b.version, channel: b.channel });
    const why = b.retired_at === null || record?.state === "staged"
      ? "never ran"
      : record === undefined
      ? "no record of how it ran"
      : record.state === "rejected"
      ? `rejected: ${record.reason}`
      : record.held !== null
      ? `held back: ${record.held.reason}`
      : record.state === "trial"
      ? "never confirmed healthy"
      : null;
    if (why === null) return { target: b.version, skipped };
    skipped.push({ version: b.version, why });
  }
  return { target: null, skipped };
}
