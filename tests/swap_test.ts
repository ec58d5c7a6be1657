// lib/root/layout.ts, lib/root/swap.ts, lib/root/backups.ts and lib/root/rollback.ts.
import assert from "node:assert/strict";
import { readAudit } from "../lib/root/audit.ts";
import { markConfirmed, markRejected, rejectedBuilds, skipReason } from "../lib/root/lifecycle.ts";
import { listBackups, pruneBackups } from "../lib/root/backups.ts";
import { LockHeldError } from "../lib/core/errors.ts";
import { buildDir, currentVersion, type Layout, layoutOf } from "../lib/root/layout.ts";
import { rollback } from "../lib/root/rollback.ts";
import { emptyState, readState, type State } from "../lib/root/state.ts";
import { acquireLock } from "../lib/root/lock.ts";
import { applyStaged, recordSwap, switchCurrent } from "../lib/root/swap.ts";
import { renameDurable } from "../lib/core/fs.ts";
import {
  buildRecord,
  bytesOf,
  makeRoot,
  namesIn,
  rejectsWith,
  type TempDir,
  tempDir,
} from "./_helpers.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");
const T1 = "2026-11-10T00:00:00.000Z";
const T2 = "2026-11-15T00:00:00.000Z";
const T3 = "2026-11-20T00:00:00.000Z";

/** Every file under `dir` with its content, and every directory (for "untouched" checks). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(path: string, rel: string) {
    for await (const entry of Deno.readDir(path)) {
      const p = `${path}/${entry.name}`;
      const r = `${rel}${entry.name}`;
      if (entry.isDirectory) {
        out[`${r}/`] = "";
        await walk(p, `${r}/`);
      } else if (entry.isSymlink) out[r] = `-> ${await Deno.readLink(p)}`;
      else out[r] = await Deno.readTextFile(p);
    }
  }
  await walk(dir, "");
  return out;
}

/** User data in `<root>/data`, including names that look like builds. */
async function addUserData(layout: Layout): Promise<Record<string, string>> {
  await Deno.mkdir(`${layout.data}/builds/1.0.0`, { recursive: true });
  await Deno.writeTextFile(`${layout.data}/user.db`, "precious");
  await Deno.writeTextFile(`${layout.data}/builds/1.0.0/ms11`, "not a build");
  await Deno.symlink("builds/1.0.0", `${layout.data}/current`);
  return await snapshot(layout.data);
}

/** A state with these build records; a build that ran (retired_at set) ran healthy. */
function stateWith(builds: Record<string, Partial<ReturnType<typeof buildRecord>>>): State {
  const state = emptyState();
  for (const [version, extra] of Object.entries(builds)) {
    const record = buildRecord(version, extra);
    state.builds[version] = record;
    if (record.retired_at !== null) {
      markConfirmed(state.lifecycle, { version, channel: record.channel }, {
        at: record.retired_at,
      });
    }
  }
  return state;
}

async function stateOf(layout: Layout): Promise<State> {
  const { state, problem } = await readState(layout);
  assert.equal(problem, null);
  return state;
}

async function setup(dir: TempDir, spec: Parameters<typeof makeRoot>[1]): Promise<Layout> {
  return await makeRoot(dir.path, spec);
}

// --- layout --------------------------------------------------------------------------------

Deno.test("layoutOf and buildDir name the paths of an install root", () => {
  assert.deepEqual(layoutOf("/opt/ms11"), {
    root: "/opt/ms11",
    builds: "/opt/ms11/builds",
    current: "/opt/ms11/current",
    state: "/opt/ms11/state.json",
    trust: "/opt/ms11/trust.json",
    trustBackup: "/opt/ms11/trust.json.bak",
    downloads: "/opt/ms11/downloads",
    data: "/opt/ms11/data",
    lock: "/opt/ms11/lock",
    audit: "/opt/ms11/logs/audit.jsonl",
  });
  assert.equal(buildDir(layoutOf("/r"), "1.5.0-canary.3"), "/r/builds/1.5.0-canary.3");
});

