// The publisher's side of staged rollouts (issue #14): `release` with a share or a ramp, and the
// changes of lib/publish/rollout.ts (widen, pause, resume, complete, yank, unyank, minimum),
// each re-signed with the next serial; refused changes write nothing.
import assert from "node:assert/strict";
import { ConfigError } from "../lib/core/errors.ts";
import { parseSignatures, verifyBytes } from "../lib/trust/keys.ts";
import { readSigningKey, type SigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { type PublishOptions, publishRelease, verifyRelease } from "../lib/publish/release.ts";
import { changeRollout, readRolloutState, type RolloutChange } from "../lib/publish/rollout.ts";
import { parsePercent, parseRamp, previousField } from "../lib/publish/_rollout.ts";
import { bytesOf, rejectsWith, type TempDir, tempDir, throwsWith } from "./_helpers.ts";

const T0 = new Date("2026-11-20T10:00:00Z");
const hours = (n: number) => new Date(T0.getTime() + n * 3600_000);
const EXPIRES = new Date("2027-01-01T00:00:00Z");

interface Tree {
  dir: TempDir;
  tree: string;
  key: SigningKey;
  publish(version: string, extra?: Partial<PublishOptions>): Promise<void>;
  doc(): Promise<Record<string, unknown>>;
  change(change: RolloutChange, now?: Date): ReturnType<typeof changeRollout>;
}

async function makeTree(): Promise<Tree> {
  const dir = await tempDir();
  const tree = `${dir.path}/tree`;
  const key = await readSigningKey((await writeKeyPair(`${dir.path}/keys`)).privatePath);
  const artifact = `${dir.path}/ms11`;
  await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
  return {
    dir,
    tree,
    key,
    publish: async (version, extra = {}) => {
      await publishRelease(tree, {
        channel: "stable",
        version,
        platform: "linux-x64",
        artifact,
        releasedAt: T0,
        expires: EXPIRES,
        keys: [key],
        ...extra,
      });
    },
    doc: async () => JSON.parse(await Deno.readTextFile(`${tree}/stable/manifest.json`)),
    change: (change, now = hours(1)) =>
      changeRollout(tree, { channel: "stable", change, expires: EXPIRES, now, keys: [key] }),
  };
}

/** The manifest's signature verifies with the key's public half. */
async function signedBy(tree: string, key: SigningKey): Promise<boolean> {
  const bytes = await Deno.readFile(`${tree}/stable/manifest.json`);
  const [entry] = parseSignatures(
    await Deno.readTextFile(`${tree}/stable/manifest.json.sig`),
    "manifest.json.sig",
  );
  return entry.keyid === key.keyid && await verifyBytes(key.publicKey, bytes, entry.sig);
}

/** `fn` is refused with `cls`/`message` and the manifest and signature are unchanged. */
async function refusedUnchanged(
  t: Tree,
  fn: () => Promise<unknown>,
  cls: typeof RangeError | typeof ConfigError,
  message: string,
): Promise<void> {
  const before = [
    await bytesOf(`${t.tree}/stable/manifest.json`),
    await bytesOf(`${t.tree}/stable/manifest.json.sig`),
  ];
  await rejectsWith(fn, cls, message);
  assert.deepEqual(
    [
      await bytesOf(`${t.tree}/stable/manifest.json`),
      await bytesOf(`${t.tree}/stable/manifest.json.sig`),
    ],
    before,
  );
}

Deno.test("percents are whole numbers 1 to 100; a ramp is checked step by step", () => {
  assert.equal(parsePercent("1", "--rollout"), 100);
  assert.equal(parsePercent("10%", "--rollout"), 1000);
  assert.equal(parsePercent("100", "--rollout"), 10000);
  for (const bad of ["0", "0.1", "0.5", "10.0", "101", "1e1", "-5", "", "ten", "10%%"]) {
    throwsWith(
      () => parsePercent(bad, "--rollout"),
      ConfigError,
      `Invalid --rollout ${
        JSON.stringify(bad)
      }: expected a whole percent from 1 to 100 (10 means 10%)`,
    );
  }
  assert.deepEqual(parseRamp("1,10,50,100", "24h").ramp, [
    { after_hours: 0, basis_points: 100 },
    { after_hours: 24, basis_points: 1000 },
    { after_hours: 48, basis_points: 5000 },
    { after_hours: 72, basis_points: 10000 },
  ]);
  assert.deepEqual(parseRamp("5,100", "2d").ramp?.map((s) => s.after_hours), [0, 48]);
  assert.deepEqual(parseRamp("0:1,24:10,72:50,168:100").ramp?.at(-1), {
    after_hours: 168,
    basis_points: 10000,
  });
  const cases: [string, string | undefined, string][] = [
    [
      "1,10",
      undefined,
      "a list of percents needs --ramp-every (such as 24h), or give HOURS:PERCENT steps",
    ],
    ["0:1,24:10", "24h", "HOURS:PERCENT steps take no --ramp-every"],
    ["24:1,48:10", undefined, "the first step must be at hour 0"],
    ["0:1,0:10", undefined, "hours must increase (0 then 0)"],
    ["0:50,24:10", undefined, "percents must not decrease (50% then 10%)"],
    ["0:1,x:10", undefined, 'step "x:10" is not HOURS:PERCENT'],
    ["1,,100", "24h", "expected 1 to 20 comma-separated steps such as 1,10,50,100"],
    [
      Array(21).fill("1").join(","),
      "1h",
      "expected 1 to 20 comma-separated steps such as 1,10,50,100",
    ],
  ];
  for (const [text, every, why] of cases) {
    throwsWith(
      () => parseRamp(text, every),
      ConfigError,
      `Invalid --ramp ${JSON.stringify(text)}: ${why}`,
    );
  }
  throwsWith(
    () => parseRamp("1,100", "0h"),
    ConfigError,
    'Invalid --ramp-every "0h": expected whole hours or days such as 24h or 2d',
  );
  throwsWith(
    () => parseRamp("0:0.5,24:100"),
    ConfigError,
    'Invalid --ramp percent "0.5": expected a whole percent from 1 to 100 (10 means 10%)',
  );
});

Deno.test("release --rollout: a fresh salt per release, previous is the last complete release", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  const first = await t.doc();
  assert.equal("rollout" in first, false); // no --rollout: 100%, no field
  assert.equal("previous" in first, false);
  await t.publish("1.1.0", { rollout: { basis_points: 1000 } });
  const second = await t.doc();
  const rollout = second.rollout as Record<string, unknown>;
  assert.match(String(rollout.salt), /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...rollout, salt: "" }, { salt: "", basis_points: 1000, paused: false });
  assert.deepEqual(second.previous, {
    version: "1.0.0",
    released_at: first.released_at,
    artifacts: first.artifacts,
  });
  assert.equal(await signedBy(t.tree, t.key), true);
  // 1.1.0 reached only 10%: the next release's previous is still 1.0.0, with a new salt.
  await t.publish("1.2.0", { rollout: { basis_points: 500 } });
  const third = await t.doc();
  assert.equal((third.previous as { version: string }).version, "1.0.0");
  assert.notEqual((third.rollout as { salt: string }).salt, rollout.salt);
  // 100% is no rollout at all.
  await t.publish("1.3.0", { rollout: { basis_points: 10000 } });
  assert.equal("rollout" in await t.doc(), false);
  assert.equal("previous" in await t.doc(), false);
});

