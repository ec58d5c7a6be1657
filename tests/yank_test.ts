// The client's answer to a yank and to a minimum version (issue #14), end to end with the real
// CLI against a tree whose manifest `yank`, `unyank` and `minimum-version` re-sign: a yanked
// current build is left at the next launch (`apply`, `run`) with no network when a good backup
// exists; a yanked staged build is unstaged at the next check; a yanked build on trial is left;
// with no backup the next update installs the release the manifest offers; a yank of a version
// nobody has changes nothing; an unyank does not move back; a minimum version makes an `--auto`
// run that is not due check and stage the newest, outside the cohort.
import assert from "node:assert/strict";
import { installBucket } from "../lib/core/rollout.ts";
import { changeRollout, type RolloutChange } from "../lib/publish/rollout.ts";
import { readAudit } from "../lib/root/audit.ts";
import { installIdPath } from "../lib/root/install_id.ts";
import { certainlyIdle } from "../lib/root/idle.ts";
import { currentVersion, layoutOf } from "../lib/root/layout.ts";
import { markConfirmed } from "../lib/root/lifecycle.ts";
import { applyPending, emptyState, parseState, readState, writeState } from "../lib/root/state.ts";
import { switchCurrent } from "../lib/root/swap.ts";
import { leaveYanked } from "../lib/root/yank.ts";
import { rollback } from "../lib/root/rollback.ts";
import { launch, makeWorld, runCli, snapshot, type World } from "./_e2e.ts";

/** Re-sign the world's stable manifest with one rollout change. */
async function change(world: World, c: RolloutChange): Promise<void> {
  await changeRollout(world.tree, {
    channel: "stable",
    change: c,
    expires: new Date(Date.now() + 86_400_000),
    keys: [world.key],
  });
}

/** Run the CLI and require success; returns the run. */
async function ok(world: World, args: string[]) {
  const run = await world.cli(args);
  assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
  return run;
}

/** The install's state file. */
async function stateOf(world: World) {
  return JSON.parse(await Deno.readTextFile(`${world.root}/state.json`));
}

/** The audit events of the install, by name. */
async function events(world: World, name: string) {
  return (await readAudit(layoutOf(world.root))).filter((e) => e.event === name);
}

/**
 * Publish 1.0.0, then 1.1.0 at 10% (so that the manifest names 1.0.0 as `previous`, which a
 * yank of 1.1.0 puts back on top), taken by this install as an early adopter.
 */
async function publishBoth(world: World): Promise<void> {
  await world.publish("stable", "1.0.0");
  await world.publish("stable", "1.1.0", { rollout: { basis_points: 1000 } });
}

/** 1.0.0 installed, 1.1.0 published and updated to (staged); `apply` and `confirm` when asked. */
async function onNewer(world: World, steps: { apply?: boolean; confirm?: boolean } = {}) {
  await world.writeConfig({ rollout_early_adopter: true });
  await world.publish("stable", "1.0.0");
  await ok(world, ["install"]);
  await world.publish("stable", "1.1.0", { rollout: { basis_points: 1000 } });
  await ok(world, []);
  if (steps.apply) await ok(world, ["apply"]);
  if (steps.confirm) await ok(world, ["confirm"]);
}

const REASON = "crashes at start on Wayland";

