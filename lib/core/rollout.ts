/**
 * Staged rollouts, the pure part (docs/UPDATE_POLICY.md, "Staged rollouts (client)"): the share
 * of installs a release is offered to at a time, the bucket of an install for a release, and
 * which release a manifest offers one install. The bucket comes from a random id kept in the
 * install root and the release's salt: no identifier leaves the machine, each release samples a
 * fresh cohort, and since the bucket does not change for a release, widening never removes an
 * install.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { compareVersions } from "./version.ts";

/** 100% in basis points. */
const FULL = 10_000;
const HOUR_MS = 3_600_000;

/**
 * One step of a ramp: from `after_hours` after the release, `basis_points` of installs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RampStep } from "./rollout.ts";
 * const step: RampStep = { after_hours: 24, basis_points: 1000 };
 * assert.equal(step.basis_points / 100, 10); // percent
 * ```
 */
export interface RampStep {
  /** Hours after `released_at` from which this step's share holds. */
  after_hours: number;
  /** The share, in basis points (10000 = 100%). */
  basis_points: number;
}

/**
 * A manifest's `rollout`: a fixed share or a ramp, a per-release salt, and whether it is paused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Rollout } from "./rollout.ts";
 * const rollout: Rollout = { salt: "a".repeat(32), basis_points: 1000, ramp: null, paused: false, paused_at: null };
 * assert.equal(rollout.ramp, null);
 * ```
 */
export interface Rollout {
  /** 32 lowercase hex digits, new per release. */
  salt: string;
  /** The fixed share in basis points, or null for a ramp. */
  basis_points: number | null;
  /** The ramp's steps, or null for a fixed share. */
  ramp: RampStep[] | null;
  /** A paused rollout admits no new install. */
  paused: boolean;
  /** When it was paused (ISO 8601), or null. */
  paused_at: string | null;
}

/**
 * The share of installs `rollout` admits at `now`, in basis points: the fixed share, or the ramp's
 * last step reached (frozen at `paused_at` while paused).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rolloutShare } from "./rollout.ts";
 * const ramp = { salt: "0".repeat(32), basis_points: null, paused: false, paused_at: null,
 *   ramp: [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 5000 }] };
 * const released = "2026-11-20T10:00:00Z";
 * assert.equal(rolloutShare(ramp, released, new Date("2026-11-20T12:00:00Z")), 100);
 * assert.equal(rolloutShare(ramp, released, new Date("2026-11-22T10:00:00Z")), 5000);
 * assert.equal(rolloutShare(null, released, new Date()), 10000); // no rollout: everyone
 * ```
 */
export function rolloutShare(rollout: Rollout | null, releasedAt: string, now: Date): number {
  if (rollout === null) return FULL;
  if (rollout.ramp === null) return rollout.basis_points ?? FULL;
  const at = rollout.paused && rollout.paused_at !== null ? new Date(rollout.paused_at) : now;
  const elapsed = (at.getTime() - Date.parse(releasedAt)) / HOUR_MS;
  let share = 0;
  for (const step of rollout.ramp) if (step.after_hours <= elapsed) share = step.basis_points;
  return share;
}

/**
 * The bucket (0-9999) of an install for a release: the first four bytes, big-endian, of
 * SHA-256(`<installId>:<salt>`), modulo 10000.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installBucket } from "./rollout.ts";
 * const bucket = installBucket("0123456789abcdef0123456789abcdef", "f".repeat(32));
 * assert.ok(Number.isInteger(bucket) && bucket >= 0 && bucket < 10000);
 * assert.equal(installBucket("0123456789abcdef0123456789abcdef", "f".repeat(32)), bucket);
 * ```
 */
export function installBucket(installId: string, salt: string): number {
  const digest = createHash("sha256").update(`${installId}:${salt}`).digest();
  return digest.readUInt32BE(0) % FULL;
}

/**
 * A release a manifest names: its version and when it was released, and what rides with it
 * (artifacts, notes) as the caller's type `R`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OfferedRelease } from "./rollout.ts";
 * const offered: OfferedRelease = { which: "newest", in_cohort: true, share: 10000, bucket: null,
 *   admits_at: null, reason: "no rollout" };
 * assert.equal(offered.which, "newest");
 * ```
 */
