// The trust state fails closed (docs/SECURITY.md, "Trust state"): it lives in trust.json and a
// verified backup copy, apart from state.json; a damaged copy is restored from the good one; with
// no good copy every check is refused with one line naming the file and the recovery command,
// changing nothing; `trust reset` is the explicit, audited way out; records of old state files
// are moved, never dropped.
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import {
  ManifestBehindError,
  TrustStateError,
  UntrustedManifestError,
} from "../lib/core/errors.ts";
import { readAudit } from "../lib/root/audit.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { readState } from "../lib/root/state.ts";
import {
  emptyTrust,
  readTrust,
  settleTrust,
  trustedFor,
  writeTrust,
} from "../lib/root/trust_state.ts";
import { resetTrust } from "../lib/root/trust_report.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { appScript, type CliRun, linuxPlatform, makeWorld, runCli, snapshot } from "./_e2e.ts";
import { rejectsWith, sha256, tempDir } from "./_helpers.ts";
import {
  makeKey,
  MaliciousRepo,
  type Publication,
  type PublishOptions,
} from "./_malicious_repo.ts";
import type { SigningKey } from "../lib/publish/signing.ts";
import type { TrustedRecord } from "../lib/trust/verify.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");
const PLATFORM = linuxPlatform();

function record(serial: number, version = "1.0.0"): TrustedRecord {
  return {
    serial,
    sha256: "ab".repeat(32),
    version,
    expires: "2026-12-27T00:00:00.000Z",
    accepted_at: "2026-11-27T00:00:00.000Z",
    keys: null,
    pinned: null,
  };
}

// --- the two copies --------------------------------------------------------------------------

Deno.test("trust.json and its backup: each damage of one copy is recovered from the other", async () => {
  const damages: [string, (text: string) => string | Uint8Array][] = [
    ["not valid JSON", () => "{ garbage"],
    ["empty", () => ""],
    ["not valid JSON", (text) => text.slice(0, text.length >> 1)],
    [
      "its SHA-256 does not match its content",
      (text) => text.replace('"serial": 7', '"serial": 2'),
    ],
    ["not valid JSON", () => new Uint8Array([0xff, 0xfe, 0x00])],
    ["fields missing or malformed", () => JSON.stringify({ schema: 1, generation: 1 })],
  ];
  for (const [why, damage] of damages) {
    for (const which of ["trust", "trustBackup"] as const) {
      await using dir = await tempDir();
      const layout = layoutOf(dir.path);
      const written = await writeTrust(layout, {
        ...emptyTrust(),
        channels: { stable: record(7) },
      });
      const other = which === "trust" ? layout.trustBackup : layout.trust;
      const good = await Deno.readTextFile(other);
      const damaged = damage(await Deno.readTextFile(layout[which]));
      await Deno.writeFile(
        layout[which],
        typeof damaged === "string" ? new TextEncoder().encode(damaged) : damaged,
      );
      const view = await readTrust(layout);
      assert.equal(view.damaged, null, `${which}: ${why}`);
      assert.deepEqual(view.document, written);
      assert.deepEqual(view.notes, [
        `Trust file ${layout[which]} is damaged (${why}); it is restored from ${other}`,
      ]);
      assert.equal(trustedFor(layout, view, "stable")?.serial, 7);
      const told: string[] = [];
      await settleTrust(layout, view, { now: NOW, onNote: (m) => told.push(m) });
      assert.deepEqual(told, view.notes);
      assert.equal(await Deno.readTextFile(layout[which]), await Deno.readTextFile(other));
      assert.notEqual(await Deno.readTextFile(other), good, "both copies are written anew");
      const audit = await readAudit(layout);
      assert.deepEqual(
        audit.map((e) => [e.event, e.reason]),
        [["trust_recovered", view.notes[0]]],
      );
      const again = await readTrust(layout);
      assert.deepEqual([again.unsettled, again.notes], [false, []]);
    }
  }
});

