/**
 * Versions compare as semver, prereleases included (`1.5.0-canary.20261126.3`).
 *
 * @module
 */
// @ts-types="@types/semver"
import semver from "semver";

/**
 * The version in canonical form, or a `TypeError` naming the bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVersion } from "./version.ts";
 * assert.equal(parseVersion("1.5.0-canary.3"), "1.5.0-canary.3");
 * assert.throws(() => parseVersion("1.5", "release version"), {
 *   name: "TypeError",
 *   message: 'Invalid release version "1.5": expected a semver version',
 * });
 * ```
 */
export function parseVersion(value: string, what = "version"): string {
  const parsed = typeof value === "string" ? semver.parse(value, { loose: false }) : null;
  if (parsed === null) {
    throw new TypeError(`Invalid ${what} ${JSON.stringify(value)}: expected a semver version`);
  }
  return parsed.version;
}

/**
 * Whether `value` is a valid semver version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isVersion } from "./version.ts";
 * assert.equal(isVersion("1.5.0-canary.20261126.3"), true);
 * assert.equal(isVersion("1.5"), false);
 * assert.equal(isVersion(150), false);
 * ```
 */
export function isVersion(value: unknown): value is string {
  return typeof value === "string" && semver.valid(value) !== null;
}

/**
 * Compare two versions: negative when `a < b`, 0 when equal, positive when `a > b`.
 * Prerelease identifiers compare numerically where numeric (`canary.3 < canary.10`) and a
 * prerelease is lower than its release (`1.5.0-canary.1 < 1.5.0`). Build metadata is ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareVersions } from "./version.ts";
 * assert.ok(compareVersions("1.5.0-canary.3", "1.5.0-canary.10") < 0);
 * assert.ok(compareVersions("1.5.0-canary.10", "1.5.0") < 0);
 * assert.equal(compareVersions("1.5.0+build.7", "1.5.0"), 0);
 * ```
 */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}
