import assert from "node:assert/strict";
import { defaultConfig, type NotificationsConfig } from "../lib/core/config_schema.ts";
import { type EventType, isAnnounced, runHook, type UpdateEvent } from "../lib/actions/notify.ts";
import { processGone, tempDir } from "./_helpers.ts";

const EVENT: UpdateEvent = {
  type: "ready_to_apply",
  at: "2026-11-27T00:00:00.000Z",
  channel: "stable",
  version: "1.1.0",
  current: "1.0.0",
  message: '1.1.0 is ready; it is applied at the next launch — "quoted" ünïcode',
};

const SWITCHES: Record<EventType, keyof NotificationsConfig> = {
  update_available: "notify_on_available",
  downloaded: "notify_on_download",
  ready_to_apply: "notify_on_ready",
  failure: "notify_on_failure",
  channel_changed: "notify_on_channel_change",
};

Deno.test("isAnnounced follows the switch of each event type", () => {
  const all = defaultConfig().notifications;
  for (const type of Object.keys(SWITCHES) as EventType[]) {
    assert.equal(isAnnounced(type, all), true, type);
  }
  for (const [off, key] of Object.entries(SWITCHES) as [EventType, keyof NotificationsConfig][]) {
    const notifications = { ...all, [key]: false };
    for (const type of Object.keys(SWITCHES) as EventType[]) {
      assert.equal(isAnnounced(type, notifications), type !== off, `${key} off, ${type}`);
    }
  }
});

Deno.test("runHook passes the event as one line of JSON on stdin, and the arguments", async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/event.json`;
  const args = `${dir.path}/args.txt`;
  const result = await runHook(
    ["sh", "-c", 'cat > "$1"; printf "%s|" "$@" > "$2"', "hook", out, args, "with space"],
    EVENT,
  );
  assert.equal(result, null);
  const text = await Deno.readTextFile(out);
  assert.equal(text, JSON.stringify(EVENT) + "\n");
  assert.deepEqual(JSON.parse(text), EVENT);
  assert.equal(await Deno.readTextFile(args), `${out}|${args}|with space|`);
});

Deno.test("runHook: a hook that ignores stdin and succeeds is a success", async () => {
  assert.equal(await runHook(["true"], EVENT), null);
  assert.equal(await runHook(["sh", "-c", "exec 0<&-; exit 0"], EVENT), null);
});

Deno.test("runHook reports a non-zero exit with the code", async () => {
  assert.equal(await runHook(["false"], EVENT), "Notification hook false exited with code 1");
  assert.equal(
    await runHook(["sh", "-c", "cat >/dev/null; exit 3"], EVENT),
    "Notification hook sh exited with code 3",
  );
});

Deno.test("runHook reports a missing command without throwing", async () => {
  await using dir = await tempDir();
  const missing = `${dir.path}/no-such-hook`;
  const result = await runHook([missing, "--flag"], EVENT);
  assert.match(
    result ?? "",
    new RegExp(`^Notification hook ${missing.replace(/[.\/-]/g, "\\$&")} could not run: .+`),
  );
  // Not executable.
  await Deno.writeTextFile(`${dir.path}/hook.sh`, "#!/bin/sh\nexit 0\n");
  await Deno.chmod(`${dir.path}/hook.sh`, 0o644);
  assert.match((await runHook([`${dir.path}/hook.sh`], EVENT)) ?? "", /could not run: /);
});

Deno.test("runHook kills a hook that runs too long", async () => {
  assert.equal(
    await runHook(["sleep", "600"], EVENT, { timeoutMs: 100 }),
    "Notification hook sleep was killed by SIGKILL",
  );
});

Deno.test("runHook's timeout also ends what the hook started in the background", async () => {
  await using dir = await tempDir();
  const pidFile = `${dir.path}/background.pid`;
  const script = `sleep 600 & echo $! > '${pidFile}'; wait`;
  assert.equal(
    await runHook(["sh", "-c", script], EVENT, { timeoutMs: 300 }),
    "Notification hook sh was killed by SIGKILL",
  );
  assert.ok(await processGone(pidFile), "the hook's background job outlived the timeout");
});

Deno.test("runHook reports a hook killed by a signal", async () => {
  assert.equal(
    await runHook(["sh", "-c", "kill -TERM $$"], EVENT),
    "Notification hook sh was killed by SIGTERM",
  );
});

Deno.test("runHook never rejects, even for an empty command", async () => {
  const result = await runHook([], EVENT);
  assert.equal(typeof result, "string");
  assert.match(result!, /could not run/);
});