Deno.test("a ramp that reached 100% counts as complete; a paused one does not", () => {
  const artifacts = {
    "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" },
  };
  const ramp = [{ after_hours: 0, basis_points: 100 }, { after_hours: 24, basis_points: 10000 }];
  const older = { version: "1.0.0", released_at: "2026-11-01T00:00:00Z", artifacts };
  const doc = {
    version: "1.1.0",
    released_at: T0.toISOString(),
    artifacts,
    rollout: { salt: "0".repeat(32), ramp, paused: false },
    previous: older,
  };
  assert.deepEqual(previousField(doc, hours(2)), older);
  assert.deepEqual(previousField(doc, hours(25)), {
    version: "1.1.0",
    released_at: T0.toISOString(),
    artifacts,
  });
  const paused = {
    ...doc,
    rollout: { ...doc.rollout, paused: true, paused_at: hours(30).toISOString() },
  };
  assert.deepEqual(previousField(paused, hours(40)), older);
  // A yanked candidate is no previous.
  const yanked = { ...doc, yanked: [{ version: "1.0.0", reason: "x", at: T0.toISOString() }] };
  assert.equal(previousField(yanked, hours(2)), null);
});

Deno.test("release carries yanked and minimum_version over, refuses a yanked version, keeps a rollout on republish", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: { basis_points: 1000 } });
  await t.change({ action: "yank", version: "1.1.0", reason: "crashes at start" });
  await t.change({ action: "minimum", version: "1.0.0" });
  await refusedUnchanged(
    t,
    () => t.publish("1.1.0"),
    RangeError,
    "Cannot publish 1.1.0 on stable: it was yanked (publish a higher version, or unyank 1.1.0 first)",
  );
  await t.publish("1.2.0", { rollout: { ramp: parseRamp("1,100", "24h").ramp } });
  const doc = await t.doc();
  assert.deepEqual((doc.yanked as { version: string }[]).map((y) => y.version), ["1.1.0"]);
  assert.equal(doc.minimum_version, "1.0.0");
  assert.equal((doc.previous as { version: string }).version, "1.0.0");
  await t.publish("1.2.0", { republish: true, platform: "linux-arm64" });
  const again = await t.doc();
  assert.deepEqual([again.rollout, again.previous], [doc.rollout, doc.previous]);
  await refusedUnchanged(
    t,
    () => t.publish("1.2.0", { republish: true, rollout: { basis_points: 5000 } }),
    ConfigError,
    "Cannot publish 1.2.0 on stable with a new rollout: it is the channel's current version (change its rollout with ms11-update rollout)",
  );
});

