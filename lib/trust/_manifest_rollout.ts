/**
 * The manifest's staged-rollout fields, parsed as strictly as the rest of it: `rollout`,
 * `previous`, `yanked` and `minimum_version` (docs/MANIFEST.md, "Staged rollouts"). All are
 * optional: a manifest without them offers its release to every install.
 *
 * @module
 */
import type { Rollout } from "../core/rollout.ts";
import { isObject } from "../core/validate.ts";
import { isVersion, parseVersion } from "../core/version.ts";

const SALT = /^[0-9a-f]{32}$/;
const MAX_RAMP_STEPS = 20;
const MAX_YANKED = 100;
const MAX_REASON = 500;

/**
 * One entry of `yanked`: a version the publisher pulled, and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Yank } from "./_manifest_rollout.ts";
 * const yank: Yank = { version: "1.1.0", reason: "crashes at start", at: "2026-11-21T12:00:00Z" };
 * assert.equal(yank.version, "1.1.0");
 * ```
 */
export interface Yank {
  version: string;
  reason: string;
  at: string;
}

/**
 * The release installs outside the cohort are offered, with its artifacts as the manifest's
 * (`A`: parsed by the caller).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PreviousRelease } from "./_manifest_rollout.ts";
 * const previous: PreviousRelease<string> = { version: "1.0.0", released_at: "2026-11-10T10:00:00Z", artifacts: {} };
 * assert.equal(previous.version, "1.0.0");
 * ```
 */
export interface PreviousRelease<A> {
  version: string;
  released_at: string;
  artifacts: Record<string, A>;
}

/**
 * The rollout fields as parsed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutFields } from "./_manifest_rollout.ts";
 * const none: RolloutFields<string> = { rollout: null, previous: null, yanked: [], minimum_version: null };
 * assert.deepEqual(none.yanked, []);
 * ```
 */
export interface RolloutFields<A> {
  rollout: Rollout | null;
  previous: PreviousRelease<A> | null;
  yanked: Yank[];
  minimum_version: string | null;
}

/**
 * What {@linkcode parseRolloutFields} borrows from the manifest's parser.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutFieldsContext } from "./_manifest_rollout.ts";
 * const context: RolloutFieldsContext<string> = {
 *   fail: (field, expected) => { throw new TypeError(`${field} must be ${expected}`); },
 *   isTime: (text) => !Number.isNaN(Date.parse(text)),
 *   artifacts: () => ({}),
 * };
 * assert.throws(() => context.fail("x", "y", 1), TypeError);
 * ```
 */
export interface RolloutFieldsContext<A> {
  /** Throws the TypeError naming the field, what was expected and the value. */
  fail: (field: string, expected: string, value: unknown) => never;
  /** Whether a text is an ISO 8601 time with a zone. */
  isTime: (text: string) => boolean;
  /** The artifacts object of `previous`, checked like the manifest's own. */
  artifacts: (field: string, value: unknown) => Record<string, A>;
}

/**
 * Parse `rollout`, `previous`, `yanked` and `minimum_version` of a manifest document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRolloutFields } from "./_manifest_rollout.ts";
 * const context = {
 *   fail: (field: string, expected: string, value: unknown): never => {
 *     throw new TypeError(`${field} must be ${expected}, got ${JSON.stringify(value)}`);
 *   },
 *   isTime: (text: string) => !Number.isNaN(Date.parse(text)),
 *   artifacts: () => ({}),
 * };
 * const fields = parseRolloutFields({ rollout: { salt: "a".repeat(32), basis_points: 1000 } }, context);
 * assert.equal(fields.rollout?.basis_points, 1000);
 * assert.throws(() => parseRolloutFields({ rollout: { salt: "a".repeat(32), basis_points: 0.5 } }, context), {
 *   message: "rollout.basis_points must be an integer from 0 to 10000, got 0.5",
 * });
 * ```
 */
export function parseRolloutFields<A>(
  doc: Record<string, unknown>,
  context: RolloutFieldsContext<A>,
): RolloutFields<A> {
  const { fail } = context;
  let minimum: string | null = null;
  if (doc.minimum_version !== undefined && doc.minimum_version !== null) {
    if (!isVersion(doc.minimum_version)) {
      fail("minimum_version", "a semver version", doc.minimum_version);
    }
    minimum = parseVersion(doc.minimum_version as string);
  }
  return {
    rollout: parseRollout(doc.rollout, context),
    previous: parsePrevious(doc.previous, context),
    yanked: parseYanked(doc.yanked, context),
    minimum_version: minimum,
  };
}

function isShare(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 10_000;
}

