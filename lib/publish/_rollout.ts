// Private to lib/publish/rollout.ts and release.ts: the staged-rollout fields of a manifest on the
// publisher's side (docs/MANIFEST.md, "Staged rollouts (publisher)"), pure. The publisher's
// input is whole percents (1..100; "10" and "10%" mean ten percent, "0.5" is refused), written
// to the manifest as basis points, so there is no 0.1-vs-10 ambiguity anywhere.
import { rolloutShare } from "../core/rollout.ts";
import { ConfigError } from "../core/errors.ts";
import { isObject } from "../core/validate.ts";

/** 100% in basis points. */
const FULL = 10000;
const HOUR_MS = 3600_000;

/**
 * How a release is rolled out: a share in basis points, or a ramp of `[after_hours,
 * basis_points]` steps (the manifest's `rollout` without its salt).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutPlan } from "./_rollout.ts";
 * const plan: RolloutPlan = { ramp: [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 10000 }] };
 * assert.equal(plan.ramp?.length, 2);
 * ```
 */
export interface RolloutPlan {
  /** A fixed share, in basis points (10000 = 100%). */
  basis_points?: number;
  /** A schedule from the release time. */
  ramp?: { after_hours: number; basis_points: number }[];
}

/**
 * Parse a whole percent `1`..`100` (a trailing `%` allowed) into basis points; anything else
 * (`0`, `0.5`, `1e1`, `101`) is a {@linkcode ConfigError} naming `flag` and the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePercent } from "./_rollout.ts";
 * assert.equal(parsePercent("10", "--rollout"), 1000);
 * assert.equal(parsePercent("100%", "--rollout"), 10000);
 * assert.throws(() => parsePercent("0.5", "--rollout"), {
 *   name: "ConfigError",
 *   message: 'Invalid --rollout "0.5": expected a whole percent from 1 to 100 (10 means 10%)',
 * });
 * ```
 */
export function parsePercent(text: string, flag: string): number {
  const m = /^([1-9][0-9]{0,2})%?$/.exec(text.trim());
  const percent = m === null ? NaN : Number(m[1]);
  if (!(percent >= 1 && percent <= 100)) {
    throw new ConfigError(
      `Invalid ${flag} ${
        JSON.stringify(text)
      }: expected a whole percent from 1 to 100 (10 means 10%)`,
    );
  }
  return percent * 100;
}

/** `24h`, `2d` or a bare number of hours: whole hours, at least 1. */
function parseHours(text: string): number {
  const m = /^(\d{1,5})([hd]?)$/.exec(text.trim());
  const hours = m === null ? 0 : Number(m[1]) * (m[2] === "d" ? 24 : 1);
  if (hours < 1 || hours > 100_000) {
    throw new ConfigError(
      `Invalid --ramp-every ${
        JSON.stringify(text)
      }: expected whole hours or days such as 24h or 2d`,
    );
  }
  return hours;
}

/**
 * Parse `--ramp`: percents at every `every` (`1,10,50,100` with `24h`: 1% now, 10% after a
 * day, …), or `HOURS:PERCENT` steps (`0:1,24:10,72:50,168:100`, without `every`). The first
 * step is at hour 0, hours strictly increase, percents never decrease, 1 to 20 steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRamp } from "./_rollout.ts";
 * assert.deepEqual(parseRamp("1,50,100", "24h").ramp, [
 *   { after_hours: 0, basis_points: 100 },
 *   { after_hours: 24, basis_points: 5000 },
 *   { after_hours: 48, basis_points: 10000 },
 * ]);
 * assert.deepEqual(parseRamp("0:5,72:100").ramp?.map((s) => s.after_hours), [0, 72]);
 * assert.throws(() => parseRamp("0:50,24:10"), {
 *   name: "ConfigError",
 *   message: 'Invalid --ramp "0:50,24:10": percents must not decrease (50% then 10%)',
 * });
 * ```
 */