Deno.test("currentVersion reads the current link", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  assert.equal(await currentVersion(layout), null);
  assert.equal(await currentVersion(layoutOf(`${dir.path}/missing`)), null);
  await Deno.symlink("builds/1.2.0", layout.current);
  // The link is read, not followed: a dangling link still names its version.
  assert.equal(await currentVersion(layout), "1.2.0");
});

// --- switchCurrent, recordSwap -------------------------------------------------------------

Deno.test("switchCurrent points current at the build with a relative link", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0"] });
  await switchCurrent(layout, "1.0.0");
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.equal(await Deno.readTextFile(`${layout.current}/ms11`), "MS11 1.0.0\n");
  await switchCurrent(layout, "1.1.0");
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  assert.equal(await currentVersion(layout), "1.1.0");
  // The root still resolves when moved (the link is relative).
  const moved = `${dir.path}/moved`;
  await Deno.rename(layout.root, moved);
  assert.equal(await Deno.readTextFile(`${moved}/current/ms11`), "MS11 1.1.0\n");
  await Deno.rename(moved, layout.root);
  // No temporary link left behind.
  assert.deepEqual(await namesIn(layout.root), ["builds", "current", "state.json"]);
});

Deno.test("switchCurrent refuses a missing build and leaves current alone", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, { builds: ["1.0.0"], current: "1.0.0" });
  await rejectsWith(
    switchCurrent(layout, "2.0.0"),
    Error,
    `Cannot switch to 2.0.0: build ${layout.builds}/2.0.0 is missing`,
  );
  await Deno.writeTextFile(`${layout.builds}/3.0.0`, "a file, not a build");
  await rejectsWith(
    switchCurrent(layout, "3.0.0"),
    Error,
    `Cannot switch to 3.0.0: build ${layout.builds}/3.0.0 is missing`,
  );
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.deepEqual(await namesIn(layout.root), ["builds", "current", "state.json"]);
});

Deno.test("recordSwap retires the old build and un-retires the new one", () => {
  const state = stateWith({ "1.0.0": {}, "1.1.0": { retired_at: T1 } });
  recordSwap(state, { from: "1.0.0", to: "1.1.0", at: T3 });
  assert.equal(state.builds["1.0.0"].retired_at, T3);
  assert.equal(state.builds["1.1.0"].retired_at, null);
  // Same version: nothing retires.
  recordSwap(state, { from: "1.1.0", to: "1.1.0", at: NOW.toISOString() });
  assert.equal(state.builds["1.1.0"].retired_at, null);
  // Nothing before, and builds without records.
  recordSwap(state, { from: null, to: "1.0.0", at: NOW.toISOString() });
  assert.equal(state.builds["1.0.0"].retired_at, null);
  recordSwap(state, { from: "0.9.0", to: "2.0.0", at: NOW.toISOString() });
  assert.deepEqual(Object.keys(state.builds).sort(), ["1.0.0", "1.1.0"]);
});

// --- applyStaged ---------------------------------------------------------------------------

Deno.test("applyStaged with nothing staged on an empty root returns at once and writes nothing", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(`${dir.path}/root`);
  assert.deepEqual(await applyStaged(layout, { now: NOW }), {
    applied: false,
    from: null,
    to: null,
    pruned: [],
    problem: null,
  });
  assert.deepEqual(await namesIn(dir.path), []);
});

Deno.test("applyStaged with nothing staged changes nothing and takes no lock", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"],
    current: "1.3.0",
  });
  const before = await snapshot(layout.root);
  // Even while another command holds the lock, a launch with nothing staged is not blocked.
  using _held = await acquireLock(layout);
  const withLock = await snapshot(layout.root);
  assert.deepEqual(await applyStaged(layout, { now: NOW, keepBackups: 0 }), {
    applied: false,
    from: "1.3.0",
    to: "1.3.0",
    pruned: [],
    problem: null,
  });
  // Nothing pruned without an apply either.
  assert.deepEqual(await snapshot(layout.root), withLock);
  const noLock = { lock: undefined, "lock.guard": undefined };
  assert.deepEqual({ ...withLock, ...noLock }, { ...before, ...noLock });
});

