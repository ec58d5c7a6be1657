import assert from "node:assert/strict";
import { decideUpdate, resolveChannel } from "../lib/core/channel.ts";
import { defaultConfig, validateConfig } from "../lib/core/config_schema.ts";
import { ConfigError } from "../lib/core/errors.ts";
import type { LifecycleRecord } from "../lib/root/lifecycle.ts";
import { throwsWith } from "./_helpers.ts";

const REJECTED: LifecycleRecord = {
  version: "1.1.0",
  channel: "stable",
  state: "rejected",
  reason: "1.1.0 exited with code 3 before its health check passed",
  at: "2026-11-26T00:00:00.000Z",
  held: null,
};

const HELD: LifecycleRecord = {
  version: "1.2.0",
  channel: "stable",
  state: "confirmed",
  reason: "confirmed healthy",
  at: "2026-11-25T00:00:00.000Z",
  held: { at: "2026-11-26T00:00:00.000Z", reason: "rolled back to 1.1.0 by hand" },
};

Deno.test("resolveChannel: the requested channel, else the configured one", () => {
  const config = defaultConfig();
  assert.equal(resolveChannel(config), "stable");
  assert.equal(resolveChannel(config, "canary"), "canary");
  assert.equal(resolveChannel(validateConfig({ channel: "canary" })), "canary");
  assert.equal(resolveChannel(validateConfig({ channel: "canary" }), "stable"), "stable");
});

Deno.test("resolveChannel refuses an unknown channel, listing the configured ones", () => {
  throwsWith(
    () => resolveChannel(defaultConfig(), "beta"),
    ConfigError,
    'Unknown channel "beta": configured channels are stable, canary',
  );
  throwsWith(
    () => resolveChannel(defaultConfig(), ""),
    ConfigError,
    'Unknown channel "": configured channels are stable, canary',
  );
  const one = validateConfig({
    channel: "beta",
    update_servers: { beta: { base_url: "https://updates.ms11.com/beta" } },
  });
  throwsWith(
    () => resolveChannel(one, "stable"),
    ConfigError,
    'Unknown channel "stable": configured channels are beta',
  );
});

Deno.test({
  name: "resolveChannel refuses Object.prototype member names",
  fn() {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      throwsWith(
        () => resolveChannel(defaultConfig(), name),
        ConfigError,
        `Unknown channel ${JSON.stringify(name)}: configured channels are stable, canary`,
      );
    }
  },
});

Deno.test("decideUpdate: a newer release is an update", () => {
  assert.deepEqual(decideUpdate("1.0.0", "1.1.0", { channel: "stable" }), {
    action: "update",
    version: "1.1.0",
    downgrade: false,
    message: "Update available: 1.0.0 -> 1.1.0 on stable",
  });
  assert.deepEqual(
    decideUpdate("1.5.0-canary.20261126.3", "1.5.0-canary.20261126.10", { channel: "canary" }),
    {
      action: "update",
      version: "1.5.0-canary.20261126.10",
      downgrade: false,
      message: "Update available: 1.5.0-canary.20261126.3 -> 1.5.0-canary.20261126.10 on canary",
    },
  );
  // A release is newer than its prereleases.
  assert.equal(
    decideUpdate("1.5.0-canary.20261126.10", "1.5.0", { channel: "stable" }).action,
    "update",
  );
  // Another staged version does not stop an update.
  assert.equal(
    decideUpdate("1.0.0", "1.2.0", { channel: "stable", staged: "1.1.0" }).action,
    "update",
  );
});

Deno.test("decideUpdate: the same version is up to date", () => {
  assert.deepEqual(decideUpdate("1.1.0", "1.1.0", { channel: "stable" }), {
    action: "none",
    reason: "up-to-date",
    message: "1.1.0 is the newest release on stable",
  });
  // Also with downgrades allowed, and with force.
  assert.equal(
    decideUpdate("1.1.0", "1.1.0", { channel: "stable", allowDowngrade: true, force: true })
      .action,
    "none",
  );
});

Deno.test("decideUpdate: a version already staged is not staged again", () => {
  assert.deepEqual(decideUpdate("1.0.0", "1.1.0", { channel: "stable", staged: "1.1.0" }), {
    action: "none",
    reason: "already-staged",
    message: "1.1.0 from stable is already staged; it is applied at the next launch",
  });
  assert.equal(
    decideUpdate(null, "1.1.0", { channel: "stable", staged: "1.1.0" }).action,
    "none",
  );
  assert.equal(
    decideUpdate("1.0.0", "1.1.0", { channel: "stable", staged: null }).action,
    "update",
  );
});

