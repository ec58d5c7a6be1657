// dashboard/_header.ts: the status header's every state, from status documents, channel probes
// and histories written by hand; the first state that applies wins.
import assert from "node:assert/strict";
import type { ChannelProbe } from "../lib/actions/channel.ts";
import { historyOf } from "../lib/root/history.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import { headline, type HeadlineInput } from "../dashboard/_header.ts";

const AT = "2026-11-27T09:12:01.000Z";

function status(extra: Partial<StatusDocument> = {}): StatusDocument {
  return {
    schema: 2,
    root: "/opt/ms11",
    channel: "stable",
    channel_info: { description: "Production", risk: "low", check_interval_hours: 24 },
    platform: "linux-x64",
    current: {
      version: "1.1.0",
      channel: "stable",
      installed_at: AT,
      lifecycle: { state: "confirmed", at: AT, reason: "confirmed healthy", held: null },
    },
    staged: null,
    backups: [],
    keep_backups: 2,
    last_check: null,
    last_error: null,
    state_problem: null,
    recent_events: [],
    controls: null,
    current_yanked: null,
    trial: null,
    rejected: [],
    held: [],
    trust: { file: "/opt/ms11/trust.json", problem: null, channels: {} },
    mirror: null,
    cohort: null,
    ...extra,
  };
}

function input(extra: Partial<HeadlineInput> = {}): HeadlineInput {
  return { status: status(), channel: null, history: historyOf([]), ...extra };
}

function probe(decision: ChannelProbe["decision"]): ChannelProbe {
  return {
    name: "stable",
    description: "Production",
    risk: "low",
    configured: true,
    available: { version: "1.2.0", released_at: AT, notes: null, size: 9 },
    decision,
    error: null,
  };
}

const swaps = [
  { at: "2026-11-26T10:00:00.000Z", event: "applied", reason: "x", from: null, to: "1.1.0" },
  { at: "2026-11-27T10:00:00.000Z", event: "applied", reason: "x", from: "1.1.0", to: "1.2.0" },
];
const failures = [
  { at: "2026-11-27T11:00:00.000Z", event: "failed", reason: "HTTP 503", command: "check" },
  { at: "2026-11-27T12:30:00.000Z", event: "failed", reason: "HTTP 404", command: "update" },
];

Deno.test("headline: healthy, with what the last check or the channel said", () => {
  let h = headline(input());
  assert.deepEqual([h.state, h.tone, h.title], ["healthy", "good", "Healthy"]);
  assert.deepEqual(h.detail, [
    "1.1.0 from stable is installed and confirmed healthy.",
    "It has not been checked for updates yet.",
  ]);
  assert.deepEqual([h.next.say, h.next.forms.map((f) => f.id)], ["Nothing to do", ["next-check"]]);
  const checked = status({
    last_check: {
      at: AT,
      channel: "stable",
      current: "1.1.0",
      available: "1.1.0",
      decision: "up-to-date",
    },
    current: { version: "1.1.0", channel: "stable", installed_at: AT, lifecycle: null },
  });
  h = headline(input({ status: checked }));
  assert.deepEqual(h.detail, [
    "1.1.0 from stable is installed.",
    "Up to date when last checked, 2026-11-27 09:12 UTC.",
  ]);
  h = headline(input({
    channel: probe({
      action: "none",
      reason: "up-to-date",
      message: "Up to date: 1.1.0 on stable",
    }),
  }));
  assert.equal(h.detail[1], "Up to date: 1.1.0 on stable");
});

Deno.test("headline: not installed, and with a build staged for the first start", () => {
  let h = headline(input({ status: status({ current: null }) }));
  assert.deepEqual([h.state, h.tone, h.title], ["not-installed", "neutral", "Not installed"]);
  assert.deepEqual(h.detail, ["Nothing is installed in /opt/ms11 yet."]);
  assert.deepEqual(h.next.forms.map((f) => [f.id, f.label]), [
    ["next-update", "Download and stage the newest release"],
  ]);
  const staged = { version: "1.0.0", channel: "stable", staged_at: AT };
  h = headline(input({ status: status({ current: null, staged }) }));
  assert.equal(h.next.say, "Start MS11: its launcher installs the staged build");
  assert.deepEqual(h.next.forms, []);
});

