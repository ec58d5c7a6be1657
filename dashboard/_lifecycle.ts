// Private to dashboard/: a build's lifecycle as the page shows it — a state word, its tone and a
// reason — read from the status document's `lifecycle` of a build and its `rejected` and `held`
// lists (docs/STATUS.md). A document without a build's lifecycle shows it as unknown. Pure.
import type { StatusDocument } from "../lib/root/status.ts";
import type { Tone } from "./_html.ts";

/**
 * A build's lifecycle in the status document (`current.lifecycle`, `backups[].lifecycle`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Lifecycle } from "./_lifecycle.ts";
 * const l: Lifecycle = { state: "confirmed", at: "2026-11-27T00:00:00.000Z", reason: "confirmed healthy",
 *   held: null };
 * assert.equal(l.state, "confirmed");
 * ```
 */
export interface Lifecycle {
  /** `staged`, `trial`, `confirmed` or `rejected`. */
  state: "staged" | "trial" | "confirmed" | "rejected";
  /** When it entered the state. */
  at: string;
  /** Why. */
  reason: string;
  /** Set while updates hold the build back. */
  held: { at: string; reason: string } | null;
}

/**
 * The lifecycle of a build of the status document, or null when it has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lifecycleOf } from "./_lifecycle.ts";
 * assert.equal(lifecycleOf({ version: "1.0.0" }), null);
 * const lifecycle = { state: "trial", at: "2026-11-27T00:00:00.000Z", reason: "swapped in", held: null };
 * assert.equal(lifecycleOf({ version: "1.1.0", lifecycle })?.state, "trial");
 * ```
 */
export function lifecycleOf(build: object): Lifecycle | null {
  const l = (build as { lifecycle?: unknown }).lifecycle;
  if (typeof l !== "object" || l === null) return null;
  const state = (l as { state?: unknown }).state;
  return typeof state === "string" && ["staged", "trial", "confirmed", "rejected"].includes(state)
    ? l as Lifecycle
    : null;
}

/**
 * A version updates skip on its channel, and why (the status document's `rejected` and `held`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Skipped } from "./_lifecycle.ts";
 * const s: Skipped = { version: "1.2.0", channel: "stable", reason: "crashed", at: "2026-11-27T00:00:00.000Z" };
 * assert.equal(s.reason, "crashed");
 * ```
 */
export interface Skipped {
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
 * The status document's held builds (`held`, status schema 2), or none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldBuilds } from "./_lifecycle.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * assert.deepEqual(heldBuilds(status), []);
 * ```
 */
export function heldBuilds(status: StatusDocument): Skipped[] {
  const held = (status as { held?: unknown }).held;
  return Array.isArray(held) ? held as Skipped[] : [];
}

/**
 * How a build's state is shown: a word (with its reason where it matters) and a tone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StateBadge } from "./_lifecycle.ts";
 * const badge: StateBadge = { word: "rejected", tone: "bad", reason: "crashed at start" };
 * assert.equal(badge.tone, "bad");
 * ```
 */
export interface StateBadge {
  /** The state in a word or two. */
  word: string;
  /** Its tone. */
  tone: Tone;
  /** Why, or null. */
  reason: string | null;
}

/**
 * The badge of a build whose lifecycle is `lifecycle` (null: unknown); `current` for the build
 * current now (a build on trial that is not current any more left its trial unconfirmed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { badgeOf } from "./_lifecycle.ts";
 * const at = "2026-11-27T00:00:00.000Z";
 * assert.deepEqual(badgeOf({ state: "trial", at, reason: "swapped in", held: null }, { current: true }),
 *   { word: "on trial", tone: "warn", reason: null });
 * assert.deepEqual(badgeOf({ state: "trial", at, reason: "swapped in", held: null }),
 *   { word: "never confirmed", tone: "neutral", reason: null });
 * assert.deepEqual(badgeOf({ state: "confirmed", at, reason: "ok", held: { at, reason: "rolled back by hand" } }),
 *   { word: "held back", tone: "warn", reason: "rolled back by hand" });
 * assert.deepEqual(badgeOf(null), { word: "health unknown", tone: "neutral", reason: null });
 * ```
 */
export function badgeOf(
  lifecycle: Lifecycle | null,
  options: { current?: boolean } = {},
): StateBadge {
  if (lifecycle === null) return { word: "health unknown", tone: "neutral", reason: null };
  if (lifecycle.state === "rejected") {
    return { word: "rejected", tone: "bad", reason: lifecycle.reason };
  }
  if (lifecycle.held !== null) {
    return { word: "held back", tone: "warn", reason: lifecycle.held.reason };
  }
  switch (lifecycle.state) {
    case "staged":
      return { word: "never ran", tone: "neutral", reason: null };
    case "trial":
      return options.current
        ? { word: "on trial", tone: "warn", reason: null }
        : { word: "never confirmed", tone: "neutral", reason: null };
    case "confirmed":
      return { word: "confirmed healthy", tone: "good", reason: null };
  }
}
