// The hostile-repository suite, rollout fields (docs/SECURITY.md, "The hostile-repository
// suite"): a malicious repository tries to widen, yank, un-yank or drop the minimum version with
// an unsigned manifest, with a replayed older signed one, or with a signed one whose rollout is
// malformed. Every case asserts the exact refusal, that the install and the trusted state are
// unchanged, and the refusal in the audit log (tests/_hostile_scene.ts `refused`).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ManifestBehindError, UntrustedManifestError } from "../lib/core/errors.ts";
import { readTrust } from "../lib/root/trust_state.ts";
import type { ManifestDoc } from "./_malicious_repo.ts";
import { NOW, PLATFORM, refused, type Scene, scene } from "./_hostile_scene.ts";
import { snapshot } from "./_e2e.ts";

const SALT = "5a17".repeat(8);
const HOUR = 3_600_000;

/** `previous` naming the installed 1.0.0 as _malicious_repo.ts publishes it. */
function previous(): ManifestDoc {
  const artifact = new TextEncoder().encode(`#!/bin/sh\necho "MS11 1.0.0"\n`);
  return {
    version: "1.0.0",
    released_at: new Date(NOW.getTime() - 240 * HOUR).toISOString(),
    artifacts: {
      [PLATFORM]: {
        url: "1.0.0/ms11",
        size: artifact.length,
        sha256: createHash("sha256").update(artifact).digest("hex"),
        kind: "executable",
      },
    },
  };
}

const yank = (version: string) => ({ version, reason: "crashes at start", at: NOW.toISOString() });

/** 1.1.0 at 10% outside whose cohort installs run 1.0.0; 1.0.5 yanked; minimum 1.0.0. */
function staged(doc: ManifestDoc): void {
  doc.rollout = { salt: SALT, basis_points: 1000 };
  doc.previous = previous();
  doc.yanked = [yank("1.0.5")];
  doc.minimum_version = "1.0.0";
}

/** Accept a genuine signed manifest (serial `serial`) with a check. */
async function accept(
  s: Scene,
  serial: number,
  version: string,
  edit: (doc: ManifestDoc) => void,
) {
  const publication = await s.publish({ version, serial, edit });
  const check = await s.update({ checkOnly: true });
  assert.equal(check.check.manifest.serial, serial);
  return publication;
}

const unsignedMessage = (s: Scene) =>
  `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required`;

// --- an unsigned (or attacker-signed) manifest changing the rollout ------------------------------

const unsignedChanges: { what: string; edit: (doc: ManifestDoc) => void }[] = [
  {
    what: "widens the rollout to 100%",
    edit: (d) => (d.rollout = { salt: SALT, basis_points: 10000 }),
  },
  { what: "yanks the release", edit: (d) => (d.yanked = [yank("1.0.5"), yank("1.1.0")]) },
  { what: "un-yanks a version", edit: (d) => (d.yanked = []) },
];

for (const { what, edit } of unsignedChanges) {
  for (const by of ["unsigned", "attacker"] as const) {
    Deno.test(`hostile rollout: an ${by === "unsigned" ? "unsigned" : "attacker-signed"} manifest that ${what} is refused`, async () => {
      await using s = await scene();
      await accept(s, 6, "1.1.0", staged);
      await s.publish({
        version: "1.1.0",
        serial: 7,
        signers: by === "unsigned" ? [] : [s.attacker],
        edit: (d) => {
          staged(d);
          edit(d);
        },
      });
      await refused(
        s,
        UntrustedManifestError,
        by === "unsigned"
          ? unsignedMessage(s)
          : `${unsignedMessage(s)} (signed by unknown keys ${s.attacker.keyid})`,
      );
      assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 6);
    });
  }
}

// --- a replayed older signed manifest ------------------------------------------------------------