Deno.test("applyStaged with nothing staged reports a state problem without repairing it", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, { builds: ["1.0.0"], current: "1.0.0" });
  await Deno.writeTextFile(layout.state, "{ garbage");
  const result = await applyStaged(layout, { now: NOW });
  assert.deepEqual(result, {
    applied: false,
    from: "1.0.0",
    to: "1.0.0",
    pruned: [],
    problem: `State file ${layout.state} is not valid JSON; starting afresh`,
  });
  assert.equal(await Deno.readTextFile(layout.state), "{ garbage");
});

Deno.test("applyStaged swaps in the staged build and records it", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": { installed_at: T1 }, "1.1.0": { installed_at: T2 } });
  state.staged = { version: "1.1.0", channel: "stable", staged_at: T2 };
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0"], current: "1.0.0", state });
  const data = await addUserData(layout);
  assert.deepEqual(await applyStaged(layout, { now: NOW }), {
    applied: true,
    from: "1.0.0",
    to: "1.1.0",
    pruned: [],
    problem: null,
    trial: { version: "1.1.0", attempts: 1, max_attempts: 3 },
  });
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  assert.equal(await Deno.readTextFile(`${layout.current}/ms11`), "MS11 1.1.0\n");
  const after = await stateOf(layout);
  assert.equal(after.staged, null);
  assert.equal(after.builds["1.0.0"].retired_at, NOW.toISOString());
  assert.equal(after.builds["1.1.0"].retired_at, null);
  assert.equal(after.builds["1.0.0"].installed_at, T1);
  // The old build is kept as a backup; user data untouched; no leftovers.
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0", "1.1.0"]);
  assert.deepEqual(await snapshot(layout.data), data);
  assert.deepEqual(await namesIn(layout.root), [
    "builds",
    "current",
    "data",
    "lock",
    "lock.guard",
    "logs",
    "state.json",
  ]);
  const audit = (await Deno.readTextFile(layout.audit)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(audit.map((e) => [e.event, e.from, e.to]), [["applied", "1.0.0", "1.1.0"]]);
  // A second apply has nothing to swap; it counts a launch of the build on trial.
  assert.deepEqual(await applyStaged(layout, { now: NOW }), {
    applied: false,
    from: "1.1.0",
    to: "1.1.0",
    pruned: [],
    problem: null,
    trial: { version: "1.1.0", attempts: 2, max_attempts: 3 },
  });
});

Deno.test("applyStaged on a root with nothing current makes the staged build current", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": {} });
  state.staged = { version: "1.0.0", channel: "stable", staged_at: T1 };
  const layout = await setup(dir, { builds: ["1.0.0"], state });
  assert.deepEqual(await applyStaged(layout, { now: NOW }), {
    applied: true,
    from: null,
    to: "1.0.0",
    pruned: [],
    problem: null,
  });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.equal((await stateOf(layout)).staged, null);
});

Deno.test("applyStaged prunes backups beyond keepBackups, oldest first, never user data", async () => {
  await using dir = await tempDir();
  // Retired in the order 1.2.0 (oldest), 1.0.0, 1.1.0: age is by retirement, not by version.
  const state = stateWith({
    "1.0.0": { retired_at: T2 },
    "1.1.0": { retired_at: T3 },
    "1.2.0": { retired_at: T1 },
    "1.3.0": {},
    "1.4.0": {},
  });
  state.staged = { version: "1.4.0", channel: "stable", staged_at: T3 };
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"],
    current: "1.3.0",
    state,
  });
  // Things in builds/ that are not builds are left alone; a killed staging's leftover is swept.
  await Deno.writeTextFile(`${layout.builds}/README`, "keep me");
  await Deno.mkdir(`${layout.builds}/.staging-9.9.9-x`);
  const data = await addUserData(layout);
  const result = await applyStaged(layout, { now: NOW, keepBackups: 2 });
  assert.deepEqual(result, {
    applied: true,
    from: "1.3.0",
    to: "1.4.0",
    pruned: ["1.0.0", "1.2.0"],
    problem: null,
    trial: { version: "1.4.0", attempts: 1, max_attempts: 3 },
  });
  assert.deepEqual(await namesIn(layout.builds), ["1.1.0", "1.3.0", "1.4.0", "README"]);
  const after = await stateOf(layout);
  assert.deepEqual(Object.keys(after.builds).sort(), ["1.1.0", "1.3.0", "1.4.0"]);
  assert.equal(after.builds["1.3.0"].retired_at, NOW.toISOString());
  assert.deepEqual(await snapshot(layout.data), data);
  assert.equal(await Deno.readLink(layout.current), "builds/1.4.0");
});