export function parseRamp(text: string, every?: string): RolloutPlan {
  const bad = (why: string) => new ConfigError(`Invalid --ramp ${JSON.stringify(text)}: ${why}`);
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length < 1 || parts.length > 20 || parts.some((p) => p === "")) {
    throw bad("expected 1 to 20 comma-separated steps such as 1,10,50,100");
  }
  const timed = parts.some((p) => p.includes(":"));
  if (timed && every !== undefined) {
    throw bad("HOURS:PERCENT steps take no --ramp-every");
  }
  if (!timed && every === undefined) {
    throw bad("a list of percents needs --ramp-every (such as 24h), or give HOURS:PERCENT steps");
  }
  const step = timed ? 0 : parseHours(every!);
  const ramp = parts.map((part, i) => {
    const [hours, percent] = timed ? part.split(":") : [String(i * step), part];
    if (percent === undefined || !/^\d{1,6}$/.test(hours)) {
      throw bad(`step ${JSON.stringify(part)} is not HOURS:PERCENT`);
    }
    return { after_hours: Number(hours), basis_points: parsePercent(percent, "--ramp percent") };
  });
  if (ramp[0].after_hours !== 0) throw bad("the first step must be at hour 0");
  for (let i = 1; i < ramp.length; i++) {
    if (ramp[i].after_hours <= ramp[i - 1].after_hours) {
      throw bad(`hours must increase (${ramp[i - 1].after_hours} then ${ramp[i].after_hours})`);
    }
    if (ramp[i].basis_points < ramp[i - 1].basis_points) {
      throw bad(
        `percents must not decrease (${ramp[i - 1].basis_points / 100}% then ${
          ramp[i].basis_points / 100
        }%)`,
      );
    }
  }
  return { ramp };
}

/**
 * The manifest's `rollout` for a new release under `plan` with a fresh `salt` (16 random bytes
 * as hex); null when the plan is 100% from the start (no field: everyone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newSalt, rolloutField } from "./_rollout.ts";
 * const salt = newSalt();
 * assert.match(salt, /^[0-9a-f]{32}$/);
 * assert.deepEqual(rolloutField({ basis_points: 1000 }, salt), { salt, basis_points: 1000, paused: false });
 * assert.equal(rolloutField({ basis_points: 10000 }, salt), null);
 * ```
 */
export function rolloutField(plan: RolloutPlan, salt: string): Record<string, unknown> | null {
  if (plan.ramp !== undefined) {
    if (plan.ramp.every((s) => s.basis_points >= FULL)) return null;
    return { salt, ramp: plan.ramp, paused: false };
  }
  if ((plan.basis_points ?? FULL) >= FULL) return null;
  return { salt, basis_points: plan.basis_points, paused: false };
}

/**
 * A fresh salt: 16 random bytes, 32 lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newSalt } from "./_rollout.ts";
 * assert.notEqual(newSalt(), newSalt());
 * ```
 */
export function newSalt(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toHex();
}

/**
 * The share of `doc`'s rollout at `now`, in basis points (10000 without a rollout).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentShare } from "./_rollout.ts";
 * const doc = { released_at: "2026-11-20T10:00:00Z", rollout: { salt: "0".repeat(32), paused: false,
 *   ramp: [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 5000 }] } };
 * assert.equal(currentShare(doc, new Date("2026-11-20T12:00:00Z")), 100);
 * assert.equal(currentShare(doc, new Date("2026-11-22T10:00:00Z")), 5000);
 * assert.equal(currentShare({ released_at: "2026-11-20T10:00:00Z" }, new Date()), 10000);
 * ```
 */
export function currentShare(doc: Record<string, unknown>, now: Date): number {
  if (!isObject(doc.rollout)) return FULL;
  const r = doc.rollout;
  // The client's computation (lib/core/rollout.ts), so that the publisher reports the share
  // clients apply.
  return rolloutShare(
    {
      salt: String(r.salt),
      basis_points: Array.isArray(r.ramp) ? null : Number(r.basis_points),
      ramp: Array.isArray(r.ramp) ? r.ramp : null,
      paused: r.paused === true,
      paused_at: typeof r.paused_at === "string" ? r.paused_at : null,
    },
    String(doc.released_at),
    now,
  );
}

/**
 * The `previous` of the release published after `doc` (the channel's current manifest): `doc`'s
 * own release when its rollout is complete at `now` (no rollout, or 100% reached and not
 * paused), else `doc`'s own `previous` (null when it has none). A yanked candidate gives null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { previousField } from "./_rollout.ts";
 * const artifacts = { "linux-x64": { url: "1.0.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } };
 * const done = { version: "1.0.0", released_at: "2026-11-10T10:00:00Z", artifacts };
 * assert.deepEqual(previousField(done, new Date()), done);
 * const partial = { ...done, version: "1.1.0", rollout: { salt: "0".repeat(32), basis_points: 1000 }, previous: done };
 * assert.deepEqual(previousField(partial, new Date()), done); // 1.1.0 reached only some
 * ```
 */
export function previousField(
  doc: Record<string, unknown> | null,
  now: Date,
): Record<string, unknown> | null {
  if (doc === null) return null;
  const yanked = yankedVersions(doc);
  const rolling = isObject(doc.rollout) &&
    (doc.rollout.paused === true || currentShare(doc, now) < FULL);
  const candidate = rolling
    ? (isObject(doc.previous) ? doc.previous : null)
    : { version: doc.version, released_at: doc.released_at, artifacts: doc.artifacts };
  if (candidate === null || yanked.has(String(candidate.version))) return null;
  return { ...candidate };
}