Deno.test("a yanked current build is left at the next apply with no network, for the backup that ran healthy; audit and status say why; an unyank does not move back", async () => {
  await using world = await makeWorld();
  await onNewer(world, { apply: true, confirm: true });
  assert.equal(await launch(world.root), "MS11 1.1.0");
  await change(world, { action: "yank", version: "1.1.0", reason: REASON });
  const check = JSON.parse((await ok(world, ["check", "--json"])).stdout);
  assert.equal(
    check.decision.message,
    `1.1.0 is yanked on stable (${REASON}): the next launch goes back to 1.0.0, a backup that last ran healthy`,
  );
  let status = JSON.parse((await ok(world, ["status", "--json"])).stdout);
  assert.deepEqual(status.current_yanked, {
    version: "1.1.0",
    channel: "stable",
    reason: REASON,
    at: status.controls.yanked[0].at,
  });
  assert.match((await ok(world, ["status"])).stdout, /^leaving: {4}1\.1\.0 is yanked on stable/m);

  // The launcher acts on the state alone: the server is gone.
  await world.server.shutdown();
  const apply = await ok(world, ["apply"]);
  assert.equal(apply.stderr, `Left 1.1.0, yanked on stable (${REASON}): back to 1.0.0\n`);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const [left] = await events(world, "yank_left");
  assert.deepEqual([left.version, left.to, left.yank_reason, left.via], [
    "1.1.0",
    "1.0.0",
    REASON,
    "backup",
  ]);
  const [back] = await events(world, "rolled_back");
  assert.deepEqual([back.from, back.to, back.reason, back.bad, back.automatic], [
    "1.1.0",
    "1.0.0",
    `yanked on stable: ${REASON}`,
    false,
    true,
  ]);
  status = JSON.parse((await ok(world, ["status", "--json"])).stdout);
  assert.equal(status.current.version, "1.0.0");
  assert.equal(status.current_yanked, null);
  assert.deepEqual(
    status.held.map((h: { version: string; reason: string }) => [h.version, h.reason]),
    [
      ["1.1.0", `yanked on stable: ${REASON}`],
    ],
  );
  assert.equal(status.backups[0].lifecycle.held.reason, `yanked on stable: ${REASON}`);
  // The next launch has nothing to do.
  assert.equal((await ok(world, ["apply"])).stderr, "");
});

Deno.test("an unyank does not move an install back onto the build it left, and lifts the yank's hold", async () => {
  await using world = await makeWorld();
  await onNewer(world, { apply: true, confirm: true });
  await change(world, { action: "yank", version: "1.1.0", reason: REASON });
  await ok(world, ["check"]);
  await ok(world, ["apply"]);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const held = (await stateOf(world)).lifecycle.find((r: { version: string }) =>
    r.version === "1.1.0"
  );
  assert.equal(held.held.reason, `yanked on stable: ${REASON}`);
  await change(world, { action: "unyank", version: "1.1.0" });
  const update = await ok(world, []);
  assert.equal(update.stderr, "1.0.0 is the newest release on stable\n");
  await ok(world, ["apply"]);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const state = await stateOf(world);
  assert.equal(state.staged, null);
  assert.deepEqual(state.controls.stable.yanked, []);
  // The yank's hold is lifted (audited): released again, 1.1.0 is staged like any release.
  const lifted = state.lifecycle.find((r: { version: string }) => r.version === "1.1.0");
  assert.equal(lifted.held, null);
  const [audit] = await events(world, "yank_lifted");
  assert.deepEqual([audit.version, audit.channel], ["1.1.0", "stable"]);
  await world.publish("stable", "1.1.0");
  const again = await ok(world, []);
  assert.match(again.stderr, /^Staged 1\.1\.0 from stable/m);
});

Deno.test("a yanked staged build is unstaged at the next check: not staged, its files removed, audited", async () => {
  await using world = await makeWorld();
  await onNewer(world);
  assert.equal((await stateOf(world)).staged.version, "1.1.0");
  await change(world, { action: "yank", version: "1.1.0", reason: REASON });
  const check = await ok(world, ["check"]);
  assert.match(
    check.stderr,
    new RegExp(
      `^warning: Unstaged 1\\.1\\.0, yanked on stable \\(${REASON}\\); its files are removed\\n`,
    ),
  );
  const state = await stateOf(world);
  assert.equal(state.staged, null);
  assert.equal(state.builds["1.1.0"], undefined);
  await assert.rejects(Deno.stat(`${world.root}/builds/1.1.0`), Deno.errors.NotFound);
  const [unstaged] = await events(world, "yank_unstaged");
  assert.deepEqual([unstaged.version, unstaged.reason], ["1.1.0", `yanked on stable: ${REASON}`]);
  assert.equal((await ok(world, ["apply"])).stderr, "");
  assert.equal(await launch(world.root), "MS11 1.0.0");
});