Deno.test("applyStaged keeps 2 backups by default, and with keepBackups 0 only the trial's fallback", async () => {
  // The build replaced (1.1.0) is the fallback of 1.2.0 on trial: kept until 1.2.0 is confirmed.
  const cases = [[undefined, ["1.0.0", "1.1.0", "1.2.0"]], [0, ["1.1.0", "1.2.0"]]] as const;
  for (const [keep, left] of cases) {
    await using dir = await tempDir();
    const state = stateWith({
      "0.9.0": { retired_at: T1 },
      "1.0.0": { retired_at: T2 },
      "1.1.0": {},
      "1.2.0": {},
    });
    state.staged = { version: "1.2.0", channel: "stable", staged_at: T3 };
    const layout = await setup(dir, {
      builds: ["0.9.0", "1.0.0", "1.1.0", "1.2.0"],
      current: "1.1.0",
      state,
    });
    await applyStaged(layout, { now: NOW, keepBackups: keep });
    assert.deepEqual(await namesIn(layout.builds), left);
    assert.deepEqual(Object.keys((await stateOf(layout)).builds).sort(), left);
  }
});

Deno.test("applyStaged: a missing staged build is an error, and staged is cleared", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": {} });
  state.staged = { version: "1.1.0", channel: "stable", staged_at: T2 };
  const layout = await setup(dir, { builds: ["1.0.0"], current: "1.0.0", state });
  const message = `Staged build 1.1.0 is missing from ${layout.builds}; nothing applied`;
  await rejectsWith(applyStaged(layout, { now: NOW }), Error, message);
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  const after = await stateOf(layout);
  assert.equal(after.staged, null);
  assert.deepEqual(after.last_error, { at: NOW.toISOString(), command: "apply", message });
  assert.equal(after.builds["1.0.0"].retired_at, null);
  // The next launch starts normally.
  assert.equal((await applyStaged(layout, { now: NOW })).applied, false);
});

Deno.test("applyStaged is idempotent when current already is the staged build", async () => {
  await using dir = await tempDir();
  // An apply interrupted after the swap, before the state write.
  const state = stateWith({ "1.0.0": {}, "1.1.0": {} });
  state.staged = { version: "1.1.0", channel: "stable", staged_at: T2 };
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0"], current: "1.1.0", state });
  const result = await applyStaged(layout, { now: NOW });
  assert.deepEqual(result, {
    applied: false,
    from: "1.1.0",
    to: "1.1.0",
    pruned: [],
    problem: null,
  });
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  const after = await stateOf(layout);
  assert.equal(after.staged, null);
  assert.equal(after.builds["1.1.0"].retired_at, null);
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0", "1.1.0"]);
});

Deno.test("applyStaged with a staged build waits for, or fails on, a held lock", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": {}, "1.1.0": {} });
  state.staged = { version: "1.1.0", channel: "stable", staged_at: T2 };
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0"], current: "1.0.0", state });
  const before = await bytesOf(layout.state);
  {
    using _held = await acquireLock(layout);
    await rejectsWith(
      applyStaged(layout, { now: NOW }),
      LockHeldError,
      `Install lock ${layout.lock} is held by another ms11-update (pid ${Deno.pid}); try again when it finishes`,
    );
    assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
    assert.deepEqual(await bytesOf(layout.state), before);
  }
  assert.equal((await applyStaged(layout, { now: NOW })).applied, true);
});

