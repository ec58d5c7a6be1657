// The launcher's quick look (lib/root/idle.ts): it says "idle" only where the full read of the
// state (lib/root/state.ts) finds nothing to do and nothing to warn about; everywhere else it says
// "not sure", and `apply` reads the state in full as before (its warnings and refusals unchanged).
import assert from "node:assert/strict";
import { certainlyIdle, IDLE_STATE_SCHEMA } from "../lib/root/idle.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { ownerProblem } from "../lib/root/safe.ts";
import {
  applyPending,
  emptyState,
  readState,
  type State,
  STATE_SCHEMA,
  writeState,
} from "../lib/root/state.ts";
import { buildRecord, makeRoot, runDeno, tempDir } from "./_helpers.ts";

const T = "2026-11-27T09:00:00.000Z";

Deno.test("the quick look understands the state file's current schema, and no other", () => {
  // A new schema may change what "nothing to do" looks like: review lib/root/idle.ts's rules for
  // it, then move IDLE_STATE_SCHEMA along.
  assert.equal(
    IDLE_STATE_SCHEMA,
    STATE_SCHEMA,
    "lib/root/idle.ts was not reviewed for the new schema",
  );
});

/** The state file's text for each case, and whether the quick look may call it idle. */
const TEXTS: [string, string | (() => string), boolean][] = [
  ["an empty state", () => JSON.stringify(emptyState()), true],
  ["a full state with nothing pending", () => JSON.stringify(busy({ staged: null })), true],
  [
    "trial and journal written as null",
    () => JSON.stringify({ ...emptyState(), trial: null, journal: null }),
    true,
  ],
  ["a staged build", () => JSON.stringify(busy({})), false],
  ["a build on trial", () =>
    JSON.stringify(busy({
      staged: null,
      trial: { version: "1.1.0", from: "1.0.0", channel: "stable", started_at: T, attempts: 1 },
    })), false],
  ["an interrupted swap", () =>
    JSON.stringify(busy({
      staged: null,
      journal: { op: "apply", from: "1.0.0", to: "1.1.0", at: T, reason: "staged", bad: false },
    })), false],
  ["a damaged trial", () => JSON.stringify({ ...emptyState(), trial: 7 }), false],
  ["a damaged journal", () => JSON.stringify({ ...emptyState(), journal: "x" }), false],
  ["a damaged staged", () => JSON.stringify({ ...emptyState(), staged: 7 }), false],
  ["no staged field", () => JSON.stringify({ schema: 2, builds: {} }), false],
  [
    "schema 1 (converted by the full read)",
    () => JSON.stringify({ ...emptyState(), schema: 1 }),
    false,
  ],
  [
    "a newer schema (refused by the full read)",
    () => JSON.stringify({ ...emptyState(), schema: 3 }),
    false,
  ],
  ["no schema", () => JSON.stringify({ staged: null }), false],
  ["a schema written as text", () => JSON.stringify({ ...emptyState(), schema: "2" }), false],
  ["half a file", "{ half a file", false],
  ["garbage", "\u0000garbage", false],
  ["an empty file", "", false],
  ["JSON null", "null", false],
  ["a JSON array", "[]", false],
];

function busy(extra: Partial<State>): State {
  return {
    ...emptyState(),
    staged: { version: "1.1.0", channel: "stable", staged_at: T },
    builds: { "1.0.0": buildRecord("1.0.0") },
    last_check: { at: T, channel: "stable", current: "1.0.0", available: "1.1.0", decision: "x" },
    ...extra,
  };
}

Deno.test("the quick look says idle only where the full read finds nothing to do or report", async () => {
  await using dir = await tempDir();
  for (const [name, text, idle] of TEXTS) {
    const layout = layoutOf(`${dir.path}/${name.replace(/\W+/g, "-")}`);
    await Deno.mkdir(layout.root);
    await Deno.writeTextFile(layout.state, typeof text === "string" ? text : text());
    await Deno.chmod(layout.state, 0o644);
    assert.equal(await certainlyIdle(layout), idle, name);
    const full = await readState(layout).catch((error: Error) => error);
    // "Idle" must be the full read's verdict too, with nothing to warn about. ("Not sure" is
    // always allowed: the full read then decides, as it did before the quick look.)
    if (idle) {
      assert.ok(!(full instanceof Error), name);
      assert.deepEqual([applyPending(full.state), full.problem], [false, null], name);
    }
  }
});

