// "Whether this install is in the cohort and when it will be" (issue #14): the time a ramp
// admits an install's bucket, in offeredRelease, in `status` (text and --json, judged now from the
// manifest accepted at the last check) and in the audit log's `checked` entry.
import assert from "node:assert/strict";
import {
  admissionTime,
  cohortNow,
  installBucket,
  offeredRelease,
  type Rollout,
} from "../lib/core/rollout.ts";
import { installIdPath } from "../lib/root/install_id.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { readAudit } from "../lib/root/audit.ts";
import { makeWorld, type World } from "./_e2e.ts";

const HOUR = 3_600_000;
const RELEASED = "2026-11-20T10:00:00.000Z";
const RAMP: Rollout = {
  salt: "0123456789abcdef0123456789abcdef",
  basis_points: null,
  paused: false,
  paused_at: null,
  ramp: [
    { after_hours: 0, basis_points: 1000 },
    { after_hours: 24, basis_points: 5000 },
    { after_hours: 72, basis_points: 10000 },
  ],
};

/** A random install id whose bucket for `salt` is in [lo, hi). */
function idIn(salt: string, lo: number, hi: number): string {
  for (let i = 0; i < 100_000; i++) {
    const id = Array.from(
      crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const bucket = installBucket(id, salt);
    if (bucket >= lo && bucket < hi) return id;
  }
  throw new Error(`no id in [${lo}, ${hi})`);
}

const at = (hours: number) => new Date(Date.parse(RELEASED) + hours * HOUR).toISOString();

Deno.test("offeredRelease and cohortNow say when the ramp admits an install outside the cohort", () => {
  const manifest = {
    version: "1.1.0",
    released_at: RELEASED,
    rollout: RAMP,
    previous: { version: "1.0.0" },
    yanked: [],
    minimum_version: null,
  };
  const now = new Date(at(2));
  const cases: { bucket: [number, number]; admits: string | null; inCohort: boolean }[] = [
    { bucket: [0, 1000], admits: null, inCohort: true }, // in at once
    { bucket: [1000, 5000], admits: at(24), inCohort: false }, // at the 50% step
    { bucket: [5000, 10000], admits: at(72), inCohort: false }, // at 100%
  ];
  for (const { bucket, admits, inCohort } of cases) {
    const installId = idIn(RAMP.salt, ...bucket);
    const offered = offeredRelease(manifest, { installId, now, current: "1.0.0" });
    assert.deepEqual([offered.in_cohort, offered.admits_at], [inCohort, admits], `${bucket}`);
    const cohort = cohortNow(manifest, installId, now);
    assert.deepEqual(cohort, {
      newest: "1.1.0",
      share_basis_points: 1000,
      paused: false,
      ramp: true,
      in_cohort: inCohort,
      admits_at: admits,
    });
  }
  // Past the step, the same install is in: nothing to wait for.
  const later = idIn(RAMP.salt, 1000, 5000);
  assert.equal(cohortNow(manifest, later, new Date(at(25)))?.in_cohort, true);
  // A fixed share and a paused ramp have no time: only the publisher widens or resumes them.
  const fixed = { ...RAMP, ramp: null, basis_points: 1000 };
  assert.equal(admissionTime(fixed, RELEASED, 4000), null);
  const paused = { ...RAMP, paused: true, paused_at: at(1) };
  assert.equal(
    offeredRelease({ ...manifest, rollout: paused }, {
      installId: later,
      now,
      current: "1.0.0",
    }).admits_at,
    null,
  );
  // A ramp that stops below 100% never reaches the buckets above it.
  const short = { ...RAMP, ramp: [{ after_hours: 0, basis_points: 1000 }] };
  assert.equal(admissionTime(short, RELEASED, 5000), null);
  // No install id yet (no check made one): outside every cohort, and no time.
  assert.deepEqual(
    [cohortNow(manifest, null, now)?.in_cohort, cohortNow(manifest, null, now)?.admits_at],
    [false, null],
  );
  // A kept document that does not fit is no rollout, not an error.
  assert.equal(cohortNow({ ...manifest, rollout: { salt: 5 } }, later, now), null);
  assert.equal(cohortNow("[]", later, now), null);
});

/** The world's stable manifest as written. */
async function manifestOf(world: World): Promise<{ released_at: string; rollout: Rollout }> {
  return JSON.parse(await Deno.readTextFile(`${world.tree}/stable/manifest.json`));
}

Deno.test("status (text and --json) and the audit log say when the ramp admits this install", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const releasedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - HOUR);
  await world.publish("stable", "1.1.0", {
    releasedAt,
    rollout: {
      ramp: [
        { after_hours: 0, basis_points: 1000 },
        { after_hours: 24, basis_points: 5000 },
        { after_hours: 48, basis_points: 10000 },
      ],
    },
  });
  const doc = await manifestOf(world);
  await Deno.writeTextFile(
    installIdPath(layoutOf(world.root)),
    `${idIn(doc.rollout.salt, 1000, 5000)}\n`,
  );
  const check = await world.cli(["check"]);
  assert.equal(check.code, 0, check.stderr);
  const admits = new Date(Date.parse(doc.released_at) + 24 * HOUR).toISOString();

  const json = await world.cli(["status", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).cohort, {
    newest: "1.1.0",
    share_basis_points: 1000,
    paused: false,
    ramp: true,
    in_cohort: false,
    admits_at: admits,
  });
  const text = await world.cli(["status"]);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(
    text.stdout.includes(
      `rollout:    1.1.0 at 10% (ramp); this install is not in the cohort yet: the ramp admits it at ${admits}\n`,
    ),
    text.stdout,
  );
  const checked = (await readAudit(layoutOf(world.root))).filter((e) => e.event === "checked")
    .at(-1)!;
  assert.equal((checked.rollout as { admits_at: string }).admits_at, admits);

  // In the cohort, status says so and names no time.
  await Deno.writeTextFile(
    installIdPath(layoutOf(world.root)),
    `${idIn(doc.rollout.salt, 0, 1000)}\n`,
  );
  const inside = JSON.parse((await world.cli(["status", "--json"])).stdout).cohort;
  assert.deepEqual([inside.in_cohort, inside.admits_at], [true, null]);
  assert.match(
    (await world.cli(["status"])).stdout,
    /rollout: {4}1\.1\.0 at 10% \(ramp\); this install is in the cohort\n/,
  );

  // Outside the cohort but taken ahead of the rollout (--now): status says it runs it already.
  await Deno.writeTextFile(
    installIdPath(layoutOf(world.root)),
    `${idIn(doc.rollout.salt, 5000, 10000)}\n`,
  );
  assert.equal((await world.cli(["--now"])).code, 0);
  assert.equal((await world.cli(["apply"])).code, 0);
  assert.match(
    (await world.cli(["status"])).stdout,
    /rollout: {4}1\.1\.0 at 10% \(ramp\); this install runs it already \(taken ahead of the rollout\)\n/,
  );
});