Deno.test("applyStaged passes a state problem on", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0"], current: "1.0.0" });
  const raw = {
    schema: 1,
    staged: { version: "1.1.0", channel: "stable", staged_at: T2 },
    builds: { "1.0.0": buildRecord("1.0.0"), "1.1.0": "junk" },
  };
  await Deno.writeTextFile(layout.state, JSON.stringify(raw));
  const result = await applyStaged(layout, { now: NOW });
  assert.equal(result.applied, true);
  assert.equal(
    result.problem,
    `State file ${layout.state} had unreadable entries (builds.1.1.0); they were ignored`,
  );
});

// --- listBackups, pruneBackups -------------------------------------------------------------

Deno.test("listBackups: newest retired first, then never-current by install time, then version", async () => {
  await using dir = await tempDir();
  const state = stateWith({
    "1.0.0": { retired_at: T1, channel: "canary" },
    "1.1.0": { retired_at: T3 },
    "1.2.0": { installed_at: T1 },
    "1.3.0": { installed_at: T2 },
    "2.0.0": {},
  });
  state.staged = { version: "2.0.0", channel: "stable", staged_at: T3 };
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.9.0", "1.10.0", "2.0.0", "3.0.0"],
    current: "3.0.0",
    state,
    records: false,
  });
  await Deno.mkdir(`${layout.builds}/.trash-1.0.0-1`);
  await Deno.mkdir(`${layout.builds}/not a version`);
  await Deno.writeTextFile(`${layout.builds}/4.0.0`, "a file");
  const backups = await listBackups(layout, state);
  assert.deepEqual(backups, [
    {
      version: "1.1.0",
      channel: "stable",
      installed_at: buildRecord("x").installed_at,
      retired_at: T3,
    },
    {
      version: "1.0.0",
      channel: "canary",
      installed_at: buildRecord("x").installed_at,
      retired_at: T1,
    },
    { version: "1.3.0", channel: "stable", installed_at: T2, retired_at: null },
    { version: "1.2.0", channel: "stable", installed_at: T1, retired_at: null },
    // No records: by version, numerically.
    { version: "1.10.0", channel: null, installed_at: null, retired_at: null },
    { version: "1.9.0", channel: null, installed_at: null, retired_at: null },
  ]);
});

Deno.test("listBackups of a root without builds is empty", async () => {
  await using dir = await tempDir();
  assert.deepEqual(await listBackups(layoutOf(`${dir.path}/none`), emptyState()), []);
});

Deno.test("pruneBackups removes the oldest beyond keep, with their records", async () => {
  await using dir = await tempDir();
  const state = stateWith({
    "1.0.0": { retired_at: T1 },
    "1.1.0": { retired_at: T2 },
    "1.2.0": { retired_at: T3 },
    "1.3.0": {},
  });
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"],
    current: "1.3.0",
    state,
  });
  const data = await addUserData(layout);
  assert.deepEqual(await pruneBackups(layout, state, { keep: 1 }), ["1.1.0", "1.0.0"]);
  assert.deepEqual(await namesIn(layout.builds), ["1.2.0", "1.3.0"]);
  assert.deepEqual(Object.keys(state.builds).sort(), ["1.2.0", "1.3.0"]);
  // The records are gone on disk too.
  assert.deepEqual(Object.keys((await stateOf(layout)).builds).sort(), ["1.2.0", "1.3.0"]);
  assert.deepEqual(await snapshot(layout.data), data);
  assert.equal(await Deno.readLink(layout.current), "builds/1.3.0");
});

Deno.test("pruneBackups with nothing to prune writes nothing", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": { retired_at: T1 }, "1.1.0": {} });
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0"], current: "1.1.0", state });
  const before = await snapshot(layout.root);
  assert.deepEqual(await pruneBackups(layout, state, { keep: 1 }), []);
  assert.deepEqual(await pruneBackups(layout, state, { keep: 5 }), []);
  assert.deepEqual(await snapshot(layout.root), before);
});

Deno.test("pruneBackups never removes the current or the staged build", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": { retired_at: T1 }, "1.1.0": {}, "1.2.0": {} });
  state.staged = { version: "1.2.0", channel: "stable", staged_at: T2 };
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0", "1.2.0"],
    current: "1.1.0",
    state,
  });
  assert.deepEqual(await pruneBackups(layout, state, { keep: 0 }), ["1.0.0"]);
  assert.deepEqual(await namesIn(layout.builds), ["1.1.0", "1.2.0"]);
});

