// Checking a channel: conditional manifest fetches (a 304 costs no body and reuses the cached
// one) and the unattended-run schedule (autoCheckDue).
import assert from "node:assert/strict";
import { autoCheckDue, checkChannel, fetchManifestCached } from "../lib/trust/check.ts";
import { type Config, validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import { emptyState, type State } from "../lib/root/state.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");
const PLATFORM = "linux-x64";

function manifest(version: string): string {
  return JSON.stringify({
    schema: 1,
    channel: "stable",
    version,
    released_at: "2026-11-20T10:00:00Z",
    artifacts: {
      [PLATFORM]: { url: `${version}/ms11`, size: 3, sha256: "a".repeat(64), kind: "executable" },
    },
  });
}

/** A manifest server: answers If-None-Match with 304 when the ETag matches. */
function manifestServer() {
  const state = { body: manifest("1.0.0"), etag: '"m1"', requests: [] as Headers[] };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    state.requests.push(request.headers);
    if (request.headers.get("if-none-match") === state.etag) {
      return new Response(null, { status: 304, headers: { etag: state.etag } });
    }
    return new Response(state.body, {
      headers: { etag: state.etag, "last-modified": "Fri, 20 Nov 2026 10:00:00 GMT" },
    });
  });
  const config = validateConfig({
    update_servers: {
      stable: { base_url: `http://127.0.0.1:${server.addr.port}/stable`, description: "S" },
    },
    security: { require_https: false, allowed_domains: ["127.0.0.1"], verify_signatures: false },
    max_retry_attempts: 1,
  });
  return { state, server, config };
}

Deno.test("a second check sends If-None-Match; the 304 reuses the cached manifest", async () => {
  const { state, server, config } = manifestServer();
  try {
    const env = testEnv(NOW);
    const first = await fetchManifestCached(config, "stable", { env });
    assert.equal(first.notModified, false);
    assert.equal(first.manifest.version, "1.0.0");
    assert.deepEqual(first.record, {
      url: `${config.update_servers.stable.base_url}/manifest.json`,
      etag: '"m1"',
      last_modified: "Fri, 20 Nov 2026 10:00:00 GMT",
      body: manifest("1.0.0"),
      checked_at: NOW.toISOString(),
    });
    assert.equal(state.requests[0].get("if-none-match"), null);

    env.advance(3_600_000);
    const second = await fetchManifestCached(config, "stable", { env, cached: first.record });
    assert.equal(second.notModified, true);
    assert.equal(second.manifest.version, "1.0.0");
    assert.equal(second.record.checked_at, "2026-11-27T13:00:00.000Z");
    assert.equal(second.record.body, first.record.body);
    assert.equal(state.requests[1].get("if-none-match"), '"m1"');
    assert.equal(state.requests[1].get("if-modified-since"), null);

    // A new release changes the ETag: a 200 with the new body replaces the record.
    state.body = manifest("1.1.0");
    state.etag = '"m2"';
    const third = await fetchManifestCached(config, "stable", { env, cached: second.record });
    assert.equal(third.notModified, false);
    assert.equal(third.manifest.version, "1.1.0");
    assert.equal(third.record.etag, '"m2"');
  } finally {
    await server.shutdown();
  }
});

Deno.test("a cached record for another URL is not used; without ETag, If-Modified-Since", async () => {
  const { state, server, config } = manifestServer();
  try {
    const env = testEnv(NOW);
    const record = {
      url: "http://127.0.0.1:1/elsewhere/manifest.json",
      etag: '"m1"',
      last_modified: null,
      body: manifest("0.1.0"),
      checked_at: NOW.toISOString(),
    };
    const other = await fetchManifestCached(config, "stable", { env, cached: record });
    assert.equal(other.notModified, false);
    assert.equal(state.requests[0].get("if-none-match"), null);
    const dated = { ...other.record, etag: null };
    await fetchManifestCached(config, "stable", { env, cached: dated });
    assert.equal(state.requests[1].get("if-none-match"), null);
    assert.equal(state.requests[1].get("if-modified-since"), "Fri, 20 Nov 2026 10:00:00 GMT");
  } finally {
    await server.shutdown();
  }
});