export interface OfferedRelease {
  /** The manifest's newest release, its `previous`, or nothing. */
  which: "newest" | "previous" | "none";
  /** Whether this install is in the newest release's cohort. */
  in_cohort: boolean;
  /** The newest release's share now, in basis points. */
  share: number;
  /** This install's bucket for the newest release (null without a rollout). */
  bucket: number | null;
  /**
   * When the ramp will admit this install, outside the cohort now (ISO 8601): null when it is
   * in, on a fixed share or a paused ramp (only the publisher widens those), or never.
   */
  admits_at: string | null;
  /** One phrase for people and the audit log. */
  reason: string;
}

/**
 * What {@linkcode offeredRelease} needs to know of a manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutView } from "./rollout.ts";
 * const view: RolloutView = { version: "1.1.0", released_at: "2026-11-20T10:00:00Z", rollout: null,
 *   previous: null, yanked: [], minimum_version: null };
 * assert.equal(view.rollout, null);
 * ```
 */
export interface RolloutView {
  version: string;
  released_at: string;
  rollout: Rollout | null;
  previous: { version: string } | null;
  yanked: readonly { version: string }[];
  minimum_version: string | null;
}

/**
 * Options of {@linkcode offeredRelease}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OfferedReleaseOptions } from "./rollout.ts";
 * const options: OfferedReleaseOptions = { installId: "0".repeat(32), now: new Date(), current: null };
 * assert.equal(options.override, undefined);
 * ```
 */
export interface OfferedReleaseOptions {
  /** The install root's random id (null: none known, outside every cohort). */
  installId: string | null;
  /** The time the run started. */
  now: Date;
  /** The installed version, or null. */
  current: string | null;
  /** `--now` or `rollout.early_adopter`: take the newest whatever the cohort. */
  override?: boolean;
}

/**
 * Which release `manifest` offers this install: the newest when there is no rollout, when the
 * install is in its cohort, when asked to (`override`), or when the installed version is below
 * `minimum_version` (a critical update); otherwise the `previous` release, or nothing (an install
 * already newer than `previous` keeps its version, unless that version is yanked). A yanked
 * version is never offered. Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offeredRelease } from "./rollout.ts";
 * const manifest = { version: "1.1.0", released_at: "2026-11-20T10:00:00Z", previous: { version: "1.0.0" },
 *   rollout: { salt: "a".repeat(32), basis_points: 0, ramp: null, paused: false, paused_at: null },
 *   yanked: [], minimum_version: null };
 * const options = { installId: "b".repeat(32), now: new Date("2026-11-21T00:00:00Z"), current: "0.9.0" };
 * assert.equal(offeredRelease(manifest, options).which, "previous"); // 0%: nobody is in
 * assert.equal(offeredRelease(manifest, { ...options, override: true }).which, "newest");
 * assert.equal(offeredRelease({ ...manifest, minimum_version: "1.0.0" }, options).which, "newest");
 * assert.equal(offeredRelease({ ...manifest, yanked: [{ version: "1.0.0" }] }, options).which, "none");
 * // An install on 1.1.0 (taken with --now) is not moved down to 1.0.0 by the rollout.
 * const early = offeredRelease({ ...manifest, version: "1.2.0" }, { ...options, current: "1.1.0" });
 * assert.deepEqual([early.which, early.reason], ["none", "outside the cohort (0%); 1.1.0 is newer than 1.0.0, kept"]);
 * // Unless 1.1.0 is yanked: then it is offered the previous release, to leave it.
 * const leave = { ...manifest, version: "1.2.0", yanked: [{ version: "1.1.0" }] };
 * assert.equal(offeredRelease(leave, { ...options, current: "1.1.0" }).which, "previous");
 * ```
 */
