// lib/root/health.ts and the health-gated parts of lib/root/swap.ts and lib/root/rollback.ts: builds on
// trial, confirm, automatic rollback after max_attempts, smoke tests, seals, bad builds, and
// recovery of an interrupted (journaled) swap.
import assert from "node:assert/strict";
import { rejectedBuilds } from "../lib/root/lifecycle.ts";
import { readAudit } from "../lib/root/audit.ts";
import { decideUpdate } from "../lib/core/channel.ts";
import { confirmBuild, type ExitFacts, judgeExit } from "../lib/root/health.ts";
import { buildDir, type Layout } from "../lib/root/layout.ts";
import { abandonTrial } from "../lib/root/rollback.ts";
import { emptyState, readState, type State, writeState } from "../lib/root/state.ts";
import { applyStaged, recoverSwap, settleJournal } from "../lib/root/swap.ts";
import { treeDigest } from "../lib/root/seal.ts";
import { buildRecord, makeRoot, namesIn, processGone, tempDir } from "./_helpers.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");
const T1 = "2026-11-10T00:00:00.000Z";

async function stateOf(layout: Layout): Promise<State> {
  const { state, problem } = await readState(layout);
  assert.equal(problem, null);
  return state;
}

/** A root with 1.0.0 current and 1.1.0 staged (sealed), both real scripts. */
async function stagedRoot(dir: string, script11 = 'echo "MS11 1.1.0"'): Promise<Layout> {
  const state = emptyState();
  state.builds["1.0.0"] = buildRecord("1.0.0");
  state.builds["1.1.0"] = buildRecord("1.1.0");
  state.staged = { version: "1.1.0", channel: "stable", staged_at: T1 };
  const layout = await makeRoot(dir, { builds: ["1.0.0", "1.1.0"], current: "1.0.0", state });
  for (const [v, body] of [["1.0.0", 'echo "MS11 1.0.0"'], ["1.1.0", script11]]) {
    await Deno.writeTextFile(`${buildDir(layout, v)}/ms11`, `#!/bin/sh\n${body}\n`);
    await Deno.chmod(`${buildDir(layout, v)}/ms11`, 0o755);
  }
  state.builds["1.1.0"].tree_sha256 = await treeDigest(buildDir(layout, "1.1.0"));
  await writeState(layout, state);
  return layout;
}

const SMOKE = { executable: "ms11", args: ["--version"], timeoutMs: 10_000 };

// --- trial, confirm, automatic rollback ------------------------------------------------------

Deno.test("an applied build goes on trial; each launch counts; confirm commits it", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  const applied = await applyStaged(layout, { now: NOW, smoke: SMOKE, maxAttempts: 3 });
  assert.equal(applied.applied, true);
  assert.deepEqual(applied.trial, { version: "1.1.0", attempts: 1, max_attempts: 3 });
  assert.deepEqual((await stateOf(layout)).trial, {
    version: "1.1.0",
    from: "1.0.0",
    channel: "stable",
    started_at: NOW.toISOString(),
    attempts: 1,
  });
  const second = await applyStaged(layout, { now: NOW, maxAttempts: 3 });
  assert.deepEqual(second.trial, { version: "1.1.0", attempts: 2, max_attempts: 3 });
  const confirmed = await confirmBuild(layout, { now: NOW });
  assert.deepEqual(confirmed, { confirmed: "1.1.0", current: "1.1.0", attempts: 2, pruned: [] });
  assert.equal((await stateOf(layout)).trial, undefined);
  // Confirmed: launches no longer count, and nothing rolls back.
  for (let i = 0; i < 5; i++) {
    const r = await applyStaged(layout, { now: NOW, maxAttempts: 3 });
    assert.deepEqual(r, { applied: false, from: "1.1.0", to: "1.1.0", pruned: [], problem: null });
  }
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  // Confirming again is harmless.
  assert.equal((await confirmBuild(layout)).confirmed, null);
  const events = (await readAudit(layout)).map((e) => e.event);
  assert.deepEqual(events, ["applied", "trial_launch", "confirmed"]);
});