/**
 * The versions `doc`'s `yanked` list names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { yankedVersions } from "./_rollout.ts";
 * assert.deepEqual([...yankedVersions({ yanked: [{ version: "1.1.0", reason: "crash", at: "2026-11-21T12:00:00Z" }] })], ["1.1.0"]);
 * assert.equal(yankedVersions({}).size, 0);
 * ```
 */
export function yankedVersions(doc: Record<string, unknown>): Set<string> {
  const list = Array.isArray(doc.yanked) ? doc.yanked : [];
  return new Set(list.filter(isObject).map((y) => String(y.version)));
}

/**
 * The share a ramp was at when it was paused, and the ramp that resumes from there: every step
 * not yet reached at `pausedAt` is moved later by the pause (whole hours, rounded up), so the
 * pause stops the schedule's clock rather than skipping steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumedRamp } from "./_rollout.ts";
 * const ramp = [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 1000 }];
 * const released = new Date("2026-11-20T10:00:00Z");
 * assert.deepEqual(
 *   resumedRamp(ramp, released, new Date("2026-11-20T20:00:00Z"), new Date("2026-11-21T20:30:00Z")),
 *   [{ after_hours: 0, basis_points: 100 }, { after_hours: 49, basis_points: 1000 }],
 * );
 * ```
 */
export function resumedRamp(
  ramp: { after_hours: number; basis_points: number }[],
  releasedAt: Date,
  pausedAt: Date,
  now: Date,
): { after_hours: number; basis_points: number }[] {
  const shift = Math.max(0, Math.ceil((now.getTime() - pausedAt.getTime()) / HOUR_MS));
  return ramp.map((step) =>
    releasedAt.getTime() + step.after_hours * HOUR_MS > pausedAt.getTime()
      ? { ...step, after_hours: step.after_hours + shift }
      : step
  );
}

/**
 * The manifest's time format: ISO 8601 to the second, in UTC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isoSeconds } from "./_rollout.ts";
 * assert.equal(isoSeconds(new Date("2026-11-20T10:00:00.123Z")), "2026-11-20T10:00:00Z");
 * ```
 */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The rollout fields of a new publication after the channel's current manifest `existing`:
 * `yanked` and `minimum_version` carried over; for a new version, a `rollout` from `plan` with a
 * fresh salt and, when it is partial, the `previous` complete release; for the same version
 * again (`republish`), the current `rollout` and `previous` unchanged. A yanked version is
 * refused (a `RangeError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { releaseFields } from "./_rollout.ts";
 * const artifacts = { "linux-x64": { url: "1.0.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } };
 * const current = { version: "1.0.0", released_at: "2026-11-10T10:00:00Z", artifacts, minimum_version: "0.9.0" };
 * const fields = releaseFields(current, { version: "1.1.0", plan: { basis_points: 1000 }, now: new Date() });
 * assert.equal((fields.rollout as { basis_points: number }).basis_points, 1000);
 * assert.deepEqual([fields.previous, fields.minimum_version], [{ version: "1.0.0", released_at: "2026-11-10T10:00:00Z", artifacts }, "0.9.0"]);
 * assert.deepEqual(releaseFields(current, { version: "1.1.0", now: new Date() }), { minimum_version: "0.9.0" });
 * ```
 */
export function releaseFields(
  existing: Record<string, unknown> | null,
  options: { version: string; plan?: RolloutPlan; now: Date; channel?: string },
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const where = `Cannot publish ${options.version}${
    options.channel === undefined ? "" : ` on ${options.channel}`
  }`;
  if (existing !== null && yankedVersions(existing).has(options.version)) {
    throw new RangeError(
      `${where}: it was yanked (publish a higher version, or unyank ${options.version} first)`,
    );
  }
  const same = existing !== null && existing.version === options.version;
  if (same) {
    if (options.plan !== undefined) {
      throw new ConfigError(
        `${where} with a new rollout: it is the channel's current version (change its rollout with ms11-update rollout)`,
      );
    }
    if (isObject(existing.rollout)) fields.rollout = existing.rollout;
    if (isObject(existing.previous)) fields.previous = existing.previous;
  } else if (options.plan !== undefined) {
    const rollout = rolloutField(options.plan, newSalt());
    if (rollout !== null) {
      fields.rollout = rollout;
      const previous = previousField(existing, options.now);
      if (previous !== null) fields.previous = previous;
    }
  }
  if (existing !== null && Array.isArray(existing.yanked) && existing.yanked.length > 0) {
    fields.yanked = existing.yanked;
  }
  if (existing !== null && typeof existing.minimum_version === "string") {
    fields.minimum_version = existing.minimum_version;
  }
  return fields;
}
