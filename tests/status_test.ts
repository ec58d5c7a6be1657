import assert from "node:assert/strict";
import { defaultConfig, validateConfig } from "../lib/core/config_schema.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { emptyState } from "../lib/root/state.ts";
import { holdBack, markApplied, markConfirmed, markRejected } from "../lib/root/lifecycle.ts";
import { readStatus, STATUS_SCHEMA, type StatusDocument } from "../lib/root/status.ts";
import { buildRecord, makeRoot, namesIn, rejectsWith, tempDir } from "./_helpers.ts";

const T1 = "2026-11-10T00:00:00.000Z";
const T2 = "2026-11-15T00:00:00.000Z";
const T3 = "2026-11-20T00:00:00.000Z";

Deno.test("readStatus of an empty root", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(`${dir.path}/root`);
  const status = await readStatus(layout, defaultConfig(), { platform: "linux-x64" });
  const expected: StatusDocument = {
    schema: 2,
    root: layout.root,
    channel: "stable",
    channel_info: {
      description: "Production-ready releases: weekly, thoroughly tested",
      risk: "low",
      check_interval_hours: 24,
    },
    platform: "linux-x64",
    current: null,
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
    trust: { file: layout.trust, problem: null, channels: {} },
    mirror: null,
  };
  assert.deepEqual(status, expected);
  assert.equal(STATUS_SCHEMA, 2);
  // Reads only.
  assert.deepEqual(await namesIn(dir.path), []);
});

Deno.test("readStatus of a populated root", async () => {
  await using dir = await tempDir();
  const state = emptyState();
  state.builds = {
    "1.0.0": buildRecord("1.0.0", { retired_at: T1 }),
    "1.1.0": buildRecord("1.1.0", { retired_at: T2, channel: "canary" }),
    "1.2.0": buildRecord("1.2.0", { installed_at: T2 }),
    "1.3.0": buildRecord("1.3.0", { installed_at: T3 }),
  };
  state.staged = { version: "1.3.0", channel: "stable", staged_at: T3 };
  state.last_check = {
    at: T3,
    channel: "stable",
    current: "1.2.0",
    available: "1.3.0",
    decision: "update",
  };
  state.last_error = { at: T1, command: "check", message: "Manifest fetch failed" };
  // The canary manifest was last served by a mirror; stable's record is not the channel shown.
  state.manifests = {
    canary: {
      url: "https://cdn.ms11.com/canary/manifest.json",
      etag: null,
      last_modified: null,
      body: "{}",
      checked_at: T3,
    },
    stable: {
      url: "https://updates.ms11.com/stable/manifest.json",
      etag: null,
      last_modified: null,
      body: "{}",
      checked_at: T1,
    },
  };
  markConfirmed(state.lifecycle, { version: "1.0.0", channel: "stable" }, { at: T1 });
  markRejected(state.lifecycle, { version: "1.1.0", channel: "canary" }, {
    at: T2,
    reason: "1.1.0 crashed",
  });
  holdBack(state.lifecycle, { version: "1.2.0", channel: "stable" }, {
    at: T2,
    reason: "rolled back by hand",
  });
  markApplied(state.lifecycle, { version: "1.2.0", channel: "stable" }, { at: T3, fallback: true });
  const layout = await makeRoot(dir.path, {
    builds: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"],
    current: "1.2.0",
    state,
  });
  const config = validateConfig({ keep_backups_count: 5 });
  const events = Array.from(
    { length: 12 },
    (_, i) => ({ at: T3, event: "checked", reason: `check ${i}` }),
  );
  await Deno.mkdir(`${layout.root}/logs`);
  await Deno.writeTextFile(
    layout.audit,
    events.map((e) => JSON.stringify(e)).join("\n") + '\n{"cut short by a cra',
  );
  const before = await Deno.readTextFile(layout.state);
  const status = await readStatus(layout, config, { platform: "darwin-arm64", channel: "canary" });
  assert.deepEqual(status, {
    schema: 2,
    root: layout.root,
    channel: "canary",
    channel_info: {
      description: "Early access releases: daily, experimental, for testers and advanced users",
      risk: "high",
      check_interval_hours: 6,
    },
    platform: "darwin-arm64",
    current: {
      version: "1.2.0",
      channel: "stable",
      installed_at: T2,
      lifecycle: {
        state: "trial",
        at: T3,
        reason: "swapped in; on trial until confirmed healthy",
        held: null,
      },
    },
    staged: { version: "1.3.0", channel: "stable", staged_at: T3 },
    backups: [
      {
        version: "1.1.0",
        channel: "canary",
        installed_at: buildRecord("x").installed_at,
        retired_at: T2,
        lifecycle: { state: "rejected", at: T2, reason: "1.1.0 crashed", held: null },
      },
      {
        version: "1.0.0",
        channel: "stable",
        installed_at: buildRecord("x").installed_at,
        retired_at: T1,
        lifecycle: {
          state: "confirmed",
          at: T1,
          reason: "confirmed healthy",
          held: null,
        },
      },
    ],
    keep_backups: 5,
    last_check: state.last_check,
    last_error: state.last_error,
    state_problem: null,
    recent_events: events.slice(-10),
    controls: null,
    current_yanked: null,
    trial: null,
    rejected: [{ version: "1.1.0", channel: "canary", reason: "1.1.0 crashed", at: T2 }],
    held: [],
    trust: { file: layout.trust, problem: null, channels: {} },
    mirror: { base_url: "https://cdn.ms11.com/canary", checked_at: T3 },
  });
  // The document is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(status)), status);
  assert.equal(await Deno.readTextFile(layout.state), before);
});

Deno.test("readStatus: a current build without a record, and a broken state file", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0", "0.9.0"], current: "1.0.0" });
  await Deno.writeTextFile(layout.state, "not json");
  const status = await readStatus(layout, defaultConfig(), { platform: "linux-x64" });
  assert.deepEqual(status.current, {
    version: "1.0.0",
    channel: null,
    installed_at: null,
    lifecycle: null,
  });
  assert.deepEqual(status.backups, [
    { version: "0.9.0", channel: null, installed_at: null, retired_at: null, lifecycle: null },
  ]);
  assert.equal(
    status.state_problem,
    `State file ${layout.state} is not valid JSON; starting afresh`,
  );
  assert.equal(await Deno.readTextFile(layout.state), "not json");
  // With no trust file yet, the unreadable state file may have held an old client's trust
  // records: manifests are refused until `trust reset` (lib/root/trust_state.ts).
  assert.match(
    status.trust.problem!,
    /^Trust state was lost: .*, cannot be read: manifests for every channel are refused/,
  );
});

Deno.test("readStatus: a state file from a newer ms11-update is an error", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0"], current: "1.0.0" });
  await Deno.writeTextFile(layout.state, JSON.stringify({ schema: 3 }));
  await rejectsWith(
    readStatus(layout, defaultConfig(), { platform: "linux-x64" }),
    RangeError,
    `State file ${layout.state} has schema 3, newer than this ms11-update understands (2); update ms11-update`,
  );
});
