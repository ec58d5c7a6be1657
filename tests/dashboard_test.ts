// The dashboard's HTTP API, in-process against a real release server and install root: every
// route, the refusals (token, Host, Origin), one action at a time, and that the API serves the
// same status document as `status --json`.
import assert from "node:assert/strict";
import { ConfigError } from "../lib/core/errors.ts";
import { testEnv } from "../lib/core/env.ts";
import { serveDashboard } from "../dashboard/server.ts";
import { isLoopback, refusal } from "../dashboard/security.ts";
import { loadConfig } from "../lib/core/config.ts";
import { readStatus } from "../lib/root/status.ts";
import { updaterStatus } from "../lib/self/status.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { acquireLock } from "../lib/root/lock.ts";
import { dashboardWorld, rawRequest, readEvents } from "./_dashboard.ts";
import { launch } from "./_e2e.ts";

const ROUTES: [string, string][] = [
  ["GET", "/"],
  ["GET", "/api/status"],
  ["GET", "/api/channels"],
  ["GET", "/api/events"],
  ["POST", "/api/check"],
  ["POST", "/api/update"],
  ["POST", "/api/channel"],
  ["POST", "/api/rollback"],
  ["POST", "/api/confirm"],
];

Deno.test("GET /api/status is the status document of status --json", async () => {
  await using d = await dashboardWorld();
  const answer = await d.api("/api/status");
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(answer.headers.get("cache-control"), "no-store");
  assert.equal(answer.json.current.version, "1.1.0");
  assert.deepEqual(answer.json.backups.map((b: { version: string }) => b.version), ["1.0.0"]);
  const { config } = await loadConfig(d.world.configPath, { explicit: true });
  const { updater, cohort, ...install } = answer.json;
  assert.deepEqual(install, await readStatus(d.layout, config, { platform: d.platform }));
  assert.equal(cohort, null); // the status action's: no staged rollout on this channel
  assert.deepEqual(updater, await updaterStatus(d.layout)); // this process's updater: from source
  const cli = await d.world.cli(["status", "--json"]);
  assert.equal(cli.code, 0, cli.stderr);
  // The same document, but for the file each updater runs from (the CLI's is main.ts).
  const fromCli = JSON.parse(cli.stdout);
  assert.match(fromCli.updater.path, /\/main\.ts$/);
  assert.deepEqual(
    { ...fromCli, updater: { ...fromCli.updater, path: updater.path } },
    answer.json,
  );
});

Deno.test("GET /api/channels lists each channel's newest release, notes and decision", async () => {
  await using d = await dashboardWorld();
  await d.world.publish("canary", "1.2.0-canary.1", { notes: "Faster <startup> & more" });
  const answer = await d.api("/api/channels");
  assert.equal(answer.status, 200);
  const [stable, canary] = answer.json.channels;
  assert.deepEqual(
    [stable.name, stable.configured, stable.available.version, stable.available.notes],
    ["stable", true, "1.1.0", null],
  );
  assert.deepEqual(stable.decision.reason, "up-to-date");
  assert.deepEqual(
    [canary.name, canary.configured, canary.available.version, canary.available.notes],
    ["canary", false, "1.2.0-canary.1", "Faster <startup> & more"],
  );
  assert.deepEqual(canary.decision.action, "update");
  assert.equal(canary.error, null);
});

Deno.test("GET /api/channels reports a channel that cannot be fetched, without failing", async () => {
  await using d = await dashboardWorld();
  const answer = await d.api("/api/channels");
  assert.equal(answer.status, 200);
  const canary = answer.json.channels[1];
  assert.equal(canary.available, null);
  assert.match(canary.error, /HTTP 404/);
});

