// Crash points: the real CLI is killed with SIGKILL (MS11_UPDATE_FAULT, lib/core/fault.ts) at every
// named point of update, apply, rollback and automatic rollback; then `apply` runs as a launcher
// would, and the install must launch and be exactly the old or the new build (hash compared).
// The tally is the "k of k points survived" figure of docs/RELIABILITY.md.
import assert from "node:assert/strict";
import { appScript, launch, makeWorld, type World } from "./_e2e.ts";
import { sha256 } from "./_helpers.ts";

const KILLED = 137; // 128 + SIGKILL

/** One scenario: how to prepare a root, the command to interrupt, the builds allowed after. */
interface Scenario {
  name: string;
  prepare(world: World): Promise<void>;
  args: string[];
  points: string[];
  /** Versions the install may be after the crash and the next apply. */
  allowed: string[];
}

async function cli(world: World, root: string, args: string[], fault?: string) {
  return await world.cli([...args, "--root", root], {
    root: false,
    env: fault ? { MS11_UPDATE_FAULT: fault } : {},
  });
}

async function ok(world: World, args: string[]): Promise<void> {
  const run = await world.cli(args);
  assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
}

const SCENARIOS: Scenario[] = [
  {
    name: "update",
    async prepare(world) {
      await world.publish("stable", "1.0.0");
      await ok(world, ["install"]);
      await world.publish("stable", "1.1.0");
    },
    args: [],
    points: ["after-download", "after-verify", "after-stage"],
    allowed: ["1.0.0", "1.1.0"],
  },
  {
    name: "apply",
    async prepare(world) {
      await world.publish("stable", "0.9.0");
      await ok(world, ["install"]);
      await world.publish("stable", "1.0.0");
      await ok(world, []);
      await ok(world, ["apply"]);
      await ok(world, ["confirm"]);
      await world.publish("stable", "1.1.0");
      await ok(world, []);
      // 0.9.0 is a backup beyond keep_backups_count 0: the apply prunes it.
      await world.writeConfig({ keep_backups_count: 0 });
    },
    args: ["apply"],
    points: ["after-journal", "before-rename", "after-rename", "during-prune"],
    allowed: ["1.0.0", "1.1.0"],
  },
  {
    name: "rollback",
    async prepare(world) {
      await world.publish("stable", "1.0.0");
      await ok(world, ["install"]);
      await world.publish("stable", "1.1.0");
      await ok(world, []);
      await ok(world, ["apply"]);
      await ok(world, ["confirm"]);
    },
    args: ["rollback"],
    points: ["during-rollback", "after-journal", "before-rename", "after-rename"],
    allowed: ["1.0.0", "1.1.0"],
  },
  {
    name: "automatic rollback",
    async prepare(world) {
      await world.writeConfig({ health: { max_attempts: 1 } });
      await world.publish("stable", "1.0.0");
      await ok(world, ["install"]);
      await world.publish("stable", "1.1.0");
      await ok(world, []);
      await ok(world, ["apply"]); // launch 1 of 1 without a confirm: the next apply rolls back
    },
    args: ["apply"],
    points: ["during-rollback", "after-journal", "before-rename", "after-rename"],
    allowed: ["1.0.0", "1.1.0"],
  },
];

Deno.test("a SIGKILL at every named point leaves an install that launches the old or the new build", async () => {
  let survived = 0;
  let total = 0;
  const lines: string[] = [];
  for (const scenario of SCENARIOS) {
    await using world = await makeWorld();
    await scenario.prepare(world);
    const hashes = new Map<string, string>();
    for (const version of scenario.allowed) {
      hashes.set(sha256(new TextEncoder().encode(appScript(version))), version);
    }
    for (const point of scenario.points) {
      total++;
      const root = `${world.dir}/root-${point}`;
      const copy = await new Deno.Command("cp", { args: ["-a", world.root, root] }).output();
      assert.ok(copy.success);
      const crashed = await cli(world, root, scenario.args, point);
      assert.equal(
        crashed.code,
        KILLED,
        `${scenario.name} never reached ${point} (exit ${crashed.code}): ${crashed.stderr}`,
      );
      const next = await cli(world, root, ["apply"]);
      assert.equal(
        next.code,
        0,
        `${scenario.name}/${point}: apply after the crash: ${next.stderr}`,
      );
      const bytes = await Deno.readFile(`${root}/current/ms11`);
      const version = hashes.get(sha256(bytes));
      assert.ok(
        version !== undefined,
        `${scenario.name}/${point}: current is neither ${scenario.allowed.join(" nor ")}`,
      );
      assert.equal(await Deno.readLink(`${root}/current`), `builds/${version}`);
      assert.equal(await launch(root), `MS11 ${version}`);
      const state = JSON.parse(await Deno.readTextFile(`${root}/state.json`));
      assert.equal(state.journal, undefined, `${scenario.name}/${point}: journal left behind`);
      const status = await cli(world, root, ["status", "--json"]);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).current.version, version);
      survived++;
      lines.push(`${scenario.name}/${point}: ${version}`);
    }
  }
  console.log(`${survived} of ${total} crash points survived\n  ${lines.join("\n  ")}`);
  assert.equal(survived, total);
});

Deno.test("with no fault variable set, the fault points are inert", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  await ok(world, ["install"]);
  await world.publish("stable", "1.1.0");
  const run = await world.cli([], { env: { MS11_UPDATE_FAULT: "" } });
  assert.equal(run.code, 0, run.stderr);
  await ok(world, ["apply"]);
  assert.equal(await launch(world.root), "MS11 1.1.0");
});