// --- rollback ------------------------------------------------------------------------------

/** Root with 1.0.0 (retired T2), 1.1.0 (retired T1, so older), and 1.2.0 current. */
async function rollbackRoot(dir: TempDir, staged?: string): Promise<Layout> {
  const state = stateWith({
    "1.0.0": { retired_at: T2 },
    "1.1.0": { retired_at: T1 },
    "1.2.0": { channel: "canary" },
  });
  const builds = ["1.0.0", "1.1.0", "1.2.0"];
  if (staged !== undefined) {
    state.builds[staged] = buildRecord(staged);
    state.staged = { version: staged, channel: "stable", staged_at: T3 };
    builds.push(staged);
  }
  return await setup(dir, { builds, current: "1.2.0", state });
}

Deno.test("rollback restores the newest backup that ran healthy and holds the old version back", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir);
  const data = await addUserData(layout);
  assert.deepEqual(await rollback(layout, { now: NOW }), {
    from: "1.2.0",
    to: "1.0.0",
    cancelledStaged: null,
    skipped: [],
    rejected: false,
    held: true,
    onTrial: false,
  });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  const state = await stateOf(layout);
  assert.equal(state.builds["1.2.0"].retired_at, NOW.toISOString());
  assert.equal(state.builds["1.0.0"].retired_at, null);
  assert.equal(state.builds["1.1.0"].retired_at, T1);
  // Rolled back from by hand: not bad, but updates skip it until a newer release.
  assert.deepEqual(rejectedBuilds(state.lifecycle), []);
  assert.equal(
    skipReason(state.lifecycle, { version: "1.2.0", channel: "canary" }),
    "rolled back to 1.0.0 by hand",
  );
  assert.equal(state.trial, undefined);
  // Nothing removed: the rolled-back-from build stays as a backup.
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0", "1.1.0", "1.2.0"]);
  assert.deepEqual(await snapshot(layout.data), data);
});

Deno.test("rollback --to restores a named backup, with a given reason", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir);
  assert.deepEqual(
    await rollback(layout, { to: "1.1.0", now: NOW, reason: "crashes at start" }),
    {
      from: "1.2.0",
      to: "1.1.0",
      cancelledStaged: null,
      skipped: [],
      rejected: false,
      held: true,
      onTrial: false,
    },
  );
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  const state = await stateOf(layout);
  assert.deepEqual(rejectedBuilds(state.lifecycle), []);
  assert.equal(
    skipReason(state.lifecycle, { version: "1.2.0", channel: "canary" }),
    "crashes at start",
  );
});

Deno.test("rollback --reject marks the build rolled back from as bad", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir);
  const result = await rollback(layout, { now: NOW, reject: true });
  assert.deepEqual([result.to, result.rejected], ["1.0.0", true]);
  const state = await stateOf(layout);
  assert.deepEqual(rejectedBuilds(state.lifecycle), [
    {
      version: "1.2.0",
      channel: "canary",
      reason: "rejected by hand (rolled back to 1.0.0)",
      at: NOW.toISOString(),
    },
  ]);
  assert.equal((await readAudit(layout)).at(-1)?.bad, true);
});

Deno.test("rollback --to a rejected build puts it on trial again, falling back to the build it replaced", async () => {
  await using dir = await tempDir();
  const state = stateWith({
    "1.0.0": { retired_at: T1 },
    "1.1.0": { retired_at: T2 },
    "1.2.0": {},
  });
  markRejected(state.lifecycle, { version: "1.1.0", channel: "stable" }, {
    at: T2,
    reason: "1.1.0 crashed",
  });
  markConfirmed(state.lifecycle, { version: "1.2.0", channel: "stable" }, { at: T3 });
  const layout = await setup(dir, { builds: ["1.0.0", "1.1.0", "1.2.0"], current: "1.2.0", state });
  // A plain rollback passes over the rejected build and says so.
  const plain = await rollback(layout, { now: NOW });
  assert.deepEqual(plain.skipped, [{ version: "1.1.0", why: "rejected: 1.1.0 crashed" }]);
  assert.equal(plain.to, "1.0.0");
  // Bringing it back by name: on trial, its rejection replaced by the trial.
  const back = await rollback(layout, { to: "1.1.0", now: NOW });
  assert.deepEqual([back.to, back.onTrial], ["1.1.0", true]);
  const after = await stateOf(layout);
  assert.deepEqual(after.trial, {
    version: "1.1.0",
    from: "1.0.0",
    channel: "stable",
    started_at: NOW.toISOString(),
    attempts: 0,
  });
  assert.deepEqual(rejectedBuilds(after.lifecycle), []);
});

