// Channel switches with consent, everywhere: `channel NAME` and `--channel NAME` for one run
// check the new channel first, as the dashboard does (lib/actions/channel.ts switchChannel). A
// switch that would downgrade says so, asks on a terminal, and needs --allow-downgrade (or
// --keep-current) elsewhere; without an answer nothing changes.
import assert from "node:assert/strict";
import { launch, makeWorld, runCliTty, snapshot, type World } from "./_e2e.ts";

const CANARY = "1.5.0-canary.20261126.3";

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

/** canary's build installed, stable's newest release lower. */
async function onCanary(world: World): Promise<void> {
  await world.publish("canary", CANARY);
  await world.publish("stable", "1.4.0");
  await world.writeConfig({ channel: "canary" });
  const install = await world.cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
}

/** What must not change when a switch is refused: the config file and the install. */
async function unchanged(world: World): Promise<() => Promise<void>> {
  const config = await Deno.readTextFile(world.configPath);
  const install = await snapshot(world.root);
  return async () => {
    assert.equal(await Deno.readTextFile(world.configPath), config);
    assert.equal(await snapshot(world.root), install);
  };
}

function tty(world: World, args: string[], input: string) {
  return runCliTty([...args, "--config", world.configPath, "--root", world.root], input);
}

Deno.test("channel NAME that would downgrade: refused without a terminal or a flag, nothing changed", async () => {
  await using world = await makeWorld();
  await onCanary(world);
  const same = await unchanged(world);
  const refused = await world.cli(["channel", "stable"]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(
    refused.stderr,
    `error: stable's newest release 1.4.0 is lower than the installed ${CANARY}: the channel was not switched (pass --allow-downgrade to switch and install 1.4.0, or --keep-current to switch and keep ${CANARY})\n`,
  );
  assert.equal(refused.stdout, "");
  await same();
  const both = await world.cli(["channel", "stable", "--allow-downgrade", "--keep-current"]);
  assert.equal(both.code, 2);
  includes(both.stderr, "error: Pass --allow-downgrade or --keep-current, not both");
  await same();
});

Deno.test("channel NAME --allow-downgrade switches and stages the lower release; --keep-current keeps the build", async () => {
  await using world = await makeWorld();
  await onCanary(world);
  const down = await world.cli(["channel", "stable", "--allow-downgrade"]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(JSON.parse(await Deno.readTextFile(world.configPath)).channel, "stable");
  assert.equal(JSON.parse((await world.cli(["status", "--json"])).stdout).staged.version, "1.4.0");
  assert.equal((await world.cli(["apply"])).code, 0);
  assert.equal(await launch(world.root), "MS11 1.4.0");

  await using kept = await makeWorld();
  await onCanary(kept);
  const keep = await kept.cli(["channel", "stable", "--keep-current"]);
  assert.equal(keep.code, 0, keep.stderr);
  includes(
    keep.stderr,
    `Switched channel canary -> stable; keeping ${CANARY} until stable catches up`,
  );
  assert.equal(JSON.parse(await Deno.readTextFile(kept.configPath)).channel, "stable");
  const next = await kept.cli([]);
  includes(next.stderr, "not downgrading");
  assert.equal(await launch(kept.root), `MS11 ${CANARY}`);
});

Deno.test("channel NAME on a terminal asks: install, keep, or cancel (the default)", async () => {
  await using world = await makeWorld();
  await onCanary(world);
  const same = await unchanged(world);
  const question =
    `stable's newest release 1.4.0 is lower than the installed ${CANARY}. Switch to stable and install 1.4.0 (a downgrade), keep ${CANARY} until stable catches up, or cancel? [install/keep/Cancel]`;
  const cancelled = await tty(world, ["channel", "stable"], "\n");
  assert.equal(cancelled.code, 1, cancelled.output);
  includes(cancelled.output, question);
  includes(cancelled.output, "the channel was not switched (cancelled; pass --allow-downgrade");
  await same();
  const keep = await tty(world, ["channel", "stable"], "k\n");
  assert.equal(keep.code, 0, keep.output);
  includes(keep.output, `keeping ${CANARY} until stable catches up`);
  assert.equal(JSON.parse(await Deno.readTextFile(world.configPath)).channel, "stable");
  assert.equal(await launch(world.root), `MS11 ${CANARY}`);

  await using other = await makeWorld();
  await onCanary(other);
  const install = await tty(other, ["channel", "stable"], "install\n");
  assert.equal(install.code, 0, install.output);
  assert.equal(JSON.parse((await other.cli(["status", "--json"])).stdout).staged.version, "1.4.0");
});

Deno.test("channel NAME that is not a downgrade asks nothing", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  await world.publish("canary", "1.1.0-canary.1");
  assert.equal((await world.cli(["install"])).code, 0);
  const up = await tty(world, ["channel", "canary"], "");
  assert.equal(up.code, 0, up.output);
  assert.ok(!up.output.includes("?"), up.output);
  assert.equal(JSON.parse(await Deno.readTextFile(world.configPath)).channel, "canary");
});

Deno.test("--channel NAME for one run: says it would downgrade, asks on a terminal, needs --allow-downgrade otherwise", async () => {
  await using world = await makeWorld();
  await onCanary(world);
  const same = await unchanged(world);
  const plain = await world.cli(["--channel", "stable"]);
  assert.equal(plain.code, 0, plain.stderr);
  includes(
    plain.stderr,
    `stable's newest release 1.4.0 is lower than the installed ${CANARY}; not downgrading (pass --allow-downgrade to install 1.4.0)`,
  );
  const no = await tty(world, ["--channel", "stable"], "n\n");
  assert.equal(no.code, 0, no.output);
  includes(
    no.output,
    `stable's newest release 1.4.0 is lower than the installed ${CANARY}. Install 1.4.0 (a downgrade)? [y/N]`,
  );
  await same();
  const yes = await tty(world, ["--channel", "stable"], "y\n");
  assert.equal(yes.code, 0, yes.output);
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.equal(status.staged.version, "1.4.0");
  // One run only: the configured channel is still canary.
  assert.equal(JSON.parse(await Deno.readTextFile(world.configPath)).channel, "canary");
});