Deno.test("a build never confirmed is rolled back after max_attempts launches and not staged again", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  await applyStaged(layout, { now: NOW, maxAttempts: 3 }); // launch 1
  await applyStaged(layout, { now: NOW, maxAttempts: 3 }); // launch 2
  await applyStaged(layout, { now: NOW, maxAttempts: 3 }); // launch 3
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  const reason = "1.1.0 was not confirmed healthy after 3 launches (health.max_attempts 3)";
  const fourth = await applyStaged(layout, { now: NOW, maxAttempts: 3 });
  assert.deepEqual(fourth.rolledBack, { from: "1.1.0", to: "1.0.0", reason });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  const state = await stateOf(layout);
  assert.equal(state.trial, undefined);
  assert.equal(state.journal, undefined);
  assert.deepEqual(rejectedBuilds(state.lifecycle), [
    { version: "1.1.0", channel: "stable", reason, at: NOW.toISOString() },
  ]);
  // The bad build is kept as a backup, but the channel's same release is not staged again…
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0", "1.1.0"]);
  const again = decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle: state.lifecycle });
  assert.equal(again.action, "none");
  // …while a newer release is.
  const newer = decideUpdate("1.0.0", "1.1.1", { channel: "stable", lifecycle: state.lifecycle });
  assert.equal(newer.action, "update");
  // No crash loop: the next launches start 1.0.0 and count nothing.
  const next = await applyStaged(layout, { now: NOW, maxAttempts: 3 });
  assert.deepEqual(next, { applied: false, from: "1.0.0", to: "1.0.0", pruned: [], problem: null });
  const audit = await readAudit(layout);
  assert.deepEqual(audit.at(-1), {
    at: NOW.toISOString(),
    event: "rolled_back",
    reason,
    from: "1.1.0",
    to: "1.0.0",
    bad: true,
  });
});

Deno.test("abandonTrial rolls back the build on trial at once, and only that", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  assert.equal(await abandonTrial(layout, { reason: "x", now: NOW }), null);
  await applyStaged(layout, { now: NOW });
  const back = await abandonTrial(layout, { reason: "1.1.0 exited with code 3", now: NOW });
  assert.deepEqual(back, {
    from: "1.1.0",
    to: "1.0.0",
    cancelledStaged: null,
    skipped: [],
    rejected: true,
    held: false,
    onTrial: false,
  });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.equal(
    rejectedBuilds((await stateOf(layout)).lifecycle)[0].reason,
    "1.1.0 exited with code 3",
  );
  assert.equal(await abandonTrial(layout, { reason: "again", now: NOW }), null);
});

Deno.test("the trial's fallback is not pruned until the build is confirmed", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  const result = await applyStaged(layout, { now: NOW, keepBackups: 0 });
  assert.deepEqual(result.pruned, []);
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0", "1.1.0"]);
  const confirmed = await confirmBuild(layout, { now: NOW, keepBackups: 0 });
  assert.deepEqual(confirmed.pruned, ["1.0.0"]);
  assert.deepEqual(await namesIn(layout.builds), ["1.1.0"]);
});

// --- smoke test and seal ----------------------------------------------------------------------

Deno.test("a staged build failing its smoke test is not swapped in, is removed and remembered as bad", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path, 'echo "broken" >&2; exit 7');
  const result = await applyStaged(layout, { now: NOW, smoke: SMOKE });
  const reason = "smoke test ms11 --version exited with code 7";
  assert.deepEqual(result, {
    applied: false,
    from: "1.0.0",
    to: "1.0.0",
    pruned: [],
    problem: null,
    refused: { version: "1.1.0", reason },
  });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0"]);
  const state = await stateOf(layout);
  assert.equal(state.staged, null);
  assert.equal(state.builds["1.1.0"], undefined);
  assert.deepEqual(rejectedBuilds(state.lifecycle), [
    { version: "1.1.0", channel: "stable", reason, at: NOW.toISOString() },
  ]);
  assert.equal(state.last_error?.message, `Staged build 1.1.0 was not applied: ${reason}`);
  const again = decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle: state.lifecycle });
  assert.equal(again.action, "none");
});

Deno.test("a smoke test that hangs is stopped at its timeout", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path, "exec sleep 30");
  const result = await applyStaged(layout, { now: NOW, smoke: { ...SMOKE, timeoutMs: 200 } });
  assert.equal(result.refused?.reason, "smoke test ms11 --version did not finish within 0.2 s");
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
});