Deno.test("rollback --to an unknown backup lists the backups there are", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir);
  const before = await snapshot(layout.root);
  await rejectsWith(
    rollback(layout, { to: "0.9.0", now: NOW }),
    RangeError,
    `No backup 0.9.0 in ${layout.root} (backups: 1.0.0, 1.1.0)`,
  );
  await rejectsWith(
    rollback(layout, { to: "1.2.0", now: NOW }),
    RangeError,
    "1.2.0 is already the current build",
  );
  const lock = { lock: "", "lock.guard": "" };
  assert.deepEqual({ ...await snapshot(layout.root), ...lock }, { ...before, ...lock });
});

Deno.test("rollback with no backups is a RangeError", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, { builds: ["1.0.0"], current: "1.0.0" });
  await rejectsWith(
    rollback(layout, { now: NOW }),
    RangeError,
    `No backup that last ran healthy in ${layout.root} (there are no backups)`,
  );
  await rejectsWith(
    rollback(layout, { to: "0.9.0", now: NOW }),
    RangeError,
    `No backup 0.9.0 in ${layout.root} (backups: none)`,
  );
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
});

Deno.test("rollback with nothing installed is an error", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, { builds: ["1.0.0"] });
  await rejectsWith(
    rollback(layout, { now: NOW }),
    Error,
    `Nothing is installed in ${layout.root}; nothing to roll back`,
  );
});

Deno.test("rollback cancels a staged build so the next launch does not undo it", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir, "1.3.0");
  assert.deepEqual(await rollback(layout, { now: NOW }), {
    from: "1.2.0",
    to: "1.0.0",
    cancelledStaged: "1.3.0",
    skipped: [],
    rejected: false,
    held: true,
    onTrial: false,
  });
  const state = await stateOf(layout);
  assert.equal(state.staged, null);
  // …and the next update does not stage it again either.
  assert.equal(
    skipReason(state.lifecycle, { version: "1.3.0", channel: "stable" }),
    "cancelled by the rollback to 1.0.0",
  );
  const next = await applyStaged(layout, { now: NOW });
  assert.equal(next.applied, false);
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
});

Deno.test("rollback --reject replaces an earlier record of the same build, not another channel's", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir);
  const state = await stateOf(layout);
  markRejected(state.lifecycle, { version: "1.2.0", channel: "canary" }, { at: T1, reason: "old" });
  markRejected(state.lifecycle, { version: "1.2.0", channel: "stable" }, {
    at: T1,
    reason: "other channel",
  });
  delete state.builds["1.0.0"]; // a backup without a record still works
  await Deno.writeTextFile(layout.state, JSON.stringify(state));
  await rollback(layout, { to: "1.0.0", now: NOW, reject: true });
  assert.deepEqual(rejectedBuilds((await stateOf(layout)).lifecycle), [
    {
      version: "1.2.0",
      channel: "canary",
      reason: "rejected by hand (rolled back to 1.0.0)",
      at: NOW.toISOString(),
    },
    { version: "1.2.0", channel: "stable", reason: "other channel", at: T1 },
  ]);
});

Deno.test("rollback from a build without a record holds it back on channel unknown", async () => {
  await using dir = await tempDir();
  const state = stateWith({ "1.0.0": { retired_at: T1 } });
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0"],
    current: "1.1.0",
    state,
    records: false,
  });
  await rollback(layout, { now: NOW });
  const after = await stateOf(layout);
  assert.deepEqual(rejectedBuilds(after.lifecycle), []);
  assert.equal(
    skipReason(after.lifecycle, { version: "1.1.0", channel: "unknown" }),
    "rolled back to 1.0.0 by hand",
  );
});