Deno.test("a cached body that no longer parses is never trusted: it is fetched again without the condition", async () => {
  const { state, server, config } = manifestServer();
  try {
    const env = testEnv(NOW);
    const first = await fetchManifestCached(config, "stable", { env });
    const tampered = { ...first.record, body: first.record.body.replace('"stable"', '"canary"') };
    const again = await fetchManifestCached(config, "stable", { env, cached: tampered });
    assert.deepEqual([again.notModified, again.manifest.channel], [false, "stable"]);
    assert.equal(again.record.body, manifest("1.0.0"), "the record is the server's body");
    assert.deepEqual(state.requests.map((h) => h.get("if-none-match")), [null, '"m1"', null]);
    // A refusal of the body fetched unconditionally is final: no third request.
    state.body = manifest("1.0.0").replace('"stable"', '"canary"');
    await assert.rejects(fetchManifestCached(config, "stable", { env, cached: tampered }), {
      message: /is for channel "canary", not the requested "stable"/,
    });
    assert.deepEqual(state.requests.length, 5);
  } finally {
    await server.shutdown();
  }
});

Deno.test("checkChannel uses the state's cached manifest and returns the new record", async () => {
  const { server, config, state: served } = manifestServer();
  try {
    const env = testEnv(NOW);
    const state = emptyState();
    const first = await checkChannel(config, {
      channel: "stable",
      platform: PLATFORM,
      current: "1.0.0",
      state,
      trusted: null,
      env,
    });
    assert.equal(first.notModified, false);
    state.manifests.stable = first.manifestRecord;
    const second = await checkChannel(config, {
      channel: "stable",
      platform: PLATFORM,
      current: "1.0.0",
      state,
      trusted: null,
      env,
    });
    assert.equal(second.notModified, true);
    assert.equal(second.decision.action, "none");
    assert.equal(served.requests.length, 2);
  } finally {
    await server.shutdown();
  }
});

function checkedAt(at: string | null): State {
  const state = emptyState();
  if (at !== null) {
    state.manifests.stable = {
      url: "https://updates.ms11.com/stable/manifest.json",
      etag: null,
      last_modified: null,
      body: "{}",
      checked_at: at,
    };
  }
  return state;
}

Deno.test("autoCheckDue: disabled, never checked, not yet due, due, clock set back, forced", () => {
  const config: Config = validateConfig({ check_interval_hours: 24 });
  const due = (state: State, extra: Partial<Config> = {}, force = false) =>
    autoCheckDue({ ...config, ...extra }, state, { channel: "stable", now: NOW, force });
  assert.deepEqual(due(checkedAt(null), { auto_check_enabled: false }), {
    due: false,
    reason: "disabled",
    message: "Automatic checks are disabled (auto_check_enabled is false); pass --force to check",
    next: null,
  });
  assert.equal(due(checkedAt(null), { auto_check_enabled: false }, true).reason, "forced");
  assert.deepEqual(due(checkedAt(null)), {
    due: true,
    reason: "never-checked",
    message: "stable was never checked",
    next: null,
  });
  assert.deepEqual(due(checkedAt("2026-11-27T00:00:00.000Z")), {
    due: false,
    reason: "not-due",
    message:
      "Not checking stable: last checked at 2026-11-27T00:00:00.000Z; the next automatic check is due at 2026-11-28T00:00:00.000Z (check_interval_hours 24; pass --force to check now)",
    next: "2026-11-28T00:00:00.000Z",
  });
  assert.equal(due(checkedAt("2026-11-27T00:00:00.000Z"), {}, true).due, true);
  assert.equal(due(checkedAt("2026-11-26T12:00:00.000Z")).reason, "interval-elapsed");
  assert.equal(due(checkedAt("2026-11-26T12:00:00.001Z")).due, false);
  assert.equal(due(checkedAt("2026-12-25T00:00:00.000Z")).reason, "interval-elapsed");
  assert.equal(due(checkedAt("garbage")).reason, "never-checked");
  assert.equal(due(checkedAt("2026-11-27T11:59:00.000Z"), { check_interval_hours: 0 }).due, true);
});