Deno.test("headline: a trust problem blocks updates, before everything else installed", () => {
  const problem =
    "Trust state file /opt/ms11/trust.json is unreadable; run ms11-update trust reset";
  const h = headline(input({
    status: status({
      trust: { file: "/opt/ms11/trust.json", problem, channels: {} },
      trial: { version: "1.1.0", from: "1.0.0", started_at: AT, attempts: 1, max_attempts: 3 },
    }),
  }));
  assert.deepEqual([h.state, h.tone, h.title, h.detail], ["blocked", "bad", "Updates blocked", [
    problem,
  ]]);
});

Deno.test("headline: on trial, launch k of K, with confirm and roll back; without a fallback", () => {
  const trial = { version: "1.2.0", from: "1.1.0", started_at: AT, attempts: 2, max_attempts: 3 };
  const staged = { version: "1.3.0", channel: "stable", staged_at: AT };
  let h = headline(input({
    status: status({ trial, staged }),
    history: historyOf([...swaps, ...failures]),
  }));
  assert.deepEqual([h.state, h.tone, h.title], ["trial", "warn", "On trial: launch 2 of 3"]);
  assert.deepEqual(h.detail, [
    "1.2.0 became current 2026-11-27 09:12 UTC, replacing 1.1.0, and has not been confirmed healthy yet.",
    "If it is not confirmed by launch 3, the launcher rolls back to 1.1.0 by itself.",
  ]);
  assert.deepEqual(h.next.forms.map((f) => [f.id, f.label, f.kind, f.fields]), [
    ["next-confirm", "Confirm 1.2.0 works", "primary", undefined],
    ["next-rollback", "Roll back to 1.1.0", undefined, { to: "1.1.0" }],
  ]);
  assert.deepEqual(h.also, [
    "Checks have failed since 2026-11-27 11:00 UTC: HTTP 404",
    "1.3.0 is staged: the launcher applies it at MS11's next start",
  ]);
  h = headline(input({ status: status({ trial: { ...trial, from: null } }) }));
  assert.equal(h.detail[1], "There is no build to fall back to.");
  assert.deepEqual(h.next.forms.map((f) => f.id), ["next-confirm"]);
});

Deno.test("headline: checks failing since the first failure, from the history or last_error", () => {
  let h = headline(input({ history: historyOf([...swaps.slice(0, 1), ...failures]) }));
  assert.deepEqual([h.state, h.tone, h.title], [
    "failing",
    "bad",
    "Check failing since 2026-11-27 11:00 UTC",
  ]);
  assert.deepEqual(h.detail, [
    "2 failed attempts, the last 2026-11-27 12:30 UTC: HTTP 404",
    "1.1.0 is still installed and runs as before.",
  ]);
  assert.deepEqual(h.next.forms.map((f) => [f.id, f.label]), [["next-check", "Check again now"]]);
  // Without a history (the audit log could not be read), the status's last error says it,
  // unless a check succeeded after it.
  const error = { at: AT, command: "check", message: "Fetch failed" };
  h = headline(input({ history: null, status: status({ last_error: error }) }));
  assert.deepEqual([h.state, h.detail[0]], [
    "failing",
    "1 failed attempt, the last 2026-11-27 09:12 UTC: Fetch failed",
  ]);
  const later = {
    at: "2026-11-27T10:00:00.000Z",
    channel: "stable",
    current: "1.1.0",
    available: "1.1.0",
    decision: "up-to-date",
  };
  h = headline(input({ history: null, status: status({ last_error: error, last_check: later }) }));
  assert.equal(h.state, "healthy");
  const rollbackError = { at: AT, command: "rollback", message: "No backup" };
  h = headline(input({ history: null, status: status({ last_error: rollbackError }) }));
  assert.equal(h.state, "healthy", "a failed rollback is no failing check");
});

Deno.test("headline: an update ready at the next launch", () => {
  const staged = { version: "1.2.0", channel: "stable", staged_at: AT };
  const h = headline(input({ status: status({ staged }) }));
  assert.deepEqual([h.state, h.tone, h.title], ["ready", "info", "Update ready at next launch"]);
  assert.deepEqual(h.detail, [
    "1.2.0 from stable was downloaded, verified and staged 2026-11-27 09:12 UTC.",
    "The launcher swaps it in for 1.1.0 the next time MS11 starts; it runs on trial until confirmed healthy.",
  ]);
  assert.deepEqual([h.next.say, h.next.forms], ["Restart MS11 to use it", []]);
});