Deno.test("a missing copy is restored; of two good copies the newer generation wins", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await writeTrust(layout, { ...emptyTrust(), channels: { stable: record(5) } });
  await Deno.remove(layout.trust);
  const view = await readTrust(layout);
  assert.deepEqual(view.notes, [
    `Trust file ${layout.trust} is missing; it is restored from ${layout.trustBackup}`,
  ]);
  assert.equal(view.document.channels.stable.serial, 5);
  // An interrupted write: the main copy is newer than the backup.
  const older = await settleTrust(layout, view, { now: NOW });
  const backup = await Deno.readTextFile(layout.trustBackup);
  await writeTrust(layout, { ...older.document, channels: { stable: record(6) } });
  await Deno.writeTextFile(layout.trustBackup, backup);
  const newer = await readTrust(layout);
  assert.deepEqual([newer.document.channels.stable.serial, newer.notes, newer.unsettled], [
    6,
    [],
    true,
  ]);
  // And a backup newer than the main copy wins too.
  await Deno.writeTextFile(layout.trust, backup);
  await Deno.writeTextFile(layout.trustBackup, await Deno.readTextFile(layout.trust));
  await writeTrust(layout, { ...newer.document, channels: { stable: record(9) } });
  const main = await Deno.readTextFile(layout.trust);
  await Deno.writeTextFile(layout.trust, backup);
  await Deno.writeTextFile(layout.trustBackup, main);
  assert.equal((await readTrust(layout)).document.channels.stable.serial, 9);
});