Deno.test("rollback fails on a held lock and changes nothing", async () => {
  await using dir = await tempDir();
  const layout = await rollbackRoot(dir);
  const before = await bytesOf(layout.state);
  using _held = await acquireLock(layout);
  await rejectsWith(rollback(layout, { now: NOW }), LockHeldError, /is held by another/);
  assert.equal(await Deno.readLink(layout.current), "builds/1.2.0");
  assert.deepEqual(await bytesOf(layout.state), before);
});

Deno.test({
  name: "rollback without --to only restores a build that last ran healthy, naming the others",
  async fn() {
    const state = stateWith({
      "1.0.0": {},
      "1.1.0": { installed_at: T2 },
      "1.2.0": {},
      "1.3.0": { retired_at: T3 },
      "1.4.0": { retired_at: T2 },
    });
    state.staged = { version: "1.2.0", channel: "stable", staged_at: T3 };
    markRejected(state.lifecycle, { version: "1.3.0", channel: "stable" }, {
      at: T3,
      reason: "1.3.0 crashed",
    });
    state.lifecycle.find((r) => r.version === "1.4.0")!.state = "trial"; // left unconfirmed
    await using dir = await tempDir();
    const layout = await setup(dir, {
      builds: ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"],
      current: "1.0.0",
      state,
    });
    await rejectsWith(
      rollback(layout, { now: NOW }),
      RangeError,
      `No backup that last ran healthy in ${layout.root} (1.3.0: rejected: 1.3.0 crashed; 1.4.0: never confirmed healthy; 1.1.0: never ran); name one with --to`,
    );
    assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  },
});

Deno.test("rolling back twice goes further back instead of flipping to the build rolled back from", async () => {
  await using dir = await tempDir();
  const layout = await setup(dir, {
    builds: ["1.0.0", "1.1.0", "1.2.0"],
    current: "1.2.0",
    state: stateWith({ "1.0.0": { retired_at: T1 }, "1.1.0": { retired_at: T2 }, "1.2.0": {} }),
  });
  const first = await rollback(layout, { now: NOW });
  assert.deepEqual([first.from, first.to], ["1.2.0", "1.1.0"]);
  const second = await rollback(layout, { now: new Date(NOW.getTime() + 1000) });
  assert.deepEqual([second.from, second.to], ["1.1.0", "1.0.0"]);
  assert.deepEqual(second.skipped, [
    { version: "1.2.0", why: "held back: rolled back to 1.1.0 by hand" },
  ]);
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  const state = await stateOf(layout);
  assert.deepEqual(rejectedBuilds(state.lifecycle), []);
  assert.deepEqual(
    ["1.2.0", "1.1.0"].map((v) => skipReason(state.lifecycle, { version: v, channel: "stable" })),
    ["rolled back to 1.1.0 by hand", "rolled back to 1.0.0 by hand"],
  );
});

// --- renames across filesystems --------------------------------------------------------------

const SHM = "/dev/shm";
const otherDevice = await (async () => {
  const shm = await Deno.stat(SHM).catch(() => null);
  const probe = await Deno.makeTempDir();
  const tmp = await Deno.stat(probe);
  await Deno.remove(probe);
  return shm !== null && shm.dev !== tmp.dev;
})();

Deno.test({
  name: "a rename across filesystems is an error naming both paths, never a copy",
  ignore: !otherDevice,
  async fn() {
    await using dir = await tempDir();
    const from = await Deno.makeTempFile({ dir: SHM, prefix: "ms11-exdev-" });
    try {
      await Deno.writeTextFile(from, "build");
      const to = `${dir.path}/moved`;
      await rejectsWith(
        renameDurable(from, to),
        Error,
        `Cannot move ${from} to ${to}: they are on different filesystems`,
      );
      assert.equal(await Deno.readTextFile(from), "build", "the source is left alone");
      assert.equal(await bytesOf(to), null, "nothing was copied");
    } finally {
      await Deno.remove(from).catch(() => {});
    }
  },
});