Deno.test("a smoke test's timeout also ends what the build started", async () => {
  await using dir = await tempDir();
  const pidFile = `${dir.path}/forked.pid`;
  const layout = await stagedRoot(dir.path, `sleep 30 & echo $! > '${pidFile}'; exec sleep 30`);
  const result = await applyStaged(layout, { now: NOW, smoke: { ...SMOKE, timeoutMs: 300 } });
  assert.equal(result.refused?.reason, "smoke test ms11 --version did not finish within 0.3 s");
  assert.ok(await processGone(pidFile), "the build's forked process outlived the smoke test");
});

Deno.test("a staged build changed after it was sealed is refused, not remembered as bad", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  const sealed = (await stateOf(layout)).builds["1.1.0"].tree_sha256;
  await Deno.writeTextFile(`${buildDir(layout, "1.1.0")}/ms11`, "#!/bin/sh\necho evil\n");
  const now = await treeDigest(buildDir(layout, "1.1.0"));
  const result = await applyStaged(layout, { now: NOW, smoke: SMOKE });
  assert.equal(
    result.refused?.reason,
    `staged build 1.1.0 changed since it was verified (seal ${sealed}, now ${now})`,
  );
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0"]);
  assert.deepEqual(rejectedBuilds((await stateOf(layout)).lifecycle), []);
});

Deno.test("treeDigest changes with content, mode, names and links", async () => {
  await using dir = await tempDir();
  const d = `${dir.path}/b`;
  await Deno.mkdir(`${d}/lib`, { recursive: true });
  await Deno.writeTextFile(`${d}/ms11`, "a");
  await Deno.writeTextFile(`${d}/lib/x`, "b");
  const digests = new Set([await treeDigest(d)]);
  await Deno.writeTextFile(`${d}/lib/x`, "c");
  digests.add(await treeDigest(d));
  await Deno.chmod(`${d}/ms11`, 0o700);
  digests.add(await treeDigest(d));
  await Deno.rename(`${d}/lib/x`, `${d}/lib/y`);
  digests.add(await treeDigest(d));
  await Deno.symlink("ms11", `${d}/link`);
  digests.add(await treeDigest(d));
  assert.equal(digests.size, 5);
  assert.equal(await treeDigest(d), await treeDigest(d));
});

// --- journal -----------------------------------------------------------------------------------

Deno.test("settleJournal is idempotent", () => {
  const state = emptyState();
  state.builds["1.0.0"] = buildRecord("1.0.0");
  state.builds["1.1.0"] = buildRecord("1.1.0");
  state.staged = { version: "1.1.0", channel: "stable", staged_at: T1 };
  const journal = {
    op: "apply" as const,
    from: "1.0.0",
    to: "1.1.0",
    at: NOW.toISOString(),
    reason: "staged",
    bad: false,
  };
  state.journal = journal;
  settleJournal(state, journal);
  const once = structuredClone(state);
  settleJournal(state, journal);
  assert.deepEqual(state, once);
  assert.equal(state.staged, null);
  assert.equal(state.builds["1.0.0"].retired_at, NOW.toISOString());
  assert.equal(state.trial?.from, "1.0.0");
});

Deno.test("recoverSwap finishes an apply whose journal was written but whose rename was not", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  const state = await stateOf(layout);
  state.journal = {
    op: "apply",
    from: "1.0.0",
    to: "1.1.0",
    at: NOW.toISOString(),
    reason: "staged build swapped in at launch",
    bad: false,
  };
  await writeState(layout, state);
  // Any command recovers first; here the launcher's apply.
  const result = await applyStaged(layout, { now: NOW });
  assert.equal(result.recovered?.outcome, "finished");
  assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  const after = await stateOf(layout);
  assert.equal(after.journal, undefined);
  assert.equal(after.staged, null);
  assert.equal(after.trial?.attempts, 1, "the recovering launch is the first attempt");
});

Deno.test("recoverSwap undoes a swap whose target is gone", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0"], current: "1.0.0" });
  const state = await stateOf(layout);
  state.journal = {
    op: "rollback",
    from: "1.0.0",
    to: "0.9.0",
    at: NOW.toISOString(),
    reason: "by hand",
    bad: false,
  };
  const recovery = await recoverSwap(layout, state);
  assert.equal(recovery?.outcome, "undone");
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.equal((await stateOf(layout)).journal, undefined);
  assert.deepEqual(rejectedBuilds((await stateOf(layout)).lifecycle), []);
});

