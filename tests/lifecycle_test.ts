// The build lifecycle (lib/root/lifecycle.ts): its transitions one by one, and, end to end with
// the real CLI, the sequence a distributor met: a build rejected, brought back (with --force, or
// with rollback --to) and confirmed is not rejected any more; a plain rollback goes to the newest
// backup that ran healthy and says what it passed over; a rollback by hand holds a build back
// without calling it bad.
import assert from "node:assert/strict";
import {
  BUILD_STATES,
  holdBack,
  type LifecycleRecord,
  liftHold,
  markApplied,
  markConfirmed,
  markRejected,
  markStaged,
  MAX_LIFECYCLE_RECORDS,
  skippedVersions,
  skipReason,
  trimLifecycle,
} from "../lib/root/lifecycle.ts";
import { chooseRollback } from "../lib/root/rollback_choice.ts";
import { launch, makeWorld, runCli, type World } from "./_e2e.ts";

const AT = "2026-11-27T12:00:00.000Z";
const LATER = "2026-11-28T12:00:00.000Z";

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

// --- transitions -------------------------------------------------------------------------------

Deno.test("lifecycle: staged -> trial -> confirmed; the first build is confirmed at once", () => {
  const records: LifecycleRecord[] = [];
  assert.equal(
    markStaged(records, { version: "1.1.0", channel: "stable" }, { at: AT }).state,
    "staged",
  );
  assert.equal(
    markApplied(records, { version: "1.1.0", channel: "stable" }, { at: AT, fallback: true }).state,
    "trial",
  );
  const confirmed = markConfirmed(records, { version: "1.1.0", channel: "stable" }, {
    at: LATER,
    reason: "ran 30 s",
  });
  assert.deepEqual(confirmed, {
    version: "1.1.0",
    channel: "stable",
    state: "confirmed",
    at: LATER,
    reason: "ran 30 s",
    held: null,
  });
  assert.equal(records.length, 1, "one record per build");
  const first = markApplied(records, { version: "1.0.0", channel: "stable" }, {
    at: AT,
    fallback: false,
  });
  assert.deepEqual([first.state, first.reason], [
    "confirmed",
    "first build of the install: nothing to fall back to",
  ]);
  assert.deepEqual(BUILD_STATES, ["staged", "trial", "confirmed", "rejected"]);
});

Deno.test("lifecycle: rejected is a state a build leaves: staged again with --force, confirmed again", () => {
  const records: LifecycleRecord[] = [];
  markApplied(records, { version: "1.1.0", channel: "stable" }, { at: AT, fallback: true });
  markRejected(records, { version: "1.1.0", channel: "stable" }, {
    at: AT,
    reason: "1.1.0 crashed",
  });
  assert.equal(skipReason(records, { version: "1.1.0", channel: "stable" }), "1.1.0 crashed");
  markStaged(records, { version: "1.1.0", channel: "stable" }, { at: LATER });
  assert.equal(skipReason(records, { version: "1.1.0", channel: "stable" }), null);
  markApplied(records, { version: "1.1.0", channel: "stable" }, { at: LATER, fallback: true });
  markConfirmed(records, { version: "1.1.0", channel: "stable" }, { at: LATER });
  assert.deepEqual(skippedVersions(records), []);
});

Deno.test("lifecycle: a hold is apart from the state, and lifted by staging or making it current", () => {
  const records: LifecycleRecord[] = [];
  markConfirmed(records, { version: "1.2.0", channel: "stable" }, { at: AT });
  holdBack(records, { version: "1.2.0", channel: "stable" }, {
    at: LATER,
    reason: "rolled back to 1.1.0 by hand",
  });
  assert.equal(records[0].state, "confirmed", "holding back judges nothing");
  assert.deepEqual(skippedVersions(records), [
    { version: "1.2.0", channel: "stable", reason: "rolled back to 1.1.0 by hand", at: LATER },
  ]);
  assert.equal(liftHold(records, { version: "1.2.0", channel: "stable" }), true);
  assert.equal(liftHold(records, { version: "1.2.0", channel: "stable" }), false);
  holdBack(records, { version: "1.2.0", channel: "stable" }, { at: LATER, reason: "again" });
  markStaged(records, { version: "1.2.0", channel: "stable" }, { at: LATER });
  assert.equal(records[0].held, null);
  // A build with no record yet: held as one that ran without a verdict, or never ran.
  assert.equal(
    holdBack(records, { version: "1.3.0", channel: "stable" }, { at: AT, reason: "x" }).state,
    "trial",
  );
  assert.equal(
    holdBack(records, { version: "1.4.0", channel: "stable" }, {
      at: AT,
      reason: "x",
      staged: true,
    }).state,
    "staged",
  );
  // Held on one channel only.
  assert.equal(skipReason(records, { version: "1.3.0", channel: "canary" }), null);
});