Deno.test("GET / renders the status without JavaScript, escaped, with no external asset", async () => {
  await using d = await dashboardWorld();
  await d.world.publish("canary", "1.2.0-canary.1", { notes: "<script>alert(1)</script>" });
  const response = await fetch(d.dashboard.url);
  const html = await response.text();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  const csp = response.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'; script-src 'nonce-[\w-]+'/);
  assert.equal(response.headers.get("referrer-policy"), "no-referrer");
  assert.match(html, /<span id="current-version">1\.1\.0<\/span>/);
  assert.match(html, /<span id="channel">stable<\/span>/);
  assert.match(html, /id="backup-1_0_0"><h3><span class="version">1\.0\.0<\/span>/);
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "notes are escaped");
  assert.ok(!html.includes("<script>alert(1)"), "notes are never markup");
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, "no external script, style or font");
  // The one link element is the inline icon: no stylesheet or font is fetched.
  assert.deepEqual([...html.matchAll(/<link [^>]*>/g)].map((m) => m[0]), [
    '<link rel="icon" href="data:,">',
  ]);
  assert.match(html, /<meta name="viewport"/);
  // Every form carries the token; every action is a button (keyboard-usable).
  const forms = [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(forms.length >= 4, `forms: ${forms}`);
  for (const action of forms) assert.ok(action.endsWith(`?token=${d.dashboard.token}`), action);
  // The scripts and styles are the nonce-allowed inline ones.
  const nonce = /nonce-([\w-]+)/.exec(csp)![1];
  for (const tag of html.matchAll(/<(script|style)\b([^>]*)>/g)) {
    assert.equal(tag[2], ` nonce="${nonce}"`);
  }
});

Deno.test("every route refuses a request without the token, or with a wrong one", async () => {
  await using d = await dashboardWorld();
  const before = await Deno.readTextFile(`${d.world.root}/state.json`);
  for (const [method, path] of ROUTES) {
    const none = await fetch(`${d.dashboard.origin}${path}`, { method });
    assert.equal(none.status, 401, `${method} ${path}`);
    assert.deepEqual(await none.json(), {
      error: "Refused: no token; open the URL printed by ms11-update dashboard",
    });
    const wrong = await fetch(`${d.dashboard.origin}${path}?token=${d.dashboard.token}x`, {
      method,
    });
    assert.equal(wrong.status, 401, `${method} ${path}`);
    assert.deepEqual(await wrong.json(), {
      error: "Refused: wrong token; open the URL printed by ms11-update dashboard",
    });
  }
  assert.equal(await Deno.readTextFile(`${d.world.root}/state.json`), before);
});

Deno.test("the token may come in the X-MS11-Token header instead of the URL", async () => {
  await using d = await dashboardWorld();
  const response = await fetch(`${d.dashboard.origin}/api/status`, {
    headers: { "x-ms11-token": d.dashboard.token },
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).schema, 2);
});

Deno.test("a Host header other than this server by address is refused (DNS rebinding)", async () => {
  await using d = await dashboardWorld();
  const port = d.dashboard.port;
  const path = `/api/status?token=${d.dashboard.token}`;
  for (const host of [`evil.example:${port}`, `127.0.0.1:${port + 1}`, "127.0.0.1", ""]) {
    const answer = await rawRequest(port, { path, headers: { host } });
    assert.equal(answer.status, 403, host);
    const json = JSON.parse(
      answer.body.slice(answer.body.indexOf("{"), answer.body.lastIndexOf("}") + 1),
    );
    assert.deepEqual(json, {
      error: `Refused: Host ${
        JSON.stringify(host)
      } is not this dashboard (expected 127.0.0.1:${port} or localhost:${port})`,
    });
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
    const answer = await rawRequest(port, { path, headers: { host } });
    assert.equal(answer.status, 200, host);
  }
});

Deno.test("a cross-origin POST is refused and changes nothing", async () => {
  await using d = await dashboardWorld();
  const before = await Deno.readTextFile(`${d.world.root}/state.json`);
  const response = await fetch(`${d.dashboard.origin}/api/rollback?token=${d.dashboard.token}`, {
    method: "POST",
    headers: { origin: "https://evil.example", "content-type": "application/json" },
    body: JSON.stringify({ to: "1.0.0" }),
  });
  assert.equal(response.status, 403);
  assert.deepEqual(await response.json(), {
    error:
      `Refused: cross-origin request from https://evil.example (only http://127.0.0.1:${d.dashboard.port} may call this dashboard)`,
  });
  const crossSite = await fetch(`${d.dashboard.origin}/api/check?token=${d.dashboard.token}`, {
    method: "POST",
    headers: { "sec-fetch-site": "cross-site" },
  });
  assert.equal(crossSite.status, 403);
  assert.deepEqual(await crossSite.json(), { error: "Refused: cross-site request" });
  assert.equal(await Deno.readTextFile(`${d.world.root}/state.json`), before);
  assert.equal(await launch(d.world.root), "MS11 1.1.0");
  // The page's own origin is accepted.
  const same = await fetch(`${d.dashboard.origin}/api/check?token=${d.dashboard.token}`, {
    method: "POST",
    headers: { origin: d.dashboard.origin },
  });
  assert.equal(same.status, 200);
  await same.body?.cancel();
});