Deno.test("decideUpdate refuses a downgrade, naming --allow-downgrade", () => {
  const decision = decideUpdate("1.5.0-canary.3", "1.4.0", { channel: "stable" });
  assert.deepEqual(decision, {
    action: "none",
    reason: "downgrade-refused",
    message:
      "stable's newest release 1.4.0 is lower than the installed 1.5.0-canary.3; not downgrading (pass --allow-downgrade to install 1.4.0)",
  });
  assert.match(decision.message, /--allow-downgrade/);
  assert.equal(
    decideUpdate("1.5.0", "1.5.0-canary.20261126.10", { channel: "canary" }).action,
    "none",
  );
  assert.equal(
    decideUpdate("1.1.0", "1.0.0", { channel: "stable", allowDowngrade: false }).action,
    "none",
  );
  // force is about rejected versions, not about downgrades.
  assert.equal(decideUpdate("1.1.0", "1.0.0", { channel: "stable", force: true }).action, "none");
});

Deno.test("decideUpdate: an allowed downgrade is an update marked as one", () => {
  assert.deepEqual(
    decideUpdate("1.5.0-canary.3", "1.4.0", { channel: "stable", allowDowngrade: true }),
    {
      action: "update",
      version: "1.4.0",
      downgrade: true,
      message: "Downgrading 1.5.0-canary.3 -> 1.4.0 on stable (--allow-downgrade)",
    },
  );
});

Deno.test("decideUpdate skips a rejected version unless forced", () => {
  const lifecycle = [REJECTED];
  assert.deepEqual(decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle }), {
    action: "none",
    reason: "rejected",
    message:
      "1.1.0 on stable is skipped (rejected: 1.1.0 exited with code 3 before its health check passed); a newer release or --force installs it",
  });
  assert.deepEqual(decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle, force: true }), {
    action: "update",
    version: "1.1.0",
    downgrade: false,
    message: "Update available: 1.0.0 -> 1.1.0 on stable",
  });
  // Nothing installed: still skipped.
  assert.equal(decideUpdate(null, "1.1.0", { channel: "stable", lifecycle }).action, "none");
  // A newer release is not rejected.
  assert.equal(decideUpdate("1.0.0", "1.2.0", { channel: "stable", lifecycle }).action, "update");
  // A rejection on another channel does not count.
  assert.equal(decideUpdate("1.0.0", "1.1.0", { channel: "canary", lifecycle }).action, "update");
  // A forced rejected downgrade still needs --allow-downgrade.
  assert.equal(
    decideUpdate("1.2.0", "1.1.0", { channel: "stable", lifecycle, force: true }).action,
    "none",
  );
  // A confirmed build is not rejected any more.
  const confirmed = [{ ...REJECTED, state: "confirmed" as const, reason: "confirmed healthy" }];
  assert.equal(
    decideUpdate("1.0.0", "1.1.0", { channel: "stable", lifecycle: confirmed }).action,
    "update",
  );
});

Deno.test("decideUpdate: the version running now is up to date, even one rejected before", () => {
  // 1.1.0 was rejected, then brought back (rollback --to) and runs on trial: not "rejected".
  assert.deepEqual(decideUpdate("1.1.0", "1.1.0", { channel: "stable", lifecycle: [REJECTED] }), {
    action: "none",
    reason: "up-to-date",
    message: "1.1.0 is the newest release on stable",
  });
});

Deno.test("decideUpdate skips a held version (rolled back from by hand) unless forced", () => {
  const lifecycle = [HELD];
  assert.deepEqual(decideUpdate("1.1.0", "1.2.0", { channel: "stable", lifecycle }), {
    action: "none",
    reason: "held",
    message:
      "1.2.0 on stable is skipped (held back: rolled back to 1.1.0 by hand); a newer release or --force installs it",
  });
  assert.equal(
    decideUpdate("1.1.0", "1.2.0", { channel: "stable", lifecycle, force: true }).action,
    "update",
  );
  assert.equal(decideUpdate("1.1.0", "1.3.0", { channel: "stable", lifecycle }).action, "update");
  const lifted = [{ ...HELD, held: null }];
  assert.equal(
    decideUpdate("1.1.0", "1.2.0", { channel: "stable", lifecycle: lifted }).action,
    "update",
  );
});

Deno.test("decideUpdate: with nothing installed, install the channel's release", () => {
  assert.deepEqual(decideUpdate(null, "1.1.0", { channel: "stable" }), {
    action: "update",
    version: "1.1.0",
    downgrade: false,
    message: "1.1.0 is available on stable (nothing is installed)",
  });
  assert.deepEqual(decideUpdate(null, "1.5.0-canary.1", { channel: "canary" }), {
    action: "update",
    version: "1.5.0-canary.1",
    downgrade: false,
    message: "1.5.0-canary.1 is available on canary (nothing is installed)",
  });
});

Deno.test("decideUpdate is pure", () => {
  const options = Object.freeze({
    channel: "stable",
    staged: "0.9.0",
    lifecycle: Object.freeze([Object.freeze({ ...REJECTED })]),
  });
  const first = decideUpdate("1.0.0", "1.2.0", options);
  const second = decideUpdate("1.0.0", "1.2.0", options);
  assert.deepEqual(first, second);
  assert.equal(options.staged, "0.9.0");
});