Deno.test("chooseRollback passes over what did not run healthy, newest first, saying why", () => {
  const records: LifecycleRecord[] = [];
  markRejected(records, { version: "1.4.0", channel: "stable" }, { at: AT, reason: "crashed" });
  markConfirmed(records, { version: "1.3.0", channel: "stable" }, { at: AT });
  holdBack(records, { version: "1.3.0", channel: "stable" }, {
    at: AT,
    reason: "rolled back to 1.0.0 by hand",
  });
  markApplied(records, { version: "1.2.0", channel: "stable" }, { at: AT, fallback: true });
  markStaged(records, { version: "1.1.5", channel: "stable" }, { at: AT });
  markConfirmed(records, { version: "1.1.0", channel: "stable" }, { at: AT });
  markConfirmed(records, { version: "1.0.0", channel: "stable" }, { at: AT });
  const backup = (
    version: string,
    retired_at: string | null,
    channel: string | null = "stable",
  ) => ({
    version,
    channel,
    retired_at,
  });
  const choice = chooseRollback([
    backup("1.4.0", "2026-11-27T05:00:00Z"),
    backup("1.3.0", "2026-11-27T04:00:00Z"),
    backup("1.2.0", "2026-11-27T03:00:00Z"),
    backup("1.1.5", "2026-11-27T02:30:00Z"),
    backup("0.5.0", "2026-11-27T02:00:00Z", null),
    backup("1.1.0", "2026-11-27T01:00:00Z"),
    backup("1.0.0", "2026-11-27T00:00:00Z"),
  ], records);
  assert.deepEqual(choice, {
    target: "1.1.0",
    skipped: [
      { version: "1.4.0", why: "rejected: crashed" },
      { version: "1.3.0", why: "held back: rolled back to 1.0.0 by hand" },
      { version: "1.2.0", why: "never confirmed healthy" },
      { version: "1.1.5", why: "never ran" },
      { version: "0.5.0", why: "no record of how it ran" },
    ],
  });
  assert.deepEqual(chooseRollback([backup("1.1.0", null)], records), {
    target: null,
    skipped: [{ version: "1.1.0", why: "never ran" }],
  });
  assert.deepEqual(chooseRollback([], records), { target: null, skipped: [] });
});

Deno.test("trimLifecycle keeps what matters: builds present, rejected and held ones, within the cap", () => {
  const records: LifecycleRecord[] = [];
  markConfirmed(records, { version: "0.1.0", channel: "stable" }, { at: AT });
  markConfirmed(records, { version: "0.2.0", channel: "stable" }, { at: AT });
  for (let i = 0; i < MAX_LIFECYCLE_RECORDS + 5; i++) {
    markRejected(records, { version: `1.${i}.0`, channel: "stable" }, {
      at: new Date(Date.parse(AT) + i * 1000).toISOString(),
      reason: "crashed",
    });
  }
  const kept = trimLifecycle(records, new Set(["0.2.0"]));
  assert.equal(kept.length, MAX_LIFECYCLE_RECORDS);
  assert.equal(kept[0].version, "0.2.0", "a build present is kept whatever its age");
  // The oldest rejections of builds that are gone went first.
  assert.equal(kept[1].version, "1.6.0");
  assert.equal(kept.at(-1)?.version, `1.${MAX_LIFECYCLE_RECORDS + 4}.0`);
});

// --- end to end ----------------------------------------------------------------------------------

/** `ms11-update run -- <root>/current/ms11` against the world. */
function run(world: World) {
  return runCli([
    "run",
    "--root",
    world.root,
    "--config",
    world.configPath,
    "--",
    `${world.root}/current/ms11`,
  ]);
}

/** A build that prints its version and exits 3 unless `<dir>/healthy` exists. */
async function publishFlaky(world: World, version: string): Promise<void> {
  const artifact = `${world.dir}/ms11-${version}`;
  await Deno.writeTextFile(
    artifact,
    `#!/bin/sh\necho "MS11 ${version}"\n[ "$1" = "--version" ] && exit 0\n[ -e '${world.dir}/healthy' ] || exit 3\n`,
  );
  await world.publish("stable", version, { artifact });
}

