// The install's state files copied before a candidate's trial, and put back when a candidate that
// did not start left them in a schema this updater does not read (lib/self/state_copy.ts): only
// those, the trust pair together, never a file the candidate made or one this updater reads.
import assert from "node:assert/strict";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { STATE_SCHEMA } from "../lib/root/state.ts";
import { TRUST_SCHEMA } from "../lib/root/trust_state.ts";
import { copyStateFiles, restoreStateFiles, stateCopyPath } from "../lib/self/state_copy.ts";
import { hashFile } from "../lib/core/hash.ts";
import { keepArtifact } from "../lib/self/stage.ts";
import {
  emptySelfState,
  readSelfState,
  SELF_STATE_SCHEMA,
  selfPaths,
  writeSelfState,
} from "../lib/self/state.ts";
import { handOff } from "../lib/self/trial.ts";
import { tempDir } from "./_helpers.ts";

const options = { running: "0.1.0", candidate: "0.2.0", reason: "0.2.0 exited with code 70" };

Deno.test("only the files left in a newer schema are put back, the trust pair together, and it is audited", async () => {
  await using tmp = await tempDir();
  const layout = layoutOf(tmp.path);
  await Deno.mkdir(layout.builds);
  await Deno.mkdir(selfPaths(layout).dir);
  const doc = (schema: number, mark: string) => JSON.stringify({ schema, mark });
  const before = {
    state: doc(STATE_SCHEMA, "state before"),
    trust: doc(TRUST_SCHEMA, "trust before"),
    self: doc(SELF_STATE_SCHEMA, "self before"),
  };
  await Deno.writeTextFile(layout.state, before.state, { mode: 0o644 });
  await Deno.writeTextFile(layout.trust, before.trust, { mode: 0o600 });
  await Deno.chmod(layout.trust, 0o600);
  await Deno.writeTextFile(selfPaths(layout).state, before.self);
  // No trust.json.bak before the trial.
  await copyStateFiles(layout, options);

  // The candidate: the install state in a schema it reads (left), the trust file in a newer one
  // (put back), a new .bak in a newer one (made by it: removed with the pair put back), the
  // updater state newer (put back).
  const after = {
    state: doc(STATE_SCHEMA, "state after"),
    trust: doc(TRUST_SCHEMA + 1, "trust after"),
    bak: doc(TRUST_SCHEMA + 1, "bak after"),
    self: doc(SELF_STATE_SCHEMA + 1, "self after"),
  };
  await Deno.writeTextFile(layout.state, after.state);
  await Deno.writeTextFile(layout.trust, after.trust);
  await Deno.writeTextFile(layout.trustBackup, after.bak);
  await Deno.writeTextFile(selfPaths(layout).state, after.self);
  assert.deepEqual(await restoreStateFiles(layout, options), [
    "trust.json",
    "trust.json.bak",
    "updater/state.json",
  ]);
  assert.equal(await Deno.readTextFile(layout.state), after.state);
  assert.equal(await Deno.readTextFile(layout.trust), before.trust);
  assert.equal((await Deno.stat(layout.trust)).mode! & 0o777, 0o600); // its mode, as it was
  await assert.rejects(Deno.stat(layout.trustBackup), Deno.errors.NotFound);
  assert.equal(await Deno.readTextFile(selfPaths(layout).state), before.self);
  const audit = JSON.parse((await Deno.readTextFile(layout.audit)).trim());
  assert.deepEqual(
    [audit.event, audit.version, audit.running, audit.files, audit.reason],
    [
      "updater_state_restored",
      "0.2.0",
      "0.1.0",
      ["trust.json", "trust.json.bak", "updater/state.json"],
      options.reason,
    ],
  );
  await assert.rejects(Deno.stat(stateCopyPath(layout)), Deno.errors.NotFound);
});

Deno.test("a copy taken for another trial, or one this updater cannot read itself, puts nothing back", async () => {
  await using tmp = await tempDir();
  const layout = layoutOf(tmp.path);
  await Deno.mkdir(layout.builds);
  const newer = JSON.stringify({ schema: STATE_SCHEMA + 1 });

  // Taken by 0.1.0 for 0.2.0's trial; another updater, or another candidate, restores nothing.
  await Deno.writeTextFile(layout.state, JSON.stringify({ schema: STATE_SCHEMA }));
  await copyStateFiles(layout, options);
  await Deno.writeTextFile(layout.state, newer);
  assert.deepEqual(await restoreStateFiles(layout, { ...options, candidate: "0.3.0" }), []);
  assert.equal(await Deno.readTextFile(layout.state), newer);

  // The files were already newer before the trial: the copy is no better, so nothing changes.
  await copyStateFiles(layout, options);
  await Deno.writeTextFile(layout.state, JSON.stringify({ schema: STATE_SCHEMA + 2 }));
  assert.deepEqual(await restoreStateFiles(layout, options), []);
  assert.equal(await schema(layout.state), STATE_SCHEMA + 2);

  // A torn copy (a kill while it was written cannot leave one, but a disk can): nothing.
  await copyStateFiles(layout, options);
  await Deno.writeTextFile(stateCopyPath(layout), '{"schema": 1, "by": "0.1.0"');
  assert.deepEqual(await restoreStateFiles(layout, options), []);
  await assert.rejects(Deno.stat(layout.audit), Deno.errors.NotFound); // nothing was audited
});

Deno.test("the copy is never taken through a link, and holds no file through one", async () => {
  await using tmp = await tempDir();
  const layout = layoutOf(`${tmp.path}/root`);
  await Deno.mkdir(layout.builds, { recursive: true });
  await Deno.writeTextFile(`${tmp.path}/elsewhere.json`, '{"schema": 1}');
  await Deno.symlink(`${tmp.path}/elsewhere.json`, layout.state);
  await assert.rejects(copyStateFiles(layout, options), /symbolic link/);
  await assert.rejects(Deno.stat(stateCopyPath(layout)), Deno.errors.NotFound);
});

