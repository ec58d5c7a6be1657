// The install's state files copied before a candidate's trial, and put back when a candidate that
// did not start left them in a schema this updater does not read (lib/self/state_copy.ts): only
// those, the trust pair together, never a file the candidate made or one this updater reads.
import assert from "node:assert/strict";
import { layoutOf } from "../lib/root/layout.ts";
import { STATE_SCHEMA } from "../lib/root/state.ts";
import { TRUST_SCHEMA } from "../lib/root/trust_state.ts";
import { copyStateFiles, restoreStateFiles, stateCopyPath } from "../lib/self/state_copy.ts";
import { SELF_STATE_SCHEMA, selfPaths } from "../lib/self/state.ts";
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