Deno.test("no good copy: every channel is refused, naming the file and the reset command", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await writeTrust(layout, { ...emptyTrust(), channels: { stable: record(5) } });
  await Deno.writeTextFile(layout.trust, "{");
  await Deno.remove(layout.trustBackup);
  const view = await readTrust(layout);
  assert.equal(
    view.damaged,
    `${layout.trust} is damaged (not valid JSON) and its backup ${layout.trustBackup} is missing`,
  );
  for (const channel of ["stable", "canary"]) {
    assert.throws(() => trustedFor(layout, view, channel), (error: Error) => {
      assert.ok(error instanceof TrustStateError);
      assert.equal(
        error.message,
        `Trust state cannot be read: ${layout.trust} is damaged (not valid JSON) and its backup ${layout.trustBackup} is missing: manifests for ${channel} are refused until trust is started afresh from the pinned keys (run ms11-update trust reset --root ${layout.root})`,
      );
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
  // Settling changes nothing.
  await settleTrust(layout, view, { now: NOW });
  assert.equal(await Deno.readTextFile(layout.trust), "{");
  assert.deepEqual(await readAudit(layout), []);
  // A reset of one channel cannot be made from damaged files; of every channel it can.
  await rejectsWith(
    resetTrust(layout, { channel: "stable", now: NOW }),
    TrustStateError,
    /only every channel can be started afresh \(run ms11-update trust reset --root /,
  );
  const reset = await resetTrust(layout, { now: NOW });
  assert.deepEqual(reset, { channels: "all", discarded: {}, damaged: view.damaged });
  const after = await readTrust(layout);
  assert.deepEqual([after.damaged, after.document.channels], [null, {}]);
});

// --- migration from state.json ---------------------------------------------------------------

Deno.test("migration: an old state file's trusted records are moved, unreadable ones block their channel", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const old = {
    schema: 1,
    staged: null,
    builds: {},
    trusted: {
      stable: record(7, "1.1.0"),
      canary: { ...record(3), serial: 0 }, // damaged
      "Not a channel": record(1),
    },
  };
  await Deno.writeTextFile(layout.state, JSON.stringify(old));
  const view = await readTrust(layout);
  assert.equal(view.source, "state");
  assert.deepEqual(view.document.channels, { stable: record(7, "1.1.0") });
  assert.deepEqual(view.document.blocked, {
    canary:
      `${layout.state}, which held the trust state before ${layout.trust}, has a record for canary that cannot be read`,
  });
  const settled = await settleTrust(layout, view, { now: NOW });
  assert.equal(settled.source, "files");
  assert.deepEqual((await readAudit(layout)).map((e) => e.event), [
    "trust_migrated",
    "trust_migrated",
  ]);
  // The block survives: canary stays refused, with the per-channel reset command.
  const again = await readTrust(layout);
  assert.equal(trustedFor(layout, again, "stable")?.serial, 7);
  assert.throws(
    () => trustedFor(layout, again, "canary"),
    new RegExp(`run ms11-update trust reset --channel canary --root ${layout.root}\\)$`),
  );
  await resetTrust(layout, { channel: "canary", now: NOW });
  const reset = await readTrust(layout);
  assert.equal(trustedFor(layout, reset, "canary"), null);
  assert.equal(trustedFor(layout, reset, "stable")?.serial, 7, "only canary was reset");
});

Deno.test("migration: an unreadable old state file blocks every channel, durably", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await Deno.writeTextFile(layout.state, '{"schema": 1, "trusted": {"stable": {"ser');
  const view = await readTrust(layout);
  await settleTrust(layout, view, { now: NOW });
  // Even once state.json has been rewritten (any command may do that), the block stays.
  await Deno.writeTextFile(layout.state, JSON.stringify({ schema: 1 }));
  assert.throws(
    () => trustedFor(layout, view, "stable"),
    /Trust state was lost: .*state\.json, which held the trust state before .*trust\.json, cannot be read: manifests for stable are refused/,
  );
  const later = await readTrust(layout);
  assert.throws(() => trustedFor(layout, later, "stable"), TrustStateError);
  // A new root (no state file, no trust file) trusts from the pinned keys.
  await using fresh = await tempDir();
  const none = await readTrust(layoutOf(fresh.path));
  assert.deepEqual([none.source, trustedFor(layoutOf(fresh.path), none, "stable")], ["none", null]);
});

// --- through the pipeline --------------------------------------------------------------------

/** An install of 1.0.0 (serial 5) from a repository the test controls. */
interface Scene extends AsyncDisposable {
  dir: string;
  repo: MaliciousRepo;
  keys: SigningKey[];
  layout: Layout;
  configPath: string;
  manifestUrl: string;
  first: Publication;
  publish(options: Partial<PublishOptions> & { version: string; serial: number }): Promise<
    Publication
  >;
  update(options?: { checkOnly?: boolean; onWarning?: (m: string) => void }): ReturnType<
    typeof runUpdate
  >;
  cli(args: string[]): Promise<CliRun>;
}

async function scene(): Promise<Scene> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-trust-" });
  const repo = new MaliciousRepo();
  const keys = [await makeKey(dir, "k1"), await makeKey(dir, "k2")];
  const raw = {
    update_servers: { stable: { base_url: `${repo.url}/stable` } },
    max_retry_attempts: 1,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: { threshold: 1, keys: [keys[0].publicKey] } },
    },
  };
  const config = validateConfig(raw);
  const configPath = `${dir}/update_channel.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(raw));
  const layout = layoutOf(`${dir}/root`);
  const s: Scene = {
    dir,
    repo,
    keys,
    layout,
    configPath,
    manifestUrl: `${repo.url}/stable/manifest.json`,
    first: undefined as unknown as Publication,
    publish: (o) => repo.publish({ platform: PLATFORM, now: NOW, signers: [keys[0]], ...o }),
    update: (o = {}) =>
      runUpdate(layout, config, {
        channel: "stable",
        platform: PLATFORM,
        checkOnly: o.checkOnly,
        onWarning: o.onWarning,
        env: testEnv(NOW),
      }),
    cli: (args) => runCli([...args, "--config", configPath, "--root", layout.root]),
    async [Symbol.asyncDispose]() {
      await repo.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  s.first = await s.publish({ version: "1.0.0", serial: 5 });
  assert.equal((await s.update()).staged, "1.0.0");
  await applyStaged(layout, { now: NOW });
  return s;
}

/** A replay (or a cache behind) of serial `serial`: not accepted, and said to be behind. */
const behindMessage = (
  s: Scene,
  served: [serial: number, version: string],
  accepted: [serial: number, version: string],
) =>
  `Manifest ${s.manifestUrl} has serial ${served[0]} (${served[1]}), older than serial ${
    accepted[0]
  } (${
    accepted[1]
  }) already accepted on stable: the server or a cache in front of it is behind, or replays an old release; nothing was accepted, try again later`;

Deno.test("a damaged state.json starts afresh but a replayed older manifest stays refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  assert.equal((await s.update({ checkOnly: true })).check.manifest.serial, 6);
  await Deno.writeTextFile(s.layout.state, "{ not json");
  s.repo.replay(s.first);
  const error = await rejectsWith(
    s.update({ checkOnly: true }),
    ManifestBehindError,
    behindMessage(s, [5, "1.0.0"], [6, "1.1.0"]),
  );
  assert.equal((error as ManifestBehindError).reason, "behind");
  const last = (await readAudit(s.layout)).at(-1);
  assert.deepEqual([last?.event, last?.code], ["manifest_behind", "behind"]);
});

Deno.test("a damaged state.json does not forget a key rotation: the retired key stays refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    signers: s.keys,
    edit: (d) => (d.next_keys = { threshold: 1, keys: [s.keys[1].publicKey] }),
  });
  assert.equal((await s.update({ checkOnly: true })).check.manifest.serial, 6);
  await Deno.writeTextFile(s.layout.state, "");
  await s.publish({ version: "1.2.0", serial: 7, signers: [s.keys[0]] });
  await rejectsWith(
    s.update({ checkOnly: true }),
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${
      s.keys[0].keyid
    })`,
  );
});