Deno.test("unknown paths answer 404 and wrong methods 405 with Allow", async () => {
  await using d = await dashboardWorld();
  const missing = await d.api("/api/nothing");
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: "No such page: /api/nothing" });
  const get = await d.api("/api/check");
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  assert.deepEqual(get.json, { error: "Method GET is not allowed on /api/check" });
  const post = await d.api("/api/status", { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET");
});

Deno.test("POST /api/check checks the channel and pushes progress and completion", async () => {
  await using d = await dashboardWorld();
  await using events = await readEvents(d.dashboard);
  await events.waitFor((e) => e.event === "state");
  await d.world.publish("stable", "1.2.0", { notes: "Bug fixes" });
  const answer = await d.api("/api/check", { body: {} });
  assert.equal(answer.status, 200);
  assert.equal(answer.json.ok, true);
  assert.equal(answer.json.message, "Update available: 1.1.0 -> 1.2.0 on stable");
  assert.deepEqual(
    [answer.json.result.available, answer.json.result.notes, answer.json.result.update_available],
    ["1.2.0", "Bug fixes", true],
  );
  const last = await events.waitFor((e) => e.event === "progress" && e.data.percent === 100);
  assert.deepEqual([last.data.action, last.data.phase, last.data.text], [
    "check",
    "check",
    "Checking 1 / 1 (100%)",
  ]);
  const done = await events.waitFor((e) => e.event === "done");
  assert.equal(done.data.outcome.message, "Update available: 1.1.0 -> 1.2.0 on stable");
  const status = await d.api("/api/status");
  assert.deepEqual(
    [status.json.last_check.available, status.json.last_check.decision, status.json.staged],
    ["1.2.0", "update", null],
  );
});

Deno.test("POST /api/update downloads and stages with byte progress to 100%", async () => {
  await using d = await dashboardWorld();
  await using events = await readEvents(d.dashboard);
  const artifact = `${d.world.dir}/big-1.2.0`;
  const body = `#!/bin/sh\necho "MS11 1.2.0"\n#${"x".repeat(3 * 1024 * 1024)}\n`;
  await Deno.writeTextFile(artifact, body, { mode: 0o755 });
  await d.world.publish("stable", "1.2.0", { artifact });
  const answer = await d.api("/api/update", { body: {} });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(
    answer.json.message,
    "Staged 1.2.0 from stable (1.1.0 -> 1.2.0; downloaded and verified 3.0 MiB); it is applied at the next launch",
  );
  assert.deepEqual([answer.json.result.staged, answer.json.result.downloaded], ["1.2.0", true]);
  const full = await events.waitFor((e) =>
    e.event === "progress" && e.data.phase === "download" && e.data.percent === 100
  );
  assert.equal(full.data.done, body.length);
  assert.equal(full.data.total, body.length);
  assert.match(full.data.text, /^Downloading 3\.0 MiB \/ 3\.0 MiB \(100%\)/);
  const status = await d.api("/api/status");
  assert.equal(status.json.staged.version, "1.2.0");
  assert.equal(await launch(d.world.root), "MS11 1.1.0", "applied only at the next launch");
});

Deno.test("POST /api/channel switches channel in the config file, keeping other settings", async () => {
  const events: string[] = [];
  await using d = await dashboardWorld({
    dashboard: { onEvent: (e) => events.push(`${e.type}: ${e.message}`) },
  });
  await d.world.publish("canary", "1.2.0-canary.1");
  const answer = await d.api("/api/channel", { body: { channel: "canary" } });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(answer.json.message, "Switched channel stable -> canary");
  const saved = JSON.parse(await Deno.readTextFile(d.world.configPath));
  assert.equal(saved.channel, "canary");
  assert.equal(saved.max_retry_attempts, 1);
  assert.deepEqual(events, [
    `channel_changed: Channel changed: stable -> canary (saved in ${d.world.configPath})`,
  ]);
  assert.equal((await d.api("/api/status")).json.channel, "canary");
  const unknown = await d.api("/api/channel", { body: { channel: "nightly" } });
  assert.equal(unknown.status, 400);
  assert.equal(
    unknown.json.error,
    'Unknown channel "nightly": configured channels are stable, canary',
  );
  const missing = await d.api("/api/channel", { body: {} });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error, "Field channel is required: the channel to switch to");
});