Deno.test("a damaged trial or journal is reported and ignored", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0"], current: "1.0.0" });
  const raw = JSON.parse(await Deno.readTextFile(layout.state));
  raw.trial = { version: "../x", attempts: -1 };
  raw.journal = { op: "explode" };
  await Deno.writeTextFile(layout.state, JSON.stringify(raw));
  const { state, problem } = await readState(layout);
  assert.equal(
    problem,
    `State file ${layout.state} had unreadable entries (trial, journal); they were ignored`,
  );
  assert.equal(state.trial, undefined);
  assert.equal(state.journal, undefined);
});

// --- judgeExit -------------------------------------------------------------------------------

Deno.test("judgeExit: a clean exit is health, a crash or a failure code before health is failure, the rest no verdict", () => {
  const base: ExitFacts = {
    code: 0,
    signal: null,
    signalled: false,
    onTrial: true,
    windowOver: false,
    requireConfirm: false,
    failureCodes: null,
  };
  const cases: [
    Partial<typeof base> & { signal?: string | null; failureCodes?: number[] },
    string,
    string,
  ][] = [
    [{}, "healthy", "exited cleanly (code 0)"],
    [{ code: 1 }, "failed", "exited with code 1 before its health check passed"],
    [
      { code: 139, signal: "SIGSEGV" },
      "failed",
      "crashed (SIGSEGV) before its health check passed",
    ],
    [
      { code: 134, signal: "SIGABRT" },
      "failed",
      "crashed (SIGABRT) before its health check passed",
    ],
    [{ code: 137, signal: "SIGKILL" }, "none", "was stopped by SIGKILL"],
    [
      { code: 130, signal: "SIGINT", signalled: true },
      "none",
      "was stopped by a signal passed on from the user",
    ],
    [{ code: 3, signalled: true }, "none", "was stopped by a signal passed on from the user"],
    [{ code: 1, onTrial: false }, "none", "is not on trial"],
    // The distribution declares which codes are failures; the others are no verdict.
    [
      { code: 70, failureCodes: [70, 134] },
      "failed",
      "exited with code 70 before its health check passed",
    ],
    [
      { code: 2, failureCodes: [70, 134] },
      "none",
      "exited with code 2, not a failure code (health.failure_exit_codes)",
    ],
    // After the window: it ran through it.
    [{ code: 1, windowOver: true }, "healthy", "ran through its health window"],
    // Expected to confirm by itself: a clean exit is a launch without a confirm; a failure fails
    // whenever it comes before the confirm.
    [{ requireConfirm: true }, "none", "exited cleanly before it confirmed"],
    [
      { code: 134, requireConfirm: true, windowOver: true },
      "failed",
      "exited with code 134 before it confirmed",
    ],
    [
      { code: 139, signal: "SIGSEGV", requireConfirm: true },
      "failed",
      "crashed (SIGSEGV) before it confirmed",
    ],
    [
      { code: 2, requireConfirm: true, failureCodes: [70] },
      "none",
      "exited with code 2, not a failure code (health.failure_exit_codes)",
    ],
  ];
  for (const [facts, verdict, reason] of cases) {
    assert.deepEqual(judgeExit({ ...base, ...facts }), { verdict, reason }, JSON.stringify(facts));
  }
});

Deno.test("a build applied over one still on trial falls back to the last build known good", () => {
  const state = emptyState();
  for (const v of ["1.0.0", "1.1.0", "1.2.0"]) state.builds[v] = buildRecord(v);
  const at = NOW.toISOString();
  settleJournal(state, { op: "apply", from: "1.0.0", to: "1.1.0", at, reason: "", bad: false });
  assert.equal(state.trial?.from, "1.0.0");
  settleJournal(state, { op: "apply", from: "1.1.0", to: "1.2.0", at, reason: "", bad: false });
  assert.deepEqual(state.trial, {
    version: "1.2.0",
    from: "1.0.0",
    channel: "stable",
    started_at: at,
    attempts: 1,
  });
  // Once confirmed, the next build falls back to it.
  delete state.trial;
  state.builds["1.3.0"] = buildRecord("1.3.0");
  settleJournal(state, { op: "apply", from: "1.2.0", to: "1.3.0", at, reason: "", bad: false });
  assert.equal((state as State).trial?.from, "1.2.0");
});