Deno.test("widen re-signs with the next serial; narrowing, a paused or complete rollout are refused", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: { basis_points: 1000 } });
  const salt = ((await t.doc()).rollout as { salt: string }).salt;
  const widened = await t.change({ action: "widen", basis_points: 5000 });
  assert.equal(widened.summary, "Widened 1.1.0 on stable from 10% to 50%");
  assert.equal(widened.manifest.serial, 3);
  const doc = await t.doc();
  assert.deepEqual(doc.rollout, { salt, basis_points: 5000, paused: false }); // same salt: same cohort
  assert.equal(doc.expires, "2027-01-01T00:00:00Z");
  assert.equal(await signedBy(t.tree, t.key), true);
  for (const bp of [5000, 1000]) {
    await refusedUnchanged(
      t,
      () => t.change({ action: "widen", basis_points: bp }),
      RangeError,
      `Cannot widen the rollout of 1.1.0 on stable to ${
        bp / 100
      }%: it is at 50% (a rollout only widens; to stop it, pause it)`,
    );
  }
  await t.change({ action: "pause" });
  await refusedUnchanged(
    t,
    () => t.change({ action: "widen", basis_points: 9000 }),
    RangeError,
    "Cannot widen the rollout of 1.1.0 on stable: it is paused (resume it first)",
  );
  await t.change({ action: "resume" });
  const full = await t.change({ action: "widen", basis_points: 10000 });
  assert.equal(full.summary, "Widened 1.1.0 on stable to 100%: the rollout is complete");
  assert.equal(full.manifest.serial, 6);
  const done = await t.doc();
  assert.equal("rollout" in done, false);
  assert.equal("previous" in done, false);
  await refusedUnchanged(
    t,
    () => t.change({ action: "widen", basis_points: 10000 }),
    RangeError,
    "Cannot widen the rollout of 1.1.0 on stable: it is complete (100%)",
  );
});