Deno.test("switching to a channel whose newest release is lower asks first", async () => {
  await using d = await dashboardWorld();
  await d.world.publish("canary", "1.0.5");
  const config = await Deno.readTextFile(d.world.configPath);
  const ask = await d.api("/api/channel", { body: { channel: "canary" } });
  assert.equal(ask.status, 409);
  assert.equal(ask.json.ok, false);
  assert.deepEqual(ask.json.confirmation_required, {
    channel: "canary",
    available: "1.0.5",
    current: "1.1.0",
    risk: null,
  });
  assert.equal(
    ask.json.message,
    `canary's newest release 1.0.5 is lower than the installed 1.1.0: confirm the switch (downgrade "install" or "keep")`,
  );
  assert.equal(await Deno.readTextFile(d.world.configPath), config, "nothing saved yet");
  const page = await (await fetch(d.dashboard.url)).text();
  assert.match(page, /id="confirm-downgrade"/);
  assert.match(page, /Switch and install 1\.0\.5 \(downgrade\)/);

  const bad = await d.api("/api/channel", { body: { channel: "canary", downgrade: "yes" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'Field downgrade must be "install" or "keep", got "yes"');

  const keep = await d.api("/api/channel", { body: { channel: "canary", downgrade: "keep" } });
  assert.equal(keep.status, 200);
  assert.equal(
    keep.json.message,
    "Switched channel stable -> canary; keeping 1.1.0 until canary catches up",
  );
  assert.equal((await d.api("/api/status")).json.staged, null);
});

Deno.test("switching with downgrade install stages the lower release", async () => {
  await using d = await dashboardWorld();
  await d.world.publish("canary", "1.0.5");
  const answer = await d.api("/api/channel", { body: { channel: "canary", downgrade: "install" } });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(
    answer.json.message,
    "Switched channel stable -> canary; staged 1.0.5 from canary (a downgrade: 1.1.0 -> 1.0.5; downloaded and verified 28 B); it is applied at the next launch",
  );
  const status = (await d.api("/api/status")).json;
  assert.deepEqual([status.channel, status.staged.version], ["canary", "1.0.5"]);
});

Deno.test("POST /api/rollback restores the chosen backup; a missing one is refused", async () => {
  await using d = await dashboardWorld();
  await using events = await readEvents(d.dashboard);
  const none = await d.api("/api/rollback", { body: { to: "0.9.0" } });
  assert.equal(none.status, 400);
  assert.equal(none.json.error, `No backup 0.9.0 in ${d.world.root} (backups: 1.0.0)`);
  const bad = await d.api("/api/rollback", { body: { to: "../x" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'Field to must be a version, got "../x"');
  const answer = await d.api("/api/rollback", { body: { to: "1.0.0" } });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(
    answer.json.message,
    "Rolled back 1.1.0 -> 1.0.0; updates skip 1.1.0 until a newer release",
  );
  assert.equal(await launch(d.world.root), "MS11 1.0.0");
  await events.waitFor((e) =>
    e.event === "progress" && e.data.phase === "rollback" && e.data.percent === 100
  );
  const status = (await d.api("/api/status")).json;
  assert.deepEqual(status.backups.map((b: { version: string }) => b.version), ["1.1.0"]);
  assert.equal(status.recent_events.at(-1).event, "rolled_back");
  assert.equal(status.recent_events.at(-1).reason, "rolled back from the dashboard");
});

Deno.test("a failed action is recorded as last_error and shown on the page", async () => {
  await using d = await dashboardWorld();
  await d.world.writeConfig({ channel: "canary" });
  const answer = await d.api("/api/check", { body: {} });
  assert.equal(answer.status, 500);
  assert.match(answer.json.error, /HTTP 404/);
  const status = (await d.api("/api/status")).json;
  assert.equal(status.last_error.command, "check");
  assert.equal(status.last_error.message, answer.json.error);
  const page = await (await fetch(d.dashboard.url)).text();
  assert.match(
    page,
    /<p id="outcome" role="status" class="fail"><svg [^]*?<\/svg><span>Failed while checking: Fetch [^<]*HTTP 404[^<]* <span class="muted">\(check, <time/,
  );
  // The build on trial matters more; the header names the failing checks beside it.
  assert.match(page, /<section id="status" class="banner tone-warn" data-state="trial"/);
  assert.match(page, /<ul id="status-also"><li>Checks have failed since [^<]*: Fetch [^<]*404/);
  // Once the trial is over, they are the headline.
  assert.equal((await d.api("/api/confirm", { body: {} })).status, 200);
  const after = await (await fetch(d.dashboard.url)).text();
  assert.match(after, /<section id="status" class="banner tone-bad" data-state="failing"/);
  assert.match(
    after,
    /<h2 id="status-title" tabindex="-1">Check failing since \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/h2>/,
  );
  assert.match(after, /<p>1 failed attempt, the last [^:]+:\d\d UTC: Fetch [^<]*404[^<]*<\/p>/);
});

Deno.test("one action at a time: a second one is refused while the first runs", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  let entered: () => void = () => {};
  const waiting = new Promise<void>((resolve) => entered = resolve);
  let hold = false;
  await using d = await dashboardWorld({
    dashboard: {
      env: {
        now: () => new Date(),
        fetch: async (input, init) => {
          if (hold) {
            hold = false;
            entered();
            await gate;
          }
          return await fetch(input, init);
        },
      },
    },
  });
  hold = true;
  const first = d.api("/api/check", { body: {} });
  await waiting;
  const second = await d.api("/api/rollback", { body: { to: "1.0.0" } });
  assert.equal(second.status, 409);
  assert.match(
    second.json.error,
    /^Another action is running: check \(started \d{4}-\d\d-\d\dT[\d:.]+Z\); try again when it finishes$/,
  );
  try {
    const page = await (await fetch(d.dashboard.url.replace("/?", "/?x=1&"))).text();
    assert.match(
      page,
      /<p id="busy"><span class="spinner" aria-hidden="true"><\/span>Running: check/,
    );
    assert.match(page, /<button type="submit" id="check-now" class="secondary" disabled>/);
  } finally {
    release();
  }
  assert.equal((await first).status, 200);
  assert.equal(await launch(d.world.root), "MS11 1.1.0", "the refused rollback did nothing");
});

Deno.test("a plain form post (no JavaScript) runs the action and redirects to the page", async () => {
  await using d = await dashboardWorld();
  const response = await fetch(`${d.dashboard.origin}/api/rollback?token=${d.dashboard.token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "to=1.0.0",
    redirect: "manual",
  });
  await response.body?.cancel();
  assert.equal(response.status, 303);
  assert.equal(response.headers.get("location"), `/?token=${d.dashboard.token}`);
  assert.equal(await launch(d.world.root), "MS11 1.0.0");
  const page = await (await fetch(d.dashboard.url)).text();
  assert.ok(page.includes("Rolled back 1.1.0 -&gt; 1.0.0"), "the outcome is on the page");
});

Deno.test("POST /api/confirm commits the build on trial", async () => {
  await using d = await dashboardWorld();
  const before = await d.api("/api/status");
  assert.equal(before.json.trial.version, "1.1.0");
  const answer = await d.api("/api/confirm", { body: {} });
  assert.equal(answer.status, 200);
  assert.equal(
    answer.json.message,
    "Confirmed 1.1.0 after 1 launch: it stays current and is no longer rolled back automatically",
  );
  const after = await d.api("/api/status");
  assert.equal(after.json.trial, null);
  assert.equal(after.json.recent_events.at(-1).event, "confirmed");
  const again = await d.api("/api/confirm", { body: {} });
  assert.equal(again.json.message, "No build is on trial; nothing to confirm");
});

Deno.test("GET /api/events is an event stream that starts with the state", async () => {
  await using d = await dashboardWorld();
  const response = await fetch(`${d.dashboard.origin}/api/events?token=${d.dashboard.token}`);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  assert.equal(value, `event: state\ndata: {"busy":null,"outcome":null}\n\n`);
  await reader.cancel();
});

Deno.test("malformed bodies are refused with 400", async () => {
  await using d = await dashboardWorld();
  const response = await fetch(`${d.dashboard.origin}/api/rollback?token=${d.dashboard.token}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{nope",
  });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error, 'Request body must be JSON or a form, got "{nope"');
  const big = await d.api("/api/check", { body: { channel: "x".repeat(20_000) } });
  assert.equal(big.status, 400);
  assert.equal(big.json.error, "Request body is larger than 16384 bytes");
});

Deno.test("the dashboard listens on loopback only unless allowRemote", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/builds`); // an install, nothing current yet
  try {
    const options = { configPath: `${dir}/c.json`, platform: "linux-x64" };
    assert.throws(
      () => serveDashboard(layoutOf(dir), { ...options, hostname: "0.0.0.0" }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          "Refusing to serve the dashboard on 0.0.0.0: it can change this install, so it listens on loopback only; pass --allow-remote if you mean it",
    );
    const remote = serveDashboard(layoutOf(dir), {
      ...options,
      hostname: "0.0.0.0",
      allowRemote: true,
    });
    try {
      const port = remote.port;
      const path = `/api/status?token=${remote.token}`;
      assert.equal(
        (await rawRequest(port, { path, headers: { host: `10.1.2.3:${port}` } })).status,
        200,
      );
      assert.equal(
        (await rawRequest(port, { path, headers: { host: `ms11.example:${port}` } })).status,
        403,
        "a DNS name is refused even when remote access is allowed",
      );
    } finally {
      await remote.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("refusal and isLoopback decide without I/O", () => {
  const options = { port: 9000, token: "secret", allowRemote: false };
  const url = new URL("http://127.0.0.1:9000/?token=secret");
  assert.equal(refusal(url, new Headers({ host: "127.0.0.1:9000" }), options), null);
  assert.equal(refusal(url, new Headers({ host: "localhost:9000" }), options), null);
  assert.equal(refusal(url, new Headers({ host: "10.0.0.1:9000" }), options)?.status, 403);
  assert.equal(
    refusal(url, new Headers({ host: "127.0.0.1:9000", origin: "http://localhost:9000" }), options)
      ?.status,
    403,
  );
  assert.equal(
    refusal(new URL("http://x/?token=secreT"), new Headers({ host: "127.0.0.1:9000" }), options)
      ?.status,
    401,
  );
  assert.deepEqual(["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"].map(isLoopback), [
    true,
    true,
    true,
    true,
    true,
  ]);
  assert.deepEqual(["0.0.0.0", "::", "10.0.0.1", "localhost.evil.example"].map(isLoopback), [
    false,
    false,
    false,
    false,
  ]);
});

Deno.test("an install lock held by another ms11-update answers 409 naming it", async () => {
  await using d = await dashboardWorld({ dashboard: { lockWaitMs: 0 } });
  using _held = await acquireLock(d.layout);
  const answer = await d.api("/api/rollback", { body: { to: "1.0.0" } });
  assert.equal(answer.status, 409);
  assert.equal(
    answer.json.error,
    `Install lock ${d.layout.lock} is held by another ms11-update (pid ${Deno.pid}); try again when it finishes`,
  );
  assert.equal(await launch(d.world.root), "MS11 1.1.0");
});

Deno.test("one-time links: once, within 60 s, from this server's own origin; HEAD does not use one up", async () => {
  const env = testEnv(new Date("2026-11-27T12:00:00.000Z"));
  await using d = await dashboardWorld({ empty: true, dashboard: { env } });
  const get = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, { redirect: "manual", headers });
  // An unknown code, and a link with no code.
  for (const url of [`${d.dashboard.origin}/open?code=nope`, `${d.dashboard.origin}/open`]) {
    const r = await get(url);
    assert.equal(r.status, 401);
    assert.match((await r.json()).error, /^Refused: this one-time link is not valid/);
  }
  // Another site cannot redeem one (a cross-site navigation, a foreign Origin).
  const link = d.dashboard.openUrl();
  const path = new URL(link).pathname + new URL(link).search;
  const foreign = await rawRequest(d.dashboard.port, {
    path,
    headers: { host: `127.0.0.1:${d.dashboard.port}`, "sec-fetch-site": "cross-site" },
  });
  assert.equal(foreign.status, 403);
  const rebound = await rawRequest(d.dashboard.port, {
    path,
    headers: { host: `evil.example:${d.dashboard.port}` },
  });
  assert.equal(rebound.status, 403);
  // A HEAD (a link preview) leaves it usable.
  const head = await fetch(link, { method: "HEAD", redirect: "manual" });
  assert.equal(head.status, 401);
  const used = await get(link);
  await used.body?.cancel();
  assert.equal(used.status, 303);
  const cookie = used.headers.get("set-cookie")!.split(";")[0];
  // The session opens every route; a made-up one opens none.
  const status = await get(`${d.dashboard.origin}/api/status`, { cookie });
  assert.equal(status.status, 200);
  await status.body?.cancel();
  const forged = await get(`${d.dashboard.origin}/api/status`, { cookie: "ms11_session=x" });
  assert.equal(forged.status, 401);
  await forged.body?.cancel();
  // A link not opened within 60 s expires.
  const late = d.dashboard.openUrl();
  env.advance(60_001);
  const expired = await get(late);
  assert.equal(expired.status, 401);
  await expired.body?.cancel();
});