Deno.test("a yanked build on trial is left at the next launch, held back (not rejected)", async () => {
  await using world = await makeWorld();
  await onNewer(world, { apply: true });
  assert.equal((await stateOf(world)).trial.version, "1.1.0");
  await change(world, { action: "yank", version: "1.1.0", reason: REASON });
  await ok(world, ["check"]);
  const apply = await ok(world, ["apply"]);
  assert.equal(apply.stderr, `Left 1.1.0, yanked on stable (${REASON}): back to 1.0.0\n`);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const state = await stateOf(world);
  assert.equal(state.trial, undefined);
  const record = state.lifecycle.find((r: { version: string }) => r.version === "1.1.0");
  assert.deepEqual([record.state, record.held.reason], ["trial", `yanked on stable: ${REASON}`]);
});

Deno.test("a yanked build with no backup stays (with a warning) until the next update installs the release the manifest offers", async () => {
  await using world = await makeWorld();
  await world.writeConfig({ rollout_early_adopter: true });
  await publishBoth(world);
  await ok(world, ["install"]); // 1.1.0 only: no backup
  assert.equal(await launch(world.root), "MS11 1.1.0");
  await change(world, { action: "yank", version: "1.1.0", reason: REASON });
  const check = JSON.parse((await ok(world, ["check", "--json"])).stdout);
  assert.equal(check.update_available, true);
  assert.equal(
    check.decision.message,
    `1.1.0 is yanked on stable (${REASON}) and no backup here last ran healthy: installing 1.0.0, the release stable offers this install`,
  );
  // Nothing good to go to: the launch stays on 1.1.0 and says so.
  const stay = await ok(world, ["apply"]);
  assert.equal(
    stay.stderr,
    `warning: 1.1.0 is yanked on stable (${REASON}), but no backup here last ran healthy (there are no backups): staying on 1.1.0; the next update installs the release stable offers\n`,
  );
  assert.equal(await launch(world.root), "MS11 1.1.0");
  const update = await ok(world, []);
  assert.match(update.stderr, /Staged 1\.0\.0 from stable \(a downgrade: 1\.1\.0 -> 1\.0\.0;/);
  const apply = await ok(world, ["apply"]);
  assert.match(
    apply.stderr,
    new RegExp(`^Left 1\\.1\\.0, yanked on stable \\(${REASON}\\): 1\\.0\\.0 applied\\n`),
  );
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const [left] = await events(world, "yank_left");
  assert.deepEqual([left.version, left.to, left.via], ["1.1.0", "1.0.0", "staged"]);
});

Deno.test("a yank of a version this install never had changes nothing", async () => {
  await using world = await makeWorld();
  await onNewer(world, { apply: true, confirm: true });
  const before = await snapshot(world.root);
  await change(world, { action: "yank", version: "0.9.0", reason: "never shipped right" });
  const check = JSON.parse((await ok(world, ["check", "--json"])).stdout);
  assert.equal(check.decision.message, "1.1.0 is the newest release on stable");
  assert.equal((await ok(world, ["apply"])).stderr, "");
  assert.equal(await snapshot(world.root), before);
  assert.equal(await launch(world.root), "MS11 1.1.0");
  const yankEvents = (await readAudit(layoutOf(world.root))).filter((e) =>
    e.event.startsWith("yank")
  );
  assert.deepEqual(yankEvents, []);
});

Deno.test("a minimum version above the install makes an --auto run that is not due check, and stage the newest outside its cohort", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  await ok(world, ["install"]);
  await world.publish("stable", "1.1.0", { rollout: { basis_points: 1000 } });
  const salt =
    JSON.parse(await Deno.readTextFile(`${world.tree}/stable/manifest.json`)).rollout.salt;
  // An install outside the 10% cohort.
  for (;;) {
    const id = Array.from(
      crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    if (installBucket(id, salt) >= 1000) {
      await Deno.writeTextFile(installIdPath(layoutOf(world.root)), `${id}\n`);
      break;
    }
  }
  const notDue = await ok(world, ["--auto"]);
  assert.match(notDue.stderr, /^Not checking stable: last checked at /);
  await change(world, { action: "minimum", version: "1.1.0" });
  // A check sees the minimum (people's checks are never subject to the interval)…
  assert.equal(JSON.parse((await ok(world, ["check", "--json"])).stdout).available, "1.1.0");
  // …and the next --auto run, within the interval, checks and stages 1.1.0.
  const auto = await ok(world, ["--auto"]);
  assert.match(auto.stderr, /Staged 1\.1\.0 from stable/);
  assert.equal(
    (await stateOf(world)).last_check.rollout.reason,
    "a critical update: 1.0.0 is below 1.1.0",
  );
  // Staged at or above the minimum: the interval holds again.
  assert.match((await ok(world, ["--auto"])).stderr, /^Not checking stable: last checked at /);
  await ok(world, ["apply"]);
  assert.equal(await launch(world.root), "MS11 1.1.0");
});

/** A root with builds 1.0.0 and 1.0.5 (backups that ran healthy) and 1.1.0 current. */
async function threeBuilds(yanked: string[]) {
  const layout = layoutOf(await Deno.makeTempDir({ prefix: "ms11-yank-" }));
  const state = emptyState();
  const retired: Record<string, string | null> = {
    "1.0.0": "2026-11-10T00:00:00.000Z",
    "1.0.5": "2026-11-20T00:00:00.000Z",
    "1.1.0": null,
  };
  for (const [version, retired_at] of Object.entries(retired)) {
    await Deno.mkdir(`${layout.builds}/${version}`, { recursive: true });
    await Deno.writeTextFile(`${layout.builds}/${version}/ms11`, `#!/bin/sh\necho ${version}\n`);
    await Deno.chmod(`${layout.builds}/${version}/ms11`, 0o755);
    state.builds[version] = {
      version,
      channel: "stable",
      sha256: null,
      kind: "executable",
      installed_at: "2026-11-01T00:00:00.000Z",
      retired_at,
    };
    markConfirmed(state.lifecycle, { version, channel: "stable" }, {
      at: "2026-11-05T00:00:00.000Z",
    });
  }
  await switchCurrent(layout, "1.1.0");
  const at = "2026-12-01T00:00:00.000Z";
  state.controls = {
    stable: {
      checked_at: at,
      minimum_version: null,
      yanked: yanked.map((version) => ({ version, reason: `${version} is broken`, at })),
    },
  };
  await writeState(layout, state);
  return layout;
}

Deno.test("the launcher never goes back onto another yanked build, nor onto one it cannot launch; with nothing good it stays", async () => {
  let layout = await threeBuilds(["1.1.0", "1.0.5"]);
  assert.equal(await certainlyIdle(layout), false); // the quick look sees the yanked current
  const [left] = await leaveYanked(layout, { executable: "ms11" });
  assert.deepEqual([left.outcome, left.to], ["left", "1.0.0"]); // 1.0.5 is newer, but yanked
  assert.equal(await currentVersion(layout), "1.0.0");
  assert.equal(await certainlyIdle(layout), true); // the yanked ones are only backups now
  assert.deepEqual(await leaveYanked(layout, { executable: "ms11" }), []);

  // 1.0.0 cannot be launched (its executable is gone): passed over, as is the yanked 1.0.5.
  await Deno.remove(layout.root, { recursive: true });
  layout = await threeBuilds(["1.1.0", "1.0.5"]);
  await Deno.remove(`${layout.builds}/1.0.0/ms11`);
  const before = await Deno.readTextFile(layout.state);
  const [stayed] = await leaveYanked(layout, { executable: "ms11" });
  assert.equal(stayed.outcome, "stayed");
  assert.equal(
    stayed.message,
    "1.1.0 is yanked on stable (1.1.0 is broken), but no backup here last ran healthy (1.0.5: yanked on stable; 1.0.0: has no file ms11 at the top level): staying on 1.1.0; the next update installs the release stable offers",
  );
  assert.equal(await currentVersion(layout), "1.1.0");
  assert.equal(await Deno.readTextFile(layout.state), before); // nothing written but the audit
  const audited = (await readAudit(layout)).filter((e) => e.event === "yank_stayed");
  assert.deepEqual(
    audited.map((e) => [e.version, e.channel, e.yank_reason, e.reason]),
    [["1.1.0", "stable", "1.1.0 is broken", stayed.message]],
  );

  // A yank of versions this root does not run: the quick look stays certain, nothing happens.
  await Deno.remove(layout.root, { recursive: true });
  layout = await threeBuilds(["0.9.0"]);
  assert.equal(await certainlyIdle(layout), true);
  assert.equal(applyPending((await readState(layout)).state, "1.1.0"), false);
  assert.deepEqual(await leaveYanked(layout), []);
  await Deno.remove(layout.root, { recursive: true });
});

Deno.test("a plain rollback passes over a yanked backup, saying why", async () => {
  const layout = await threeBuilds(["1.0.5"]);
  const result = await rollback(layout);
  assert.equal(result.to, "1.0.0");
  assert.deepEqual(result.skipped, [{
    version: "1.0.5",
    why: "yanked on stable: 1.0.5 is broken",
  }]);
  await Deno.remove(layout.root, { recursive: true });
});

Deno.test("the launcher unstages a yanked staged build it meets (a check would have), and applies nothing", async () => {
  const layout = await threeBuilds(["1.0.5"]);
  const { state } = await readState(layout);
  // 1.0.5 staged again (as a newer client's state might have it): yanked, so it must not go in.
  state.staged = { version: "1.0.5", channel: "stable", staged_at: "2026-12-01T00:00:00.000Z" };
  await writeState(layout, state);
  const [unstaged] = await leaveYanked(layout);
  assert.deepEqual([unstaged.outcome, unstaged.version], ["unstaged", "1.0.5"]);
  const after = (await readState(layout)).state;
  assert.equal(after.staged, null);
  assert.equal(
    after.lifecycle.find((r) => r.version === "1.0.5")?.held?.reason,
    "yanked on stable: 1.0.5 is broken",
  );
  await assert.rejects(Deno.stat(`${layout.builds}/1.0.5`), Deno.errors.NotFound);
  assert.equal(await currentVersion(layout), "1.1.0");
  await Deno.remove(layout.root, { recursive: true });
});

Deno.test("the state's controls are read defensively: a record that does not fit is dropped and named", () => {
  const at = "2026-12-01T00:00:00.000Z";
  const good = {
    checked_at: at,
    yanked: [{ version: "1.1.0", reason: "crashes", at }],
    minimum_version: null,
  };
  const { state, problem } = parseState({
    schema: 2,
    controls: {
      stable: good,
      canary: { ...good, yanked: [{ version: "../../etc", reason: "x", at }] },
      beta: { ...good, minimum_version: 7 },
      "bad name!": good,
    },
  }, "state.json");
  assert.deepEqual(state.controls, { stable: good });
  assert.equal(
    problem,
    "State file state.json had unreadable entries (controls.canary, controls.beta, controls.bad name!); they were ignored",
  );
  assert.equal(
    parseState({ schema: 2, controls: [] }, "s").problem,
    "State file s had unreadable entries (controls); they were ignored",
  );
});

Deno.test("run leaves a yanked current build before it starts the application", async () => {
  await using world = await makeWorld();
  await onNewer(world, { apply: true, confirm: true });
  await change(world, { action: "yank", version: "1.1.0", reason: REASON });
  await ok(world, ["check"]);
  const run = await runCli([
    "run",
    "--config",
    world.configPath,
    "--root",
    world.root,
    "--",
    `${world.root}/current/ms11`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), "MS11 1.0.0");
  assert.match(
    run.stderr,
    new RegExp(`^Left 1\\.1\\.0, yanked on stable \\(${REASON}\\): back to 1\\.0\\.0\\n`),
  );
});