export function offeredRelease(
  manifest: RolloutView,
  options: OfferedReleaseOptions,
): OfferedRelease {
  const yanked = new Set(manifest.yanked.map((y) => y.version));
  const rollout = manifest.rollout;
  const share = rolloutShare(rollout, manifest.released_at, options.now);
  const bucket = rollout === null || options.installId === null
    ? null
    : installBucket(options.installId, rollout.salt);
  const inCohort = rollout === null || (bucket !== null && bucket < share);
  const below = manifest.minimum_version !== null && options.current !== null &&
    compareVersions(options.current, manifest.minimum_version) < 0;
  const result = (which: OfferedRelease["which"], reason: string): OfferedRelease => ({
    which,
    in_cohort: inCohort,
    share,
    bucket,
    admits_at: inCohort || bucket === null || rollout === null
      ? null
      : admissionTime(rollout, manifest.released_at, bucket),
    reason,
  });
  if (!yanked.has(manifest.version)) {
    if (rollout === null) return result("newest", "no rollout");
    if (inCohort) return result("newest", `in the cohort (${share / 100}%)`);
    if (below) {
      return result(
        "newest",
        `a critical update: ${options.current} is below ${manifest.minimum_version}`,
      );
    }
    if (options.override) return result("newest", "taken ahead of the rollout on request");
  }
  const previous = manifest.previous;
  const outside = `outside the cohort (${share / 100}%${rollout?.paused ? ", paused" : ""})`;
  // Outside the cohort, an install that already runs something newer than `previous` (it took
  // the newest with --now, or as an early adopter) stays: the rollout never moves it down. Only
  // a yanked newest release, or a yanked installed version, sends installs back to `previous`.
  if (
    previous !== null && !yanked.has(manifest.version) && options.current !== null &&
    !yanked.has(options.current) && compareVersions(previous.version, options.current) < 0
  ) {
    return result("none", `${outside}; ${options.current} is newer than ${previous.version}, kept`);
  }
  if (previous !== null && !yanked.has(previous.version)) {
    return result(
      "previous",
      yanked.has(manifest.version)
        ? `${manifest.version} is yanked`
        : `outside the cohort (${share / 100}%${rollout?.paused ? ", paused" : ""})`,
    );
  }
  return result(
    "none",
    yanked.has(manifest.version)
      ? `${manifest.version} is yanked and no other release is offered`
      : `outside the cohort (${share / 100}%${
        rollout?.paused ? ", paused" : ""
      }) and no previous release is offered`,
  );
}

/**
 * When `rollout`'s ramp admits an install whose bucket is `bucket`: `released_at` plus the hours
 * of the first step whose share is above the bucket (ISO 8601). Null on a fixed share or a paused
 * ramp (a resume moves the steps not reached later, and only the publisher widens a fixed share),
 * or when no step reaches the bucket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { admissionTime } from "./rollout.ts";
 * const rollout = { salt: "0".repeat(32), basis_points: null, paused: false, paused_at: null,
 *   ramp: [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 1000 }, { after_hours: 72, basis_points: 10000 }] };
 * const released = "2026-11-20T10:00:00Z";
 * assert.equal(admissionTime(rollout, released, 50), "2026-11-20T10:00:00.000Z"); // in at once
 * assert.equal(admissionTime(rollout, released, 500), "2026-11-21T10:00:00.000Z"); // at 10%
 * assert.equal(admissionTime(rollout, released, 9999), "2026-11-23T10:00:00.000Z"); // at 100%
 * assert.equal(admissionTime({ ...rollout, paused: true, paused_at: released }, released, 500), null);
 * assert.equal(admissionTime({ ...rollout, ramp: null, basis_points: 1000 }, released, 5000), null);
 * ```
 */
export function admissionTime(rollout: Rollout, releasedAt: string, bucket: number): string | null {
  if (rollout.ramp === null || rollout.paused) return null;
  const step = rollout.ramp.find((s) => s.basis_points > bucket);
  if (step === undefined) return null;
  return new Date(Date.parse(releasedAt) + step.after_hours * HOUR_MS).toISOString();
}

/**
 * How a channel's staged rollout stands for this install now (`status`): the share now, whether
 * the install is in the cohort, and when the ramp admits it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CohortNow } from "./rollout.ts";
 * const cohort: CohortNow = { newest: "1.1.0", share_basis_points: 1000, paused: false,
 *   ramp: true, in_cohort: false, admits_at: "2026-11-21T10:00:00.000Z" };
 * assert.equal(cohort.in_cohort, false);
 * ```
 */
export interface CohortNow {
  /** The manifest's newest release. */
  newest: string;
  /** The share admitted now, in basis points. */
  share_basis_points: number;
  /** Whether the rollout is paused. */
  paused: boolean;
  /** Whether the share grows on a schedule. */
  ramp: boolean;
  /** Whether this install is in the cohort now (false without an install id). */
  in_cohort: boolean;
  /** When the ramp admits this install, outside the cohort now; else null. */
  admits_at: string | null;
}