async function schema(path: string): Promise<number> {
  return JSON.parse(await Deno.readTextFile(path)).schema;
}

/**
 * Updater 0.1.0 (a shell script) at `<dir>/bin/ms11-update` and the candidate 0.2.0, a script
 * running `body`, kept and staged; MS11's state.json in this version's schema.
 */
async function trialOf(dir: string, body: (layout: Layout) => string) {
  const layout = layoutOf(`${dir}/root`);
  await Deno.mkdir(layout.builds, { recursive: true });
  await Deno.mkdir(`${dir}/bin`);
  const path = `${dir}/bin/ms11-update`;
  await Deno.writeTextFile(path, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  await Deno.chmod(`${dir}/bin`, 0o755);
  await Deno.writeTextFile(`${dir}/candidate`, `#!/bin/sh\n${body(layout)}\n`);
  const { sha256 } = await hashFile(`${dir}/candidate`);
  const state = emptySelfState();
  state.kept["0.2.0"] = await keepArtifact(layout, `${dir}/candidate`, {
    version: "0.2.0",
    kind: "executable",
    sha256,
    channel: "stable",
    now: new Date(),
  });
  state.staged = {
    version: "0.2.0",
    channel: "stable",
    staged_at: "2026-11-27T00:00:00Z",
    by: "0.1.0",
    path,
  };
  await writeSelfState(layout, state);
  const before = JSON.stringify({ schema: STATE_SCHEMA, staged: null });
  await Deno.writeTextFile(layout.state, before);
  const form = { kind: "executable" as const, path, key: "linux-x64" };
  const notices: string[] = [];
  const hand = () =>
    handOff(layout, state.kept["0.2.0"], {
      args: ["apply", "--root", layout.root],
      form,
      running: "0.1.0",
      onNotice: (line) => notices.push(line),
    });
  return { layout, path, before, notices, hand };
}

/** The shell line that rewrites MS11's state.json in a schema this version does not read. */
function migrate(layout: Layout): string {
  return `printf '{"schema": ${STATE_SCHEMA + 1}}' > '${layout.state}'`;
}

/** A candidate that migrates the state, reports its start, and runs a little longer. */
function started(layout: Layout): string {
  return `${migrate(layout)}\necho 0.2.0 > "$MS11_UPDATE_TRIAL"\nsleep 0.3\nexit 0`;
}

Deno.test("a candidate that migrates the state and crashes before it starts: the files are put back, then it is refused", async () => {
  await using tmp = await tempDir();
  const { layout, path, before, notices, hand } = await trialOf(
    tmp.path,
    (layout) => `${migrate(layout)}\nexit 3`,
  );
  assert.equal(await hand(), null); // 0.1.0 serves the launch
  assert.equal(await Deno.readTextFile(layout.state), before);
  assert.deepEqual(notices, [
    "ms11-update 0.2.0 left state.json in a newer schema; they were put back as they were before its trial",
    "ms11-update 0.2.0 exited with code 3 before it started; it was refused, and 0.1.0 runs this launch",
  ]);
  assert.equal((await readSelfState(layout)).state.refused[0].version, "0.2.0");
  assert.equal(await Deno.readTextFile(path), "#!/bin/sh\nexit 0\n");
  const audit = (await Deno.readTextFile(layout.audit)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(audit.map((e) => e.event), ["updater_state_restored", "updater_refused"]);
  assert.equal(
    audit[0].reason,
    "ms11-update 0.2.0 exited with code 3 before it started, leaving them in a schema 0.1.0 does not understand",
  );
  await assert.rejects(Deno.stat(stateCopyPath(layout)), Deno.errors.NotFound);
});

Deno.test("a candidate that started but could not be put in place: the updater left at the path gets its files back", async () => {
  await using tmp = await tempDir();
  const { layout, path, before, notices, hand } = await trialOf(tmp.path, started);
  // Anyone may write the launcher's folder: the promotion refuses to replace anything there.
  await Deno.chmod(`${tmp.path}/bin`, 0o777);
  try {
    assert.equal(await hand(), 0); // the launch was the candidate's: its exit code
  } finally {
    await Deno.chmod(`${tmp.path}/bin`, 0o755);
  }
  assert.match(
    notices[0],
    /^ms11-update 0\.2\.0 started but was not put in place: The updater's folder /,
  );
  assert.equal(
    notices[1],
    "ms11-update 0.2.0 left state.json in a newer schema; they were put back as they were before its trial",
  );
  assert.equal(await Deno.readTextFile(layout.state), before);
  assert.equal(await Deno.readTextFile(path), "#!/bin/sh\nexit 0\n");
  assert.equal((await readSelfState(layout)).state.staged?.version, "0.2.0"); // tried again next time
});

Deno.test("a candidate put in place keeps what it wrote, and the copy is removed", async () => {
  await using tmp = await tempDir();
  const { layout, path, notices, hand } = await trialOf(tmp.path, started);
  assert.equal(await hand(), 0);
  assert.deepEqual(notices, [`ms11-update 0.2.0 started; it replaces 0.1.0 at ${path}`]);
  assert.equal(await schema(layout.state), STATE_SCHEMA + 1);
  assert.match(await Deno.readTextFile(path), /MS11_UPDATE_TRIAL/); // the candidate's script
  await assert.rejects(Deno.stat(stateCopyPath(layout)), Deno.errors.NotFound);
});