Deno.test("the quick look: no state file is an empty state; what is not a plain file is not sure", async () => {
  await using dir = await tempDir();
  assert.equal(await certainlyIdle(layoutOf(`${dir.path}/missing`)), true); // no root at all
  const layout = await makeRoot(dir.path, { builds: ["1.0.0"], current: "1.0.0" });
  await Deno.remove(layout.state);
  assert.equal(await certainlyIdle(layout), true); // apply creates nothing: an empty state
  // A link to a good state file, a dangling link: the full read refuses both.
  await writeState(layoutOf(dir.path), emptyState());
  await Deno.symlink(`${dir.path}/state.json`, layout.state);
  assert.equal(await certainlyIdle(layout), false);
  await Deno.remove(layout.state);
  await Deno.symlink(`${dir.path}/gone.json`, layout.state);
  assert.equal(await certainlyIdle(layout), false);
  await assert.rejects(readState(layout), /is a symbolic link/);
  // A folder in its place; a root that is a file.
  await Deno.remove(layout.state);
  await Deno.mkdir(layout.state);
  assert.equal(await certainlyIdle(layout), false);
  const file = `${dir.path}/file`;
  await Deno.writeTextFile(file, "");
  assert.equal(await certainlyIdle(layoutOf(file)), false);
});

Deno.test("the quick look's owner and mode rule is lib/root/safe.ts ownerProblem's", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await writeState(layout, emptyState());
  const me = Deno.uid()!;
  const owners = [me, 0, 4242]; // this user, root, somebody else (set when the tests run as root)
  for (const uid of owners) {
    if (uid !== me && me !== 0) continue; // only root may give a file away
    await Deno.chown(layout.state, uid, null);
    for (const mode of [0o600, 0o640, 0o644, 0o660, 0o664, 0o646, 0o666, 0o602, 0o620]) {
      await Deno.chmod(layout.state, mode);
      const info = await Deno.lstat(layout.state);
      const problem = ownerProblem("State file", layout.state, info);
      assert.equal(
        await certainlyIdle(layout),
        problem === null,
        `uid ${uid} mode ${mode.toString(8)}`,
      );
      // Not sure: the full read reports it, as it did before the quick look.
      if (problem !== null) {
        assert.match((await readState(layout)).problem!, /State file .*(writable|belongs)/);
      }
    }
  }
  await Deno.chown(layout.state, me, null);
});

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../deno.json", import.meta.url).pathname;

/** Run `apply` as a launcher does (no import map), in a fresh process. */
function apply(args: string[]) {
  return runDeno(["run", "-A", "--no-config", MAIN, "apply", ...args]);
}

Deno.test("idle apply: what the quick look is not sure of still warns, and damage apply ignores is reported by status", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0"], current: "1.0.0" });
  const where = ["--root", layout.root];
  // Nothing to do: silent, and the data with --json.
  assert.deepEqual(await apply(where).then((r) => [r.code, r.stdout, r.stderr]), [0, "", ""]);
  const json = await apply(["--json", ...where]);
  assert.deepEqual(JSON.parse(json.stdout), {
    applied: false,
    from: "1.0.0",
    to: "1.0.0",
    pruned: [],
    problem: null,
  });
  // A state file others may write: the full read's warning, as before.
  await Deno.chmod(layout.state, 0o664);
  const warned = await apply(where);
  assert.equal(warned.code, 0);
  assert.equal(
    warned.stderr,
    `warning: State file ${layout.state} is writable by other users (mode 0664); commands that change the install refuse it: run chmod go-w ${layout.state}\n`,
  );
  const warnedJson = JSON.parse((await apply(["--json", ...where])).stdout);
  assert.match(warnedJson.problem, /is writable by other users/);
  await Deno.chmod(layout.state, 0o644);
  // A damaged build record, which apply does not act on: apply stays silent at launch; status
  // (and every command that changes the install) reads the whole file and says so.
  const state = JSON.parse(await Deno.readTextFile(layout.state));
  state.builds["1.0.0"] = "junk";
  await Deno.writeTextFile(layout.state, JSON.stringify(state));
  assert.deepEqual(await apply(where).then((r) => [r.code, r.stderr]), [0, ""]);
  await Deno.writeTextFile(`${dir.path}/config.json`, "{}");
  const status = await runDeno(
    [
      "run",
      "-A",
      "--config",
      DENO_JSON,
      MAIN,
      "status",
      ...where,
      "--config",
      `${dir.path}/config.json`,
    ],
  );
  assert.equal(status.code, 0, status.stderr);
  assert.ok(
    status.stderr.includes(
      `State file ${layout.state} had unreadable entries (builds.1.0.0); they were ignored`,
    ),
    status.stderr,
  );
  // A root that is a file: the same clear line as before.
  const file = `${dir.path}/file`;
  await Deno.writeTextFile(file, "");
  const refused = await apply(["--root", file]);
  assert.deepEqual([refused.code, refused.stderr], [
    1,
    `error: No install at ${file}: it is a file, not a folder\n`,
  ]);
});