Deno.test("a corrupted trust.json with a replayed older manifest: recovered from the backup, replay refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  await s.update({ checkOnly: true });
  await Deno.writeTextFile(s.layout.trust, "\0\0\0\0");
  s.repo.replay(s.first);
  const told: string[] = [];
  await rejectsWith(
    s.update({ checkOnly: true, onWarning: (m) => told.push(m) }),
    ManifestBehindError,
    behindMessage(s, [5, "1.0.0"], [6, "1.1.0"]),
  );
  assert.deepEqual(told, [
    `Trust file ${s.layout.trust} is damaged (not valid JSON); it is restored from ${s.layout.trustBackup}`,
  ]);
  assert.equal(
    await Deno.readTextFile(s.layout.trust),
    await Deno.readTextFile(s.layout.trustBackup),
  );
  const events = (await readAudit(s.layout)).slice(-2).map((e) => e.event);
  assert.deepEqual(events, ["trust_recovered", "manifest_behind"]);
});

Deno.test("both copies damaged: the CLI refuses in one line, changes nothing; trust reset is audited", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  await s.update({ checkOnly: true });
  await Deno.writeTextFile(s.layout.trust, "garbage");
  await Deno.writeTextFile(s.layout.trustBackup, "");
  s.repo.replay(s.first);
  const before = await snapshot(s.layout.root);
  const files = [
    await Deno.readTextFile(s.layout.trust),
    await Deno.readTextFile(s.layout.trustBackup),
  ];
  const served = s.repo.bytesSentFor("/stable/manifest.json");
  const expected =
    `Trust state cannot be read: ${s.layout.trust} is damaged (not valid JSON) and its backup ${s.layout.trustBackup} is damaged (empty): manifests for stable are refused until trust is started afresh from the pinned keys (run ms11-update trust reset --root ${s.layout.root})`;
  for (const command of [["check"], []]) {
    const run = await s.cli(command);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stderr, `error: ${expected}\n`);
  }
  assert.equal(await snapshot(s.layout.root), before, "the install changed");
  assert.deepEqual(
    [await Deno.readTextFile(s.layout.trust), await Deno.readTextFile(s.layout.trustBackup)],
    files,
    "the trust files changed",
  );
  assert.equal(s.repo.bytesSentFor("/stable/manifest.json"), served, "the manifest was fetched");
  const refusal = (await readAudit(s.layout)).filter((e) => e.event === "manifest_refused").at(-1);
  assert.deepEqual([refusal?.code, refusal?.reason], ["trust-state", expected]);
  // status and trust say so.
  const status = await s.cli(["status", "--json"]);
  assert.equal(
    JSON.parse(status.stdout).trust.problem,
    expected.replace("for stable", "for every channel"),
  );
  const shown = await s.cli(["trust"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(
    shown.stderr,
    `warning: ${expected.replace("for stable", "for every channel")}\n`,
  );
  // The explicit recovery, audited.
  const reset = await s.cli(["trust", "reset", "--json"]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal(
    reset.stderr,
    "Trust started afresh from the pinned keys for every channel; the damaged trust files were replaced: the next check accepts what the pinned keys sign\n",
  );
  assert.deepEqual(JSON.parse(reset.stdout), {
    channels: "all",
    discarded: {},
    damaged:
      `${s.layout.trust} is damaged (not valid JSON) and its backup ${s.layout.trustBackup} is damaged (empty)`,
  });
  const audited = (await readAudit(s.layout)).at(-1)!;
  assert.equal(audited.event, "trust_reset");
  assert.equal(
    audited.reason,
    "trust started afresh from the pinned keys for every channel (ms11-update trust reset)",
  );
  assert.equal(audited.damaged, JSON.parse(reset.stdout).damaged);
  // Afresh: the pinned keys' manifest is accepted again, as on a new install.
  const check = await s.cli(["check", "--json"]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 5);
});

Deno.test("trust reset of a good trust state names what it drops; without a root it creates nothing", async () => {
  await using s = await scene();
  const run = await s.cli(["trust", "reset", "--channel", "stable"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stderr,
    "Trust started afresh from the pinned keys for stable; dropped stable serial 5 (1.0.0): the next check accepts what the pinned keys sign\n",
  );
  const audited = (await readAudit(s.layout)).at(-1)!;
  assert.deepEqual([audited.event, audited.channels, audited.discarded], [
    "trust_reset",
    ["stable"],
    { stable: { serial: 5, version: "1.0.0", sha256: sha256(s.first.bytes), rotated: false } },
  ]);
  const missing = `${s.dir}/nowhere`;
  const none = await runCli(["trust", "reset", "--config", s.configPath, "--root", missing]);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, `error: No install at ${missing}: there is no trust state to reset\n`);
  await assert.rejects(Deno.stat(missing), Deno.errors.NotFound);
});

Deno.test("migration through the CLI: an old client's trusted records keep refusing a replay", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  await s.update({ checkOnly: true });
  // Make the root look like an old client's: the records in state.json, no trust files.
  const trusted = (await readTrust(s.layout)).document.channels;
  const state = JSON.parse(await Deno.readTextFile(s.layout.state));
  await Deno.writeTextFile(s.layout.state, JSON.stringify({ ...state, trusted }));
  await Deno.remove(s.layout.trust);
  await Deno.remove(s.layout.trustBackup);
  // The launcher's apply runs first and rewrites state.json: the records are carried through.
  const applied = await s.cli(["apply"]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(s.layout.state)).trusted, trusted);
  s.repo.replay(s.first);
  const run = await s.cli(["check"]);
  assert.equal(run.code, 1, run.stderr);
  assert.equal(
    run.stderr,
    `warning: Trust state of stable moved from ${s.layout.state} to ${s.layout.trust}\nerror: ${
      behindMessage(s, [5, "1.0.0"], [6, "1.1.0"])
    }\n`,
  );
  assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 6);
  // Once a check goes through, state.json no longer carries them.
  await s.publish({ version: "1.2.0", serial: 7 });
  const ok = await s.cli(["check"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await readState(s.layout)).state.trusted, undefined);
  assert.equal(JSON.parse(await Deno.readTextFile(s.layout.state)).trusted, undefined);
  assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 7);
});

Deno.test("an adopted install has its trust files from the start: a damaged state.json then blocks nothing", async () => {
  await using world = await makeWorld();
  const app = `${world.dir}/ms11-adopted`;
  await Deno.writeTextFile(app, appScript("1.0.0"), { mode: 0o755 });
  const adopted = await world.cli(["install", "--adopt", app, "--version", "1.0.0"]);
  assert.equal(adopted.code, 0, adopted.stderr);
  const layout = layoutOf(world.root);
  assert.equal((await readTrust(layout)).source, "files");
  await Deno.writeTextFile(layout.state, "{ damaged");
  await world.publish("stable", "1.1.0");
  const check = await world.cli(["check"]);
  assert.equal(check.code, 0, check.stderr);
  assert.ok(!check.stderr.includes("Trust state"), check.stderr);
  assert.equal(JSON.parse((await world.cli(["status", "--json"])).stdout).trust.problem, null);
});
