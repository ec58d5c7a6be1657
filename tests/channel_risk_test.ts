// Risk and cadence per channel: each channel's description, risk level and own check interval in
// the configuration; a switch to a riskier channel shows its risk and description and asks (on a
// terminal, `--yes` elsewhere, the dashboard's 409), in one question with a downgrade's; `check`,
// `status`, `channel` and the dashboard show them; `--auto` follows each channel's interval.
import assert from "node:assert/strict";
import { switchChannel } from "../lib/actions/channel.ts";
import { checkInterval, riskIncrease } from "../lib/core/channel.ts";
import { validateConfig } from "../lib/core/config_schema.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { emptyState } from "../lib/root/state.ts";
import { autoCheckDue } from "../lib/trust/check.ts";
import { dashboardWorld } from "./_dashboard.ts";
import { makeWorld, runCliTty, snapshot, type World } from "./_e2e.ts";
import { tempDir } from "./_helpers.ts";

const CANARY_ABOUT = "Daily builds, for testers: may break";

/** The world's channels rated as shipped: stable low risk, canary high risk every 6 h. */
async function rated(world: World, extra: Record<string, unknown> = {}): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(world.configPath));
  const servers = config.update_servers;
  await world.writeConfig({
    update_servers: {
      stable: { ...servers.stable, description: "Weekly, tested", risk: "low" },
      canary: {
        ...servers.canary,
        description: CANARY_ABOUT,
        risk: "high",
        check_interval_hours: 6,
      },
    },
    ...extra,
  });
}

async function unchanged(world: World): Promise<() => Promise<void>> {
  const config = await Deno.readTextFile(world.configPath);
  const install = await snapshot(world.root);
  return async () => {
    assert.equal(await Deno.readTextFile(world.configPath), config, "the config is unchanged");
    assert.equal(await snapshot(world.root), install, "the install is unchanged");
  };
}

function tty(world: World, args: string[], input: string) {
  return runCliTty([...args, "--config", world.configPath, "--root", world.root], input);
}

Deno.test("riskIncrease and checkInterval: pure, per channel; an unrated channel is medium", () => {
  const config = validateConfig({
    check_interval_hours: 12,
    update_servers: {
      stable: { base_url: "https://updates.ms11.com/stable", risk: "low" },
      beta: { base_url: "https://updates.ms11.com/beta" },
      canary: {
        base_url: "https://updates.ms11.com/canary",
        risk: "high",
        check_interval_hours: 2,
      },
    },
  });
  assert.equal(riskIncrease(config, "stable", "beta")?.risk, "medium");
  assert.equal(riskIncrease(config, "beta", "canary")?.previous, "medium");
  assert.equal(riskIncrease(config, "canary", "beta"), null);
  assert.equal(riskIncrease(config, "beta", "stable"), null);
  assert.deepEqual(checkInterval(config, "beta"), { hours: 12, field: "check_interval_hours" });
  assert.deepEqual(checkInterval(config, "canary"), {
    hours: 2,
    field: "update_servers.canary.check_interval_hours",
  });
});

Deno.test("autoCheckDue follows each channel's own check interval", () => {
  const config = validateConfig({}); // stable: the top-level 24 h; canary: its own 6 h
  const state = emptyState();
  const at = "2026-11-27T00:00:00.000Z";
  for (const channel of ["stable", "canary"]) {
    state.manifests[channel] = {
      url: `https://updates.ms11.com/${channel}/manifest.json`,
      etag: null,
      last_modified: null,
      body: "{}",
      checked_at: at,
    };
  }
  const now = new Date("2026-11-27T07:00:00.000Z");
  const canary = autoCheckDue(config, state, { channel: "canary", now });
  assert.deepEqual([canary.due, canary.reason], [true, "interval-elapsed"]);
  assert.equal(
    canary.message,
    `canary was last checked at ${at}, 6 h or more ago (update_servers.canary.check_interval_hours)`,
  );
  const early = autoCheckDue(config, state, {
    channel: "canary",
    now: new Date("2026-11-27T05:00:00.000Z"),
  });
  assert.equal(
    early.message,
    `Not checking canary: last checked at ${at}; the next automatic check is due at 2026-11-27T06:00:00.000Z (update_servers.canary.check_interval_hours 6; pass --force to check now)`,
  );
  const stable = autoCheckDue(config, state, { channel: "stable", now });
  assert.deepEqual([stable.due, stable.next], [false, "2026-11-28T00:00:00.000Z"]);
  assert.match(stable.message, /\(check_interval_hours 24; pass --force to check now\)$/);
});