/** Status --json of the world. */
async function status(world: World) {
  const out = await world.cli(["status", "--json"]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

/** Install 1.0.0, stage the flaky 1.1.0 and let `run` reject it (it crashes at once). */
async function rejectedOnce(world: World): Promise<void> {
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await publishFlaky(world, "1.1.0");
  assert.equal((await world.cli([])).code, 0);
  const crashed = await run(world);
  assert.equal(crashed.code, 0, crashed.stderr);
  includes(crashed.stderr, "1.1.0 exited with code 3 before its health check passed");
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const doc = await status(world);
  assert.deepEqual(doc.rejected.map((r: { version: string }) => r.version), ["1.1.0"]);
}

Deno.test("reject -> --force -> confirm -> rollback: the confirmed build is no longer rejected and is where rollback goes", async () => {
  await using world = await makeWorld();
  await rejectedOnce(world);
  const skipped = await world.cli([]);
  includes(skipped.stderr, "1.1.0 on stable is skipped (rejected: 1.1.0 exited with code 3");

  // Brought back with --force (the same build, already in builds/), and healthy this time.
  const forced = await world.cli(["--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((await world.cli(["apply"])).code, 0);
  await Deno.writeTextFile(`${world.dir}/healthy`, "");
  const confirmed = await world.cli(["confirm"]);
  assert.equal(confirmed.code, 0, confirmed.stderr);
  let doc = await status(world);
  assert.equal(doc.current.version, "1.1.0");
  assert.equal(doc.current.lifecycle.state, "confirmed");
  assert.deepEqual(doc.rejected, [], "a rejected build confirmed again is not rejected");
  const up = await world.cli(["check"]);
  includes(up.stdout, "update:    no - 1.1.0 is the newest release on stable");

  // 1.2.0 comes and is on trial; a plain rollback goes to the confirmed 1.1.0, not to 1.0.0.
  await world.publish("stable", "1.2.0");
  assert.equal((await world.cli([])).code, 0);
  assert.equal((await world.cli(["apply"])).code, 0);
  const back = await world.cli(["rollback"]);
  assert.equal(back.code, 0, back.stderr);
  includes(back.stderr, "Rolled back 1.2.0 -> 1.1.0; updates skip 1.2.0 until a newer release");
  assert.equal(await launch(world.root), "MS11 1.1.0");
  doc = await status(world);
  assert.deepEqual(doc.rejected, [], "a rollback by hand rejects nothing");
  assert.deepEqual(doc.held.map((h: { version: string }) => h.version), ["1.2.0"]);

  // A later rollback goes on to 1.0.0, which ran, and names what it passed over.
  const further = await world.cli(["rollback"]);
  assert.equal(further.code, 0, further.stderr);
  includes(
    further.stderr,
    "Rolled back 1.1.0 -> 1.0.0 (skipped 1.2.0: held back: rolled back to 1.1.0 by hand)",
  );
  assert.equal(await launch(world.root), "MS11 1.0.0");
});

Deno.test("reject -> rollback --to -> confirm: the running build is up to date, on trial, then confirmed", async () => {
  await using world = await makeWorld();
  await rejectedOnce(world);
  const back = await world.cli(["rollback", "--to", "1.1.0"]);
  assert.equal(back.code, 0, back.stderr);
  // Going to a newer build holds nothing back: no update would bring 1.0.0 back.
  includes(back.stderr, "Rolled back 1.0.0 -> 1.1.0; 1.1.0 is on trial until confirmed\n");
  // The update check does not call the build that runs "rejected".
  const check = await world.cli(["check", "--json"]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).decision.reason, "up-to-date");
  let doc = await status(world);
  assert.equal(doc.trial.version, "1.1.0");
  assert.equal(doc.trial.from, "1.0.0");
  await Deno.writeTextFile(`${world.dir}/healthy`, "");
  assert.equal((await world.cli(["confirm"])).code, 0);
  doc = await status(world);
  assert.deepEqual(doc.rejected, []);
  assert.equal(doc.current.lifecycle.state, "confirmed");
  // --reject says the build rolled back from is bad.
  const rejected = await world.cli(["rollback", "--reject"]);
  assert.equal(rejected.code, 0, rejected.stderr);
  includes(rejected.stderr, "Rolled back 1.1.0 -> 1.0.0; 1.1.0 is rejected");
  doc = await status(world);
  assert.deepEqual(doc.rejected.map((r: { version: string; reason: string }) => r.reason), [
    "rejected by hand (rolled back to 1.0.0)",
  ]);
});
