// Kills at random points of the updater's self-replacement (the soak style used for builds): the
// launch that tries a staged ms11-update bundle is SIGKILLed with its whole process group (the
// old updater, the candidate, the application) at a random moment, or at each named fault point.
// After every kill the launcher's path must start a working updater (the old or the new one,
// never neither), and the next launch must finish the job: the new updater in place, the state
// saying so, nothing left behind.
import assert from "node:assert/strict";
import { killGroup, spawnGroup } from "../lib/core/process.ts";
import { makeWorld, SHIPPED_V8_FLAGS } from "./_e2e.ts";
import { buildUpdater, installUpdater, runBundle } from "./_self.ts";
import { namesIn } from "./_helpers.ts";

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

/** A small deterministic generator (the seed is printed, so a failure can be replayed). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

Deno.test({
  name:
    "SIGKILLs at random points of an updater's self-replacement never leave the launcher's path without a working updater",
  timeout: 10 * 60_000,
}, async () => {
  await using world = await makeWorld();
  const old = await buildUpdater(world.dir, "5.0.0");
  const next = await buildUpdater(world.dir, "5.1.0");
  const bin = `${world.dir}/bin`;
  const entry = await installUpdater(old, bin);
  const where = ["--config", world.configPath, "--root", world.root];
  const cli = (args: string[]) => runBundle(entry, [...args, ...where]);
  await world.publish("stable", "1.0.0", { updater: { version: "5.1.0", file: next.archive } });
  assert.equal((await cli(["install"])).code, 0);
  const staged = await cli(["self", "update"]);
  assert.match(staged.stderr, /Staged ms11-update 5\.1\.0/, staged.stderr);
  // The moment before the launch: kept as it is, restored before each kill.
  const saved = `${world.dir}/saved-updater`;
  await copyDir(`${world.root}/updater`, saved);

  const seed = Date.now();
  const next01 = random(seed);
  const faults = ["self-before-rename", "self-after-rename", "self-after-promote"];
  const runs = [
    ...faults.map((fault) => ({ fault, delay: 0 })),
    ...Array.from(
      { length: 18 },
      () => ({ fault: "", delay: Math.floor(next01() * 1200) }),
    ),
  ];
  const tally = { killed: 0, finished: 0, sawOld: 0, sawNew: 0 };
  for (const [i, { fault, delay }] of runs.entries()) {
    const what = `run ${i} (seed ${seed}, ${fault || `kill after ${delay} ms`})`;
    await Deno.remove(bin, { recursive: true });
    await installUpdater(old, bin);
    await Deno.remove(`${world.root}/updater`, { recursive: true });
    await copyDir(saved, `${world.root}/updater`);

    const child = spawnGroup(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--quiet", ...SHIPPED_V8_FLAGS, entry, "apply", ...where],
      env: {
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        ...(fault ? { MS11_UPDATE_FAULT: fault } : {}),
      },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    const timer = fault ? undefined : setTimeout(() => killGroup(child), delay);
    const status = await child.status;
    clearTimeout(timer);
    killGroup(child); // whatever it started goes too
    if (status.signal === "SIGKILL") tally.killed++;
    else {
      assert.equal(status.code, 0, what);
      tally.finished++;
    }

    // At once: the launcher's path starts a working updater, the old one or the new one.
    const after = await runBundle(entry, ["--version"]);
    assert.equal(after.code, 0, `${what}: ${after.stderr}`);
    const seen = after.stdout.trim();
    assert.ok(seen === "5.0.0" || seen === "5.1.0", `${what}: --version printed ${seen}`);
    if (seen === "5.0.0") tally.sawOld++;
    else tally.sawNew++;

    // The next launch finishes the job.
    const again = await cli(["apply"]);
    assert.equal(again.code, 0, `${what}: ${again.stderr}`);
    assert.equal((await runBundle(entry, ["--version"])).stdout.trim(), "5.1.0", what);
    const doc = JSON.parse((await cli(["status", "--json"])).stdout);
    assert.deepEqual(
      [doc.updater.version, doc.updater.pending, doc.updater.previous, doc.updater.last?.event],
      ["5.1.0", null, "5.0.0", "promoted"],
      `${what}: ${JSON.stringify(doc.updater)}`,
    );
    // Nothing left behind beside the launcher's path: the files of 5.0.0 and 5.1.0 only.
    const expected = [...new Set([...old.files, ...next.files])].sort();
    assert.deepEqual(await namesIn(bin), expected, what);
  }
  console.log(
    `self soak (seed ${seed}): ${tally.killed} killed, ${tally.finished} finished; the path then ran 5.0.0 ${tally.sawOld} times, 5.1.0 ${tally.sawNew} times`,
  );
  assert.equal(tally.killed + tally.finished, runs.length);
  assert.ok(tally.killed >= faults.length, "every fault point killed its run");
});