Deno.test("pause freezes a ramp; resume moves the steps not reached by the pause's length", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: parseRamp("0:1,24:10,72:100") });
  const paused = await t.change({ action: "pause" }, hours(30));
  assert.equal(
    paused.summary,
    "Paused 1.1.0 on stable at 10%: no install outside its cohort takes it",
  );
  const state = await readRolloutState(t.tree, "stable", hours(100));
  assert.deepEqual(
    [state.share_basis_points, state.paused, state.paused_at, state.ramp],
    [1000, true, "2026-11-21T16:00:00Z", {
      step: 2,
      steps: 3,
      next_at: null,
      next_basis_points: null,
    }],
  );
  await refusedUnchanged(
    t,
    () => t.change({ action: "pause" }, hours(31)),
    RangeError,
    "Cannot pause the rollout of 1.1.0 on stable: it is already paused (since 2026-11-21T16:00:00Z)",
  );
  // Resumed 10.5 hours later: the 72-hour step moves to 83 hours.
  const resumed = await t.change({ action: "resume" }, new Date(hours(40).getTime() + 1800_000));
  assert.equal(resumed.summary, "Resumed 1.1.0 on stable at 10%");
  const rollout = (await t.doc()).rollout as Record<string, unknown>;
  assert.deepEqual(rollout.ramp, [
    { after_hours: 0, basis_points: 100 },
    { after_hours: 24, basis_points: 1000 },
    { after_hours: 83, basis_points: 10000 },
  ]);
  assert.equal(rollout.paused, false);
  assert.equal("paused_at" in rollout, false);
  await refusedUnchanged(
    t,
    () => t.change({ action: "resume" }),
    RangeError,
    "Cannot resume the rollout of 1.1.0 on stable: it is not paused",
  );
  const completed = await t.change({ action: "complete" });
  assert.equal(
    completed.summary,
    "Completed the rollout of 1.1.0 on stable: every install is offered it",
  );
  await refusedUnchanged(
    t,
    () => t.change({ action: "complete" }),
    RangeError,
    "Cannot complete the rollout of 1.1.0 on stable: it is already complete",
  );
  await refusedUnchanged(
    t,
    () => t.change({ action: "pause" }),
    RangeError,
    "Cannot pause the rollout of 1.1.0 on stable: it is complete (100%)",
  );
});

Deno.test("yanking the channel's release offers the previous one to everyone; the yank entry stays", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0", { notes: "first" });
  const first = await t.doc();
  await refusedUnchanged(
    t,
    () => t.change({ action: "yank", version: "1.0.0", reason: "bad" }),
    RangeError,
    "Cannot yank 1.0.0 on stable: it is the channel's release and there is no previous complete release to offer instead (publish a fixed version, then yank 1.0.0)",
  );
  await t.publish("1.1.0", { rollout: { basis_points: 1000 }, notes: "second" });
  const yanked = await t.change({
    action: "yank",
    version: "1.1.0",
    reason: "  crashes on Wayland ",
  });
  assert.equal(
    yanked.summary,
    "Yanked 1.1.0 on stable: the channel offers 1.0.0 to every install again",
  );
  assert.equal(yanked.manifest.serial, 3);
  assert.equal(await signedBy(t.tree, t.key), true);
  const doc = await t.doc();
  assert.deepEqual(
    [doc.version, doc.released_at, doc.artifacts, doc.notes, "rollout" in doc, "previous" in doc],
    ["1.0.0", first.released_at, first.artifacts, null, false, false],
  );
  assert.deepEqual(doc.yanked, [{
    version: "1.1.0",
    reason: "crashes on Wayland",
    at: "2026-11-20T11:00:00Z",
  }]);
  await refusedUnchanged(
    t,
    () => t.change({ action: "yank", version: "1.1.0", reason: "again" }),
    RangeError,
    "Cannot yank 1.1.0 on stable: it is already yanked",
  );
  // A version never published is recorded all the same.
  const unknown = await t.change({ action: "yank", version: "0.5.0", reason: "never shipped" });
  assert.equal(
    unknown.summary,
    "Yanked 0.5.0 on stable (never published in this tree: recorded, a no-op for clients)",
  );
  const state = await readRolloutState(t.tree, "stable");
  assert.deepEqual(state.yanked.map((y) => y.version), ["1.1.0", "0.5.0"]);
  // Unyank takes it off the list; the release comes back only when released again.
  const unyanked = await t.change({ action: "unyank", version: "1.1.0" });
  assert.equal(unyanked.summary, "Unyanked 1.1.0 on stable (to offer it again, release it again)");
  assert.equal((await t.doc()).version, "1.0.0");
  await t.change({ action: "unyank", version: "0.5.0" });
  assert.equal("yanked" in await t.doc(), false);
  await t.publish("1.1.0", { republish: false });
  assert.equal((await t.doc()).version, "1.1.0");
});

Deno.test("yanking the previous release leaves installs outside the cohort offered nothing", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: { basis_points: 1000 } });
  const result = await t.change({ action: "yank", version: "1.0.0", reason: "data loss" });
  assert.equal(
    result.summary,
    "Yanked 1.0.0 on stable: installs outside the rollout's cohort are offered nothing",
  );
  const doc = await t.doc();
  assert.equal(doc.version, "1.1.0");
  assert.equal("previous" in doc, false);
  assert.equal((doc.rollout as { basis_points: number }).basis_points, 1000);
});

