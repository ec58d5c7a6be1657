// Old and new updaters on one install's state files, in both orders, with real processes: the
// old one is a bundle of this tree, the new one a bundle of this tree whose install state and
// updater state schemas are one higher (what the next incompatible change of either would do).
// The new one reads what the old one wrote and takes over; the old one, meeting the new one's
// files (after a rollback by hand, or run by hand), refuses clearly, still starts the
// application, and never changes a byte of them. And a new one that migrates the state files
// and then fails to start: the old one, which serves that launch, puts them back as they were.
import assert from "node:assert/strict";
import { STATE_SCHEMA } from "../lib/root/state.ts";
import { SELF_STATE_SCHEMA } from "../lib/self/state.ts";
import { launch, makeWorld } from "./_e2e.ts";
import {
  buildUpdater,
  CRASH_BEFORE_REPORT,
  installUpdater,
  newerSchema,
  runBundle,
} from "./_self.ts";

Deno.test("old and new updaters share one install's state files in both orders, and the old one never corrupts the new one's", async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const newer = await buildUpdater(world.dir, "5.1.0", {
    patches: [
      newerSchema("lib/root/_state_parse.ts", "STATE_SCHEMA"),
      newerSchema("lib/self/state.ts", "SELF_STATE_SCHEMA"),
    ],
  });
  const entry = await installUpdater(old, `${world.dir}/bin`);
  const where = ["--config", world.configPath, "--root", world.root];
  const at = (file: string) => (args: string[]) => runBundle(file, [...args, ...where]);
  const cli = at(entry);
  const oldCli = at(`${old.dir}/main.js`); // the old updater, run by hand
  const schemaOf = async (file: string) => JSON.parse(await Deno.readTextFile(file)).schema;
  const stateFile = `${world.root}/state.json`;
  const selfFile = `${world.root}/updater/state.json`;

  // Old first: it installs and writes its schema.
  await world.publish("stable", "1.0.0");
  assert.equal((await cli(["install"])).code, 0);
  assert.equal(await schemaOf(stateFile), STATE_SCHEMA);

  // New after old: its smoke test reads the old one's files (status --json), it takes the next
  // launch, applies 1.1.0 and writes its own (newer) schema.
  await world.publish("stable", "1.1.0", { updater: { version: "5.1.0", file: newer.archive } });
  const update = await cli([]);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stderr, /Staged ms11-update 5\.1\.0/);
  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stderr, /ms11-update 5\.1\.0 started; it replaces 5\.0\.0/);
  assert.equal(await launch(world.root), "MS11 1.1.0");
  assert.equal(await schemaOf(stateFile), STATE_SCHEMA + 1);
  let status = await cli(["status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(
    [JSON.parse(status.stdout).updater.version, JSON.parse(status.stdout).updater.previous],
    ["5.1.0", "5.0.0"],
  );
  // The updater's own state was written by the old one, at the promotion: the new one reads it.
  assert.equal(await schemaOf(selfFile), SELF_STATE_SCHEMA);

  // Old after new, by a rollback: refused before anything is replaced, saying why.
  const refusal = await cli(["self", "rollback"]);
  assert.equal(refusal.code, 1);
  assert.match(
    refusal.stderr,
    new RegExp(
      `Not rolling back to ms11-update 5\\.0\\.0: ms11-update 5\\.0\\.0 status --json exited with code 1: State file \\S+state\\.json has schema ${
        STATE_SCHEMA + 1
      }, newer than this ms11-update understands \\(${STATE_SCHEMA}\\)`,
    ),
  );
  assert.equal((await runBundle(entry, ["--version"])).stdout.trim(), "5.1.0");

  // Old after new, run by hand: each command refuses with that line, the application still
  // starts, and neither state file changes by one byte.
  const before = [await Deno.readFile(stateFile), await Deno.readFile(selfFile)];
  for (const args of [["status"], [], ["check"], ["confirm"], ["apply"]]) {
    const run = await oldCli(args);
    assert.equal(run.code, 1, `${args.join(" ") || "update"}: ${run.stderr}`);
    assert.match(run.stderr, /has schema \d+, newer than this ms11-update understands/);
  }
  const ran = await runBundle(`${old.dir}/main.js`, [
    "run",
    ...where,
    "--",
    "sh",
    "-c",
    "echo app",
  ]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, "app\n");
  assert.match(ran.stderr, /starting the application without a health check/);
  assert.deepEqual([await Deno.readFile(stateFile), await Deno.readFile(selfFile)], before);

  // And the new one goes on as before.
  status = await cli(["status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).current.version, "1.1.0");
});

Deno.test("a candidate that rewrites the state in a newer schema and then fails to start: the old updater puts the files back and serves the launch", async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const newer = await buildUpdater(world.dir, "5.1.0", {
    tag: "-crash",
    patches: [
      newerSchema("lib/root/_state_parse.ts", "STATE_SCHEMA"),
      newerSchema("lib/self/state.ts", "SELF_STATE_SCHEMA"),
      CRASH_BEFORE_REPORT,
    ],
  });
  const entry = await installUpdater(old, `${world.dir}/bin`);
  const where = ["--config", world.configPath, "--root", world.root];
  const cli = (args: string[]) => runBundle(entry, [...args, ...where]);
  const schemaOf = async (file: string) => JSON.parse(await Deno.readTextFile(file)).schema;
  const stateFile = `${world.root}/state.json`;

  await world.publish("stable", "1.0.0");
  assert.equal((await cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0", { updater: { version: "5.1.0", file: newer.archive } });
  const update = await cli([]);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stderr, /Staged ms11-update 5\.1\.0/); // its smoke test reads, writes nothing
  const before = await Deno.readTextFile(stateFile);
  assert.equal(JSON.parse(before).staged.version, "1.1.0");

  // The next launch: 5.1.0 applies 1.1.0 (its state.json in its schema) and exits with 70
  // before it reports its start. 5.0.0 puts state.json back, refuses 5.1.0, serves the launch.
  const apply = await cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stderr, /^crashed after its migration$/m);
  assert.match(
    apply.stderr,
    /^ms11-update 5\.1\.0 left state\.json in a newer schema; they were put back as they were before its trial$/m,
  );
  assert.match(
    apply.stderr,
    /^ms11-update 5\.1\.0 exited with code 70 before it started; it was refused, and 5\.0\.0 runs this launch$/m,
  );
  assert.doesNotMatch(apply.stderr, /newer than this ms11-update understands/);
  assert.equal(await schemaOf(stateFile), STATE_SCHEMA);
  assert.equal((await runBundle(entry, ["--version"])).stdout.trim(), "5.0.0");
  // The build the candidate swapped in is recorded by the old one; the install reads as one.
  assert.equal(await launch(world.root), "MS11 1.1.0");
  const status = await cli(["status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  const doc = JSON.parse(status.stdout);
  assert.deepEqual(
    [
      doc.current.version,
      doc.staged,
      doc.updater.version,
      doc.updater.pending,
      doc.updater.problem,
    ],
    ["1.1.0", null, "5.0.0", null, null],
  );
  assert.deepEqual(doc.updater.refused.map((r: { version: string }) => r.version), ["5.1.0"]);
  const audit = (await Deno.readTextFile(`${world.root}/logs/audit.jsonl`)).trim().split("\n")
    .map((line) => JSON.parse(line));
  const restored = audit.find((e) => e.event === "updater_state_restored");
  assert.deepEqual([restored?.files, restored?.version, restored?.running], [
    ["state.json"],
    "5.1.0",
    "5.0.0",
  ]);
  await assert.rejects(Deno.stat(`${world.root}/updater/pre-trial.json`), Deno.errors.NotFound);
  // Later launches are the old updater's own, and work.
  const again = await cli(["apply"]);
  assert.deepEqual([again.code, again.stderr], [0, ""]);
  const ran = await runBundle(entry, ["run", ...where, "--", "sh", "-c", "echo app"]);
  assert.deepEqual([ran.code, ran.stdout], [0, "app\n"], ran.stderr);
});