/** Serial 6, accepted, is what the attacker replays after the publisher's serial 7. */
const replays: {
  what: string;
  older: { version: string; edit: (doc: ManifestDoc) => void };
  newer: { version: string; edit: (doc: ManifestDoc) => void };
}[] = [
  {
    what: "widens (a ramp at 100% now, replayed over its pause at 10%)",
    older: {
      version: "1.1.0",
      edit: (d) => {
        staged(d);
        d.released_at = new Date(NOW.getTime() - 48 * HOUR).toISOString();
        d.rollout = {
          salt: SALT,
          ramp: [{ after_hours: 0, basis_points: 1000 }, { after_hours: 24, basis_points: 10000 }],
        };
      },
    },
    newer: {
      version: "1.1.0",
      edit: (d) => {
        staged(d);
        d.released_at = new Date(NOW.getTime() - 48 * HOUR).toISOString();
        d.rollout = {
          salt: SALT,
          ramp: [{ after_hours: 0, basis_points: 1000 }, { after_hours: 24, basis_points: 10000 }],
          paused: true,
          paused_at: new Date(NOW.getTime() - 47 * HOUR).toISOString(),
        };
      },
    },
  },
  {
    what: "un-yanks the release (replayed over its yank)",
    older: { version: "1.1.0", edit: staged },
    newer: {
      version: "1.0.0",
      edit: (d) => {
        d.yanked = [yank("1.0.5"), yank("1.1.0")];
        d.minimum_version = "1.0.0";
      },
    },
  },
  {
    what: "removes the minimum version (replayed over a critical update)",
    older: { version: "1.1.0", edit: (d) => (d.minimum_version = null) },
    newer: { version: "1.1.0", edit: (d) => (d.minimum_version = "1.1.0") },
  },
];

for (const { what, older, newer } of replays) {
  Deno.test(`hostile rollout: a replayed older signed manifest that ${what} is refused`, async () => {
    await using s = await scene();
    const old = await accept(s, 6, older.version, older.edit);
    await accept(s, 7, newer.version, newer.edit);
    s.repo.replay(old);
    await refused(
      s,
      ManifestBehindError,
      `Manifest ${s.manifestUrl} has serial 6 (${older.version}), older than serial 7 (${newer.version}) already accepted on stable: the server or a cache in front of it is behind, or replays an old release; nothing was accepted, try again later`,
      "manifest_behind",
    );
    const trusted = (await readTrust(s.layout)).document.channels.stable;
    assert.deepEqual([trusted.serial, trusted.version], [7, newer.version]);
  });
}

// --- a validly signed manifest whose rollout is malformed ----------------------------------------

const malformed: { what: string; rollout: unknown; message: string }[] = [
  {
    what: "a share of 101%",
    rollout: { salt: SALT, basis_points: 10100 },
    message: "rollout.basis_points must be an integer from 0 to 10000, got 10100",
  },
  {
    what: "a ramp whose share goes down",
    rollout: {
      salt: SALT,
      ramp: [{ after_hours: 0, basis_points: 5000 }, { after_hours: 24, basis_points: 1000 }],
    },
    message: "rollout.ramp[1].basis_points must be at least the step before, got 1000",
  },
  {
    what: "a ramp whose hours do not increase",
    rollout: {
      salt: SALT,
      ramp: [{ after_hours: 0, basis_points: 1000 }, { after_hours: 0, basis_points: 5000 }],
    },
    message: "rollout.ramp[1].after_hours must be more than the step before, got 0",
  },
  {
    what: "no salt",
    rollout: { basis_points: 1000 },
    message: "rollout.salt must be 32 lowercase hex digits, got undefined",
  },
];

for (const { what, rollout, message } of malformed) {
  Deno.test(`hostile rollout: a validly signed manifest with ${what} is refused`, async () => {
    await using s = await scene();
    await s.publish({
      version: "1.1.0",
      serial: 6,
      edit: (d) => {
        staged(d);
        d.rollout = rollout;
      },
    });
    await refused(s, TypeError, `Manifest ${s.manifestUrl}: ${message}`);
    assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 5);
  });
}

Deno.test("hostile rollout: a replayed un-yank while the accepted manifest's own signatures are served: the accepted one stands, the yank holds", async () => {
  await using s = await scene();
  const old = await s.publish({ version: "1.1.0", serial: 6, edit: staged, addressed: true });
  assert.equal((await s.update({ checkOnly: true })).check.manifest.serial, 6);
  await s.publish({
    version: "1.0.0",
    serial: 7,
    addressed: true,
    edit: (d) => (d.yanked = [yank("1.0.5"), yank("1.1.0")]),
  });
  assert.equal((await s.update({ checkOnly: true })).check.manifest.serial, 7);
  s.repo.replay(old);
  const before = await snapshot(s.layout.root);
  const trust = await Deno.readTextFile(s.layout.trust);
  const result = await s.update();
  // Every server is behind: the client goes on with serial 7, verified again from its own file.
  assert.deepEqual([result.check.kept, result.check.manifest.serial], [true, 7]);
  assert.deepEqual(result.check.fetchedManifest.yanked.map((y) => y.version), ["1.0.5", "1.1.0"]);
  assert.equal(result.staged, null); // 1.1.0 is not installed
  assert.equal(await Deno.readTextFile(s.layout.trust), trust);
  assert.equal(await snapshot(s.layout.root), before);
});