Deno.test("headline: rolled back automatically (why), by hand, and with a newer release out", () => {
  const reason = "1.2.0 was not confirmed healthy after 3 launches (health.max_attempts 3)";
  const back = {
    at: "2026-11-27T13:00:00.000Z",
    event: "rolled_back",
    reason,
    from: "1.2.0",
    to: "1.1.0",
    bad: true,
    automatic: true,
  };
  const rejected = [{ version: "1.2.0", channel: "stable", reason, at: back.at }];
  let h = headline(input({ status: status({ rejected }), history: historyOf([...swaps, back]) }));
  assert.deepEqual([h.state, h.tone, h.title], ["rolled-back", "bad", `Rolled back: ${reason}`]);
  assert.deepEqual(h.detail, [
    "Rolled back automatically from 1.2.0 to 1.1.0 at 2026-11-27 13:00 UTC.",
    "1.2.0 is rejected: updates skip it until a newer release.",
  ]);
  assert.deepEqual(h.next.forms.map((f) => [f.id, f.label]), [
    ["next-check", "Check for a newer release"],
  ]);
  // By hand: amber, the reason in the detail; the build rolled back from is held back.
  const hand = { ...back, reason: "rolled back to 1.1.0 by hand", bad: false, automatic: false };
  const held = [{ version: "1.2.0", channel: "stable", reason: hand.reason, at: back.at }];
  h = headline(input({ status: status({ held }), history: historyOf([...swaps, hand]) }));
  assert.deepEqual([h.tone, h.title], ["warn", "Rolled back by hand to 1.1.0"]);
  assert.deepEqual(h.detail, [
    "Rolled back by hand from 1.2.0 to 1.1.0 at 2026-11-27 13:00 UTC: rolled back to 1.1.0 by hand.",
    "1.2.0 is held back: updates skip it until a newer release.",
  ]);
  // A newer release than the one rolled back from: the next action stages it.
  const newer = probe({ action: "update", version: "1.3.0", downgrade: false, message: "x" });
  h = headline(
    input({ status: status({ rejected }), history: historyOf([...swaps, back]), channel: newer }),
  );
  assert.equal(h.state, "rolled-back");
  assert.deepEqual(h.next.forms.map((f) => [f.id, f.label]), [[
    "next-update",
    "Download and stage 1.3.0",
  ]]);
  // Once something else became current, the rollback is history.
  const again = {
    at: "2026-11-28T10:00:00.000Z",
    event: "applied",
    reason: "x",
    from: "1.1.0",
    to: "1.3.0",
  };
  h = headline(input({
    status: status({
      current: { version: "1.3.0", channel: "stable", installed_at: AT, lifecycle: null },
    }),
    history: historyOf([...swaps, back, again]),
  }));
  assert.equal(h.state, "healthy");
});

Deno.test("headline: an update available, from the channel's answer or the last check", () => {
  let h = headline(input({
    channel: probe({ action: "update", version: "1.2.0", downgrade: false, message: "x" }),
  }));
  assert.deepEqual([h.state, h.tone, h.title], ["available", "info", "Update available: 1.2.0"]);
  assert.deepEqual(h.detail, ["stable has 1.2.0; 1.1.0 is installed."]);
  assert.deepEqual(h.next.forms.map((f) => [f.id, f.label, f.route]), [
    ["next-update", "Download and stage 1.2.0", "/api/update"],
  ]);
  const last_check = {
    at: AT,
    channel: "stable",
    current: "1.1.0",
    available: "1.2.0",
    decision: "update",
  };
  h = headline(input({ status: status({ last_check }) }));
  assert.equal(h.title, "Update available: 1.2.0");
  // A live answer that says otherwise wins over the last check; so does another channel.
  h = headline(input({
    status: status({ last_check }),
    channel: probe({ action: "none", reason: "up-to-date", message: "Up to date" }),
  }));
  assert.equal(h.state, "healthy");
  h = headline(input({ status: status({ last_check: { ...last_check, channel: "canary" } }) }));
  assert.equal(h.state, "healthy");
});

Deno.test("headline: a state file problem is listed under any state", () => {
  const h = headline(
    input({ status: status({ state_problem: "State file had unreadable entries" }) }),
  );
  assert.deepEqual([h.state, h.also], ["healthy", ["State file had unreadable entries"]]);
});

Deno.test("headline: a yanked current build is said in the header's extra lines, whatever the state", () => {
  const yanked = { version: "1.1.0", channel: "stable", reason: "crashes at start", at: AT };
  const h = headline(input({ status: status({ current_yanked: yanked }) }));
  assert.equal(h.state, "healthy");
  assert.deepEqual(h.also, [
    "1.1.0 is yanked on stable (crashes at start): MS11's next start leaves it for a backup that ran healthy, if there is one",
  ]);
});