Deno.test("yank and minimum refuse bad values; a yank that would go below the minimum is refused", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: { basis_points: 1000 } });
  await refusedUnchanged(
    t,
    () => t.change({ action: "yank", version: "1.x", reason: "r" }),
    ConfigError,
    'Invalid version "1.x": expected a semver version',
  );
  await refusedUnchanged(
    t,
    () => t.change({ action: "yank", version: "1.0.0", reason: "x".repeat(501) }),
    ConfigError,
    "Invalid --reason: expected 1 to 500 characters, got 501",
  );
  await refusedUnchanged(
    t,
    () => t.change({ action: "minimum", version: "1.2.0" }),
    RangeError,
    "Cannot set the minimum version of stable to 1.2.0: the channel offers 1.1.0",
  );
  const set = await t.change({ action: "minimum", version: "v1.1.0" });
  assert.equal(
    set.summary,
    "Set the minimum version of stable to 1.1.0: installs below it update at once",
  );
  assert.equal((await t.doc()).minimum_version, "1.1.0");
  await refusedUnchanged(
    t,
    () => t.change({ action: "yank", version: "1.1.0", reason: "crash" }),
    RangeError,
    "Cannot yank 1.1.0 on stable: the minimum version 1.1.0 is above the release that would be offered (1.0.0); lower it first",
  );
  const removed = await t.change({ action: "minimum", version: null });
  assert.equal(removed.summary, "Removed the minimum version of stable");
  assert.equal("minimum_version" in await t.doc(), false);
});

Deno.test("a change is refused before writing when its expiry is not after now, or the channel has no manifest", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: { basis_points: 1000 } });
  await refusedUnchanged(
    t,
    () =>
      changeRollout(t.tree, {
        channel: "stable",
        change: { action: "pause" },
        expires: hours(1),
        now: hours(1),
        keys: [t.key],
      }),
    RangeError,
    "Cannot change stable: its manifest would expire at 2026-11-20T11:00:00Z, not after now (2026-11-20T11:00:00Z)",
  );
  await rejectsWith(
    changeRollout(t.tree, { channel: "beta", change: { action: "pause" }, expires: EXPIRES }),
    ConfigError,
    `Channel beta has no manifest ${t.tree}/beta/manifest.json`,
  );
  // Unsigned: the manifest is written and the old signature removed.
  await changeRollout(t.tree, {
    channel: "stable",
    change: { action: "pause" },
    expires: EXPIRES,
    now: hours(1),
  });
  assert.equal(await bytesOf(`${t.tree}/stable/manifest.json.sig`), null);
  assert.equal((await t.doc()).serial, 3);
});

Deno.test("verifyRelease reports each channel's rollout state", async () => {
  const t = await makeTree();
  await using _ = t.dir;
  await t.publish("1.0.0");
  await t.publish("1.1.0", { rollout: parseRamp("0:1,24:10") });
  await t.change({ action: "yank", version: "0.9.0", reason: "old crash" });
  await t.change({ action: "minimum", version: "1.0.0" });
  const [stable] = await verifyRelease(t.tree, {
    keys: { threshold: 1, keys: [t.key.publicKey] },
    now: hours(2),
  });
  assert.deepEqual(stable.problems, []);
  assert.deepEqual(stable.rollout, {
    version: "1.1.0",
    share_basis_points: 100,
    staged: true,
    ramp: { step: 1, steps: 2, next_at: "2026-11-21T10:00:00Z", next_basis_points: 1000 },
    paused: false,
    paused_at: null,
    previous: "1.0.0",
    yanked: [{ version: "0.9.0", reason: "old crash", at: "2026-11-20T11:00:00Z" }],
    minimum_version: "1.0.0",
  });
  // The previous release's files are checked too: installs outside the cohort download them.
  await Deno.remove(`${t.tree}/stable/1.0.0`, { recursive: true });
  const [broken] = await verifyRelease(t.tree, {
    keys: { threshold: 1, keys: [t.key.publicKey] },
    now: hours(2),
  });
  assert.deepEqual(broken.problems, [
    `Artifact ${t.tree}/stable/1.0.0/ms11 (previous linux-x64) is missing`,
  ]);
});