Deno.test("switchChannel asks before a riskier channel and switches only with consent", async () => {
  await using tmp = await tempDir();
  const configPath = `${tmp.path}/config.json`;
  await Deno.writeTextFile(configPath, "{}\n"); // the shipped channels: stable low, canary high
  const { loadConfig } = await import("../lib/core/config.ts");
  const { config } = await loadConfig(configPath, { explicit: true });
  const heard: string[] = [];
  const ctx = {
    layout: layoutOf(`${tmp.path}/root`),
    config,
    configPath,
    platform: "linux-x64",
    onEvent: (e: { type: string }) => heard.push(e.type),
  };
  const asked = await switchChannel(ctx, "canary");
  assert.deepEqual(asked.confirmation, {
    channel: "canary",
    available: null,
    current: null,
    risk: {
      channel: "canary",
      risk: "high",
      from: "stable",
      previous: "low",
      description: config.update_servers.canary.description,
    },
  });
  assert.equal(
    asked.message,
    `canary is a high-risk channel (stable is low-risk): ${config.update_servers.canary.description}: confirm the switch (accept the risk)`,
  );
  assert.equal(asked.channel, "stable");
  assert.equal(await Deno.readTextFile(configPath), "{}\n", "nothing saved");
  assert.deepEqual(heard, []);
  const done = await switchChannel(ctx, "canary", { acceptRisk: true });
  assert.equal(done.confirmation, null);
  assert.equal(done.message, "Switched channel stable -> canary");
  assert.equal(JSON.parse(await Deno.readTextFile(configPath)).channel, "canary");
  assert.deepEqual(heard, ["channel_changed"]);
  // Back to a lower risk: no question.
  const { config: onCanary } = await loadConfig(configPath, { explicit: true });
  const back = await switchChannel({ ...ctx, config: onCanary }, "stable");
  assert.deepEqual([back.confirmation, back.message], [null, "Switched channel canary -> stable"]);
});

Deno.test("channel NAME to a riskier channel: refused without --yes or a terminal; --yes switches", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  await world.publish("canary", "1.1.0-canary.1");
  await rated(world);
  assert.equal((await world.cli(["install"])).code, 0);
  const same = await unchanged(world);
  const refused = await world.cli(["channel", "canary"]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `error: canary is a high-risk channel (stable is low-risk): ${CANARY_ABOUT}: the channel was not switched (pass --yes to accept the risk)\n`,
  );
  await same();
  // The list shows each channel's risk, interval and description.
  const list = await world.cli(["channel"]);
  assert.equal(
    list.stdout,
    `* stable     low risk    every 24 h  Weekly, tested\n  canary     high risk   every 6 h   ${CANARY_ABOUT}\n`,
  );
  const json = JSON.parse((await world.cli(["channel", "--json"])).stdout);
  assert.deepEqual(
    json.channels.map((c: Record<string, unknown>) => [c.name, c.risk, c.check_interval_hours]),
    [["stable", "low", 24], ["canary", "high", 6]],
  );
  const yes = await world.cli(["channel", "canary", "--yes"]);
  assert.equal(yes.code, 0, yes.stderr);
  assert.equal(yes.stderr, "Switched channel stable -> canary\n");
  assert.equal(JSON.parse(await Deno.readTextFile(world.configPath)).channel, "canary");
  // check and status show the channel's risk, interval and description.
  const check = await world.cli(["check"]);
  assert.match(
    check.stdout,
    new RegExp(
      `^channel: {3}canary - ${CANARY_ABOUT}\nrisk: {6}high \\(checked every 6 h by --auto\\)\n`,
    ),
  );
  const checked = JSON.parse((await world.cli(["check", "--json"])).stdout);
  assert.deepEqual([checked.risk, checked.description, checked.check_interval_hours], [
    "high",
    CANARY_ABOUT,
    6,
  ]);
  const status = await world.cli(["status"]);
  assert.match(
    status.stdout,
    new RegExp(`\nchannel: {4}canary \\(high risk, checked every 6 h\\) - ${CANARY_ABOUT}\n`),
  );
  const statusJson = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.deepEqual(statusJson.channel_info, {
    description: CANARY_ABOUT,
    risk: "high",
    check_interval_hours: 6,
  });
  // --yes to a channel that is not riskier changes nothing about the question: there is none.
  const down = await world.cli(["channel", "stable", "--yes", "--keep-current"]);
  assert.equal(down.code, 0, down.stderr);
});

Deno.test("channel NAME on a terminal shows the risk and description and asks [y/N]", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  await world.publish("canary", "1.1.0-canary.1");
  await rated(world);
  assert.equal((await world.cli(["install"])).code, 0);
  const same = await unchanged(world);
  const question =
    `canary is a high-risk channel (stable is low-risk): ${CANARY_ABOUT}. Switch to canary? [y/N]`;
  const no = await tty(world, ["channel", "canary"], "\n");
  assert.equal(no.code, 1);
  assert.ok(no.output.includes(question), no.output);
  assert.ok(
    no.output.includes(
      `error: canary is a high-risk channel (stable is low-risk): ${CANARY_ABOUT}: the channel was not switched (cancelled; pass --yes to accept the risk)`,
    ),
    no.output,
  );
  await same();
  const yes = await tty(world, ["channel", "canary"], "y\n");
  assert.equal(yes.code, 0, yes.output);
  assert.ok(yes.output.includes(question));
  assert.ok(yes.output.includes("Switched channel stable -> canary"), yes.output);
  assert.equal(JSON.parse(await Deno.readTextFile(world.configPath)).channel, "canary");
});