/**
 * {@linkcode CohortNow} of a manifest document as kept in the state (already verified when it was
 * accepted, read here leniently: null when it has no staged rollout or its fields do not fit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cohortNow } from "./rollout.ts";
 * const doc = { version: "1.1.0", released_at: "2026-11-20T10:00:00Z", rollout: { salt: "a".repeat(32),
 *   ramp: [{ after_hours: 0, basis_points: 0 }, { after_hours: 48, basis_points: 10000 }] } };
 * const now = new Date("2026-11-21T10:00:00Z");
 * assert.deepEqual(cohortNow(doc, "b".repeat(32), now), { newest: "1.1.0", share_basis_points: 0,
 *   paused: false, ramp: true, in_cohort: false, admits_at: "2026-11-22T10:00:00.000Z" });
 * assert.equal(cohortNow({ version: "1.1.0", released_at: "2026-11-20T10:00:00Z" }, null, now), null);
 * ```
 */
export function cohortNow(doc: unknown, installId: string | null, now: Date): CohortNow | null {
  const rollout = leniently(doc);
  if (rollout === null) return null;
  const { version, released_at } = doc as { version: string; released_at: string };
  const share = rolloutShare(rollout, released_at, now);
  const bucket = installId === null ? null : installBucket(installId, rollout.salt);
  const inCohort = bucket !== null && bucket < share;
  return {
    newest: version,
    share_basis_points: share,
    paused: rollout.paused,
    ramp: rollout.ramp !== null,
    in_cohort: inCohort,
    admits_at: inCohort || bucket === null ? null : admissionTime(rollout, released_at, bucket),
  };
}

/** The rollout of a kept manifest document, or null when there is none or it does not fit. */
function leniently(doc: unknown): Rollout | null {
  const d = doc as Record<string, unknown> | null;
  if (typeof d !== "object" || d === null || Array.isArray(d)) return null;
  const r = d.rollout as Record<string, unknown> | null | undefined;
  if (typeof d.version !== "string" || typeof d.released_at !== "string") return null;
  if (Number.isNaN(Date.parse(d.released_at))) return null;
  if (typeof r !== "object" || r === null || typeof r.salt !== "string") return null;
  const share = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= FULL;
  const ramp = Array.isArray(r.ramp) &&
      r.ramp.every((s) => Number.isInteger(s?.after_hours) && share(s?.basis_points))
    ? (r.ramp as RampStep[]).map((s) => ({
      after_hours: s.after_hours,
      basis_points: s.basis_points,
    }))
    : null;
  if (ramp === null && !share(r.basis_points)) return null;
  return {
    salt: r.salt,
    basis_points: ramp === null ? r.basis_points as number : null,
    ramp,
    paused: r.paused === true,
    paused_at: typeof r.paused_at === "string" ? r.paused_at : null,
  };
}

/**
 * One phrase for people of whether this install is in a rollout's cohort, and when it will be.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { admissionPhrase } from "./rollout.ts";
 * const out = { in_cohort: false, admits_at: null, paused: false, ramp: false };
 * assert.equal(admissionPhrase({ ...out, in_cohort: true }), "this install is in the cohort");
 * assert.equal(
 *   admissionPhrase({ ...out, ramp: true, admits_at: "2026-11-22T10:00:00.000Z" }),
 *   "this install is not in the cohort yet: the ramp admits it at 2026-11-22T10:00:00.000Z",
 * );
 * assert.equal(admissionPhrase(out), "this install is not in the cohort: the share is fixed, it is admitted if the publisher widens the rollout");
 * ```
 */
export function admissionPhrase(
  c: Pick<CohortNow, "in_cohort" | "admits_at" | "paused" | "ramp">,
): string {
  if (c.in_cohort) return "this install is in the cohort";
  if (c.admits_at !== null) {
    return `this install is not in the cohort yet: the ramp admits it at ${c.admits_at}`;
  }
  if (c.paused) {
    return "this install is not in the cohort: the rollout is paused, it admits no other install until resumed";
  }
  if (c.ramp) return "this install is not in the cohort, and no step of the ramp reaches it";
  return "this install is not in the cohort: the share is fixed, it is admitted if the publisher widens the rollout";
}