function parseRollout<A>(value: unknown, context: RolloutFieldsContext<A>): Rollout | null {
  const { fail } = context;
  if (value === undefined || value === null) return null;
  if (!isObject(value)) return fail("rollout", "an object", value);
  if (typeof value.salt !== "string" || !SALT.test(value.salt)) {
    fail("rollout.salt", "32 lowercase hex digits", value.salt);
  }
  if ((value.basis_points === undefined) === (value.ramp === undefined)) {
    fail("rollout", "an object with exactly one of basis_points and ramp", value);
  }
  let ramp: Rollout["ramp"] = null;
  if (value.ramp !== undefined) {
    const steps = value.ramp;
    if (!Array.isArray(steps) || steps.length < 1 || steps.length > MAX_RAMP_STEPS) {
      return fail("rollout.ramp", `a list of 1 to ${MAX_RAMP_STEPS} steps`, steps);
    }
    ramp = steps.map((step, i) => {
      const field = `rollout.ramp[${i}]`;
      if (!isObject(step)) return fail(field, "an object", step);
      if (!Number.isSafeInteger(step.after_hours) || (step.after_hours as number) < 0) {
        fail(`${field}.after_hours`, "a non-negative integer", step.after_hours);
      }
      if (!isShare(step.basis_points)) {
        fail(`${field}.basis_points`, "an integer from 0 to 10000", step.basis_points);
      }
      return { after_hours: step.after_hours as number, basis_points: step.basis_points as number };
    });
    if (ramp[0].after_hours !== 0) fail("rollout.ramp[0].after_hours", "0", ramp[0].after_hours);
    for (let i = 1; i < ramp.length; i++) {
      if (ramp[i].after_hours <= ramp[i - 1].after_hours) {
        fail(`rollout.ramp[${i}].after_hours`, "more than the step before", ramp[i].after_hours);
      }
      if (ramp[i].basis_points < ramp[i - 1].basis_points) {
        fail(`rollout.ramp[${i}].basis_points`, "at least the step before", ramp[i].basis_points);
      }
    }
  } else if (!isShare(value.basis_points)) {
    fail("rollout.basis_points", "an integer from 0 to 10000", value.basis_points);
  }
  if (value.paused !== undefined && typeof value.paused !== "boolean") {
    fail("rollout.paused", "true or false", value.paused);
  }
  const paused = value.paused === true;
  let pausedAt: string | null = null;
  if (value.paused_at !== undefined && value.paused_at !== null) {
    if (typeof value.paused_at !== "string" || !context.isTime(value.paused_at)) {
      fail("rollout.paused_at", "an ISO 8601 time", value.paused_at);
    }
    pausedAt = value.paused_at as string;
  }
  if (paused && ramp !== null && pausedAt === null) {
    fail("rollout.paused_at", "the time of the pause (a paused ramp needs it)", value.paused_at);
  }
  return {
    salt: value.salt as string,
    basis_points: ramp === null ? value.basis_points as number : null,
    ramp,
    paused,
    paused_at: pausedAt,
  };
}

function parsePrevious<A>(
  value: unknown,
  context: RolloutFieldsContext<A>,
): PreviousRelease<A> | null {
  const { fail } = context;
  if (value === undefined || value === null) return null;
  if (!isObject(value)) return fail("previous", "an object", value);
  if (!isVersion(value.version)) fail("previous.version", "a semver version", value.version);
  if (typeof value.released_at !== "string" || !context.isTime(value.released_at)) {
    fail("previous.released_at", "an ISO 8601 time", value.released_at);
  }
  return {
    version: parseVersion(value.version as string),
    released_at: value.released_at as string,
    artifacts: context.artifacts("previous.artifacts", value.artifacts),
  };
}

function parseYanked<A>(value: unknown, context: RolloutFieldsContext<A>): Yank[] {
  const { fail } = context;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_YANKED) {
    return fail("yanked", `a list of at most ${MAX_YANKED} entries`, value);
  }
  const seen = new Set<string>();
  return value.map((entry, i) => {
    const field = `yanked[${i}]`;
    if (!isObject(entry)) return fail(field, "an object", entry);
    if (!isVersion(entry.version)) fail(`${field}.version`, "a semver version", entry.version);
    const version = parseVersion(entry.version as string);
    if (seen.has(version)) fail(`${field}.version`, "a version not yanked twice", entry.version);
    seen.add(version);
    if (typeof entry.reason !== "string" || entry.reason.length > MAX_REASON) {
      fail(`${field}.reason`, `a text of at most ${MAX_REASON} characters`, entry.reason);
    }
    if (typeof entry.at !== "string" || !context.isTime(entry.at)) {
      fail(`${field}.at`, "an ISO 8601 time", entry.at);
    }
    return { version, reason: entry.reason as string, at: entry.at as string };
  });
}