Deno.test("a switch that is riskier and a downgrade asks once, both answers needed elsewhere", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "2.0.0");
  await world.publish("canary", "1.9.0-canary.1");
  await rated(world);
  assert.equal((await world.cli(["install"])).code, 0);
  const same = await unchanged(world);
  const lower = "canary's newest release 1.9.0-canary.1 is lower than the installed 2.0.0";
  const refused = await world.cli(["channel", "canary"]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `error: canary is a high-risk channel (stable is low-risk): ${CANARY_ABOUT}; ${lower}: the channel was not switched (pass --yes to accept the risk, and --allow-downgrade to switch and install 1.9.0-canary.1, or --keep-current to switch and keep 2.0.0)\n`,
  );
  const onlyYes = await world.cli(["channel", "canary", "--yes"]);
  assert.equal(onlyYes.code, 1);
  assert.equal(
    onlyYes.stderr,
    `error: ${lower}: the channel was not switched (pass --allow-downgrade to switch and install 1.9.0-canary.1, or --keep-current to switch and keep 2.0.0)\n`,
  );
  const onlyKeep = await world.cli(["channel", "canary", "--keep-current"]);
  assert.equal(onlyKeep.code, 1);
  assert.match(
    onlyKeep.stderr,
    /the channel was not switched \(pass --yes to accept the risk\)\n$/,
  );
  await same();
  // On a terminal: one question; "keep" answers both.
  const keep = await tty(world, ["channel", "canary"], "keep\n");
  assert.equal(keep.code, 0, keep.output);
  assert.ok(
    keep.output.includes(
      `canary is a high-risk channel (stable is low-risk): ${CANARY_ABOUT}. ${lower}. Switch to canary and install 1.9.0-canary.1 (a downgrade), keep 2.0.0 until canary catches up, or cancel? [install/keep/Cancel]`,
    ),
    keep.output,
  );
  assert.ok(
    keep.output.includes(
      "Switched channel stable -> canary; keeping 2.0.0 until canary catches up",
    ),
  );
});

Deno.test("ms11-update --auto on a channel follows its own check_interval_hours", async () => {
  await using world = await makeWorld();
  await world.publish("canary", "1.1.0-canary.1");
  await rated(world, { channel: "canary" });
  assert.equal((await world.cli(["install"])).code, 0);
  const skipped = await world.cli(["--auto"]);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(
    skipped.stderr,
    /^Not checking canary: last checked at \S+; the next automatic check is due at \S+ \(update_servers\.canary\.check_interval_hours 6; pass --force to check now\)\n$/,
  );
  await rated(world, {
    channel: "canary",
    update_servers: {
      ...JSON.parse(await Deno.readTextFile(world.configPath)).update_servers,
      canary: {
        ...JSON.parse(await Deno.readTextFile(world.configPath)).update_servers.canary,
        check_interval_hours: 0,
      },
    },
  });
  const due = await world.cli(["--auto"]);
  assert.equal(due.code, 0, due.stderr);
  assert.equal(due.stderr, "1.1.0-canary.1 is the newest release on canary\n");
});

Deno.test("the dashboard asks before a riskier channel (409 with its risk) and switches with accept_risk", async () => {
  await using d = await dashboardWorld();
  await rated(d.world);
  const config = await Deno.readTextFile(d.world.configPath);
  const ask = await d.api("/api/channel", { body: { channel: "canary" } });
  assert.equal(ask.status, 409);
  const json = ask.json as { confirmation_required: unknown };
  assert.deepEqual(json.confirmation_required, {
    channel: "canary",
    available: null,
    current: null,
    risk: {
      channel: "canary",
      risk: "high",
      from: "stable",
      previous: "low",
      description: CANARY_ABOUT,
    },
  });
  assert.equal(await Deno.readTextFile(d.world.configPath), config, "nothing saved yet");
  const page = await (await fetch(d.dashboard.url)).text();
  assert.match(page, /<section id="confirm-risk"/);
  assert.ok(page.includes(`canary is a high-risk channel (stable is low-risk): ${CANARY_ABOUT}.`));
  assert.match(page, /id="accept-risk" class="secondary">Switch to canary \(high risk\)<\/button>/);
  const status = (await d.api("/api/status")).json as { channel_info: unknown };
  assert.deepEqual(status.channel_info, {
    description: "Weekly, tested",
    risk: "low",
    check_interval_hours: 24,
  });
  const channels = (await d.api("/api/channels")).json as {
    channels: { name: string; risk: string }[];
  };
  assert.deepEqual(
    channels.channels.map((c) => [c.name, c.risk]),
    [["stable", "low"], ["canary", "high"]],
  );
  const yes = await d.api("/api/channel", { body: { channel: "canary", accept_risk: true } });
  assert.equal(yes.status, 200, JSON.stringify(yes.json));
  assert.equal(JSON.parse(await Deno.readTextFile(d.world.configPath)).channel, "canary");
});
