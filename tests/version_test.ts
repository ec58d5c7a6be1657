import assert from "node:assert/strict";
import { compareVersions, isVersion, parseVersion } from "../lib/core/version.ts";
import { throwsWith } from "./_helpers.ts";

Deno.test("parseVersion gives the canonical form", () => {
  assert.equal(parseVersion("1.2.3"), "1.2.3");
  assert.equal(parseVersion("v1.2.3"), "1.2.3");
  assert.equal(parseVersion("1.5.0-canary.20261126.3"), "1.5.0-canary.20261126.3");
  // Build metadata is not part of the canonical version.
  assert.equal(parseVersion("1.2.3+build.7"), "1.2.3");
  assert.equal(parseVersion("1.2.3-rc.1+sha.abc"), "1.2.3-rc.1");
  assert.equal(parseVersion("0.0.0"), "0.0.0");
});

Deno.test("parseVersion refuses what is not semver, naming the value", () => {
  for (
    const value of [
      "1.5",
      "1",
      "1.2.3.4",
      "",
      "latest",
      "01.2.3",
      "1.02.3",
      "1.2.3-01",
      "1.2.3-",
      "1.2.3+",
      "1.2.3-canary..1",
      "=1.2.3",
      "1.2.3 beta",
      "x".repeat(300),
    ]
  ) {
    throwsWith(
      () => parseVersion(value),
      TypeError,
      `Invalid version ${JSON.stringify(value)}: expected a semver version`,
    );
  }
  throwsWith(
    () => parseVersion("1.0", "--version"),
    TypeError,
    'Invalid --version "1.0": expected a semver version',
  );
  // Non-strings from untyped callers.
  for (const value of [1, null, undefined, { version: "1.0.0" }]) {
    throwsWith(
      () => parseVersion(value as unknown as string),
      TypeError,
      `Invalid version ${JSON.stringify(value)}: expected a semver version`,
    );
  }
});

Deno.test("isVersion tells semver versions apart", () => {
  for (const ok of ["1.2.3", "1.5.0-canary.20261126.3", "1.2.3+build", "10.20.30-alpha-1.x"]) {
    assert.equal(isVersion(ok), true, ok);
  }
  for (const no of ["1.5", "1.2.3.4", "", "latest", "01.2.3", "1.2.3-01", 1, null, undefined, {}]) {
    assert.equal(isVersion(no), false, String(no));
  }
});

Deno.test("compareVersions orders prereleases numerically and below their release", () => {
  assert.ok(compareVersions("1.5.0-canary.20261126.3", "1.5.0-canary.20261126.10") < 0);
  assert.ok(compareVersions("1.5.0-canary.20261126.10", "1.5.0") < 0);
  assert.ok(compareVersions("1.5.0-canary.20261126.3", "1.5.0") < 0);
  assert.ok(compareVersions("1.5.0", "1.5.0-canary.20261126.10") > 0);
  assert.ok(compareVersions("1.10.0", "1.9.0") > 0);
  assert.equal(compareVersions("1.5.0", "1.5.0"), 0);
  assert.equal(compareVersions("1.5.0-canary.3", "1.5.0-canary.3"), 0);
  // Build metadata is ignored.
  assert.equal(compareVersions("1.5.0+a", "1.5.0+b"), 0);
  assert.equal(compareVersions("v1.5.0", "1.5.0"), 0);
});

Deno.test("compareVersions sorts a release history", () => {
  const ordered = [
    "0.9.9",
    "1.4.0",
    "1.5.0-alpha",
    "1.5.0-alpha.1",
    "1.5.0-alpha.beta",
    "1.5.0-canary.20261126.3",
    "1.5.0-canary.20261126.10",
    "1.5.0-canary.20261127.1",
    "1.5.0-rc.1",
    "1.5.0",
    "1.5.1",
    "1.10.0",
    "2.0.0",
  ];
  const shuffled = [...ordered].reverse();
  [shuffled[1], shuffled[7]] = [shuffled[7], shuffled[1]];
  assert.deepEqual(shuffled.sort(compareVersions), ordered);
});

Deno.test("compareVersions refuses invalid versions", () => {
  throwsWith(() => compareVersions("1.5", "1.5.0"), TypeError, /Invalid Version: 1\.5/);
  throwsWith(() => compareVersions("1.5.0", "latest"), TypeError, /Invalid Version: latest/);
});
