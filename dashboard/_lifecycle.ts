// Private to dashboard/: a build's lifecycle (the status document's `lifecycle` of a build,
// lib/root/lifecycle.ts) as the page shows it — a badge of a word and a tone, and the health in
// the CLI's words (describeLifecycle). Pure.
import { describeLifecycle } from "../lib/root/lifecycle.ts";
import type { BuildLifecycle } from "../lib/root/status.ts";
import type { Tone } from "./_html.ts";

/**
 * How a build's state is shown: a word or two and a tone for the badge, and its health in the
 * words of the CLI's `status` (with the reason of a rejection or a hold).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StateBadge } from "./_lifecycle.ts";
 * const badge: StateBadge = { word: "rejected", tone: "bad", health: "rejected: crashed at start" };
 * assert.equal(badge.tone, "bad");
 * ```
 */
export interface StateBadge {
  /** The state in a word or two. */
  word: string;
  /** Its tone. */
  tone: Tone;
  /** Its health for people: `confirmed healthy; held back: rolled back to 1.1.0 by hand`. */
  health: string;
}

/**
 * The badge of a build whose lifecycle is `lifecycle` (null: no record, health unknown);
 * `current` for the build current now (a backup on `trial` left its trial unconfirmed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { badgeOf } from "./_lifecycle.ts";
 * const at = "2026-11-27T00:00:00.000Z";
 * assert.deepEqual(badgeOf({ state: "trial", at, reason: "swapped in", held: null }, { current: true }),
 *   { word: "on trial", tone: "warn", health: "on trial" });
 * assert.deepEqual(badgeOf({ state: "trial", at, reason: "swapped in", held: null }),
 *   { word: "never confirmed", tone: "neutral", health: "never confirmed" });
 * assert.deepEqual(badgeOf({ state: "confirmed", at, reason: "ok", held: { at, reason: "rolled back by hand" } }),
 *   { word: "held back", tone: "warn", health: "confirmed healthy; held back: rolled back by hand" });
 * assert.deepEqual(badgeOf({ state: "rejected", at, reason: "exited with code 3", held: null }),
 *   { word: "rejected", tone: "bad", health: "rejected: exited with code 3" });
 * assert.deepEqual(badgeOf(null), { word: "health unknown", tone: "neutral", health: "unknown" });
 * ```
 */
export function badgeOf(
  lifecycle: BuildLifecycle | null,
  options: { current?: boolean } = {},
): StateBadge {
  const health = describeLifecycle(lifecycle, options);
  if (lifecycle === null) return { word: "health unknown", tone: "neutral", health };
  if (lifecycle.state === "rejected") return { word: "rejected", tone: "bad", health };
  if (lifecycle.held !== null) return { word: "held back", tone: "warn", health };
  switch (lifecycle.state) {
    case "staged":
      return { word: "never ran", tone: "neutral", health };
    case "trial":
      return options.current
        ? { word: "on trial", tone: "warn", health }
        : { word: "never confirmed", tone: "neutral", health };
    case "confirmed":
      return { word: "confirmed healthy", tone: "good", health };
  }
}
