// The client's side of staged rollouts (issue #14): the cohort's statistics over many simulated
// installs, which release a manifest offers an install, the strict parsing of the rollout fields,
// and the CLI end to end against a tree published with `release --rollout` (an install outside the
// cohort is offered the previous release; --now and rollout_early_adopter take the newest; a
// critical minimum version bypasses the cohort; a yanked version is never installed).
import assert from "node:assert/strict";
import {
  installBucket,
  offeredRelease,
  type Rollout,
  rolloutShare,
  type RolloutView,
} from "../lib/core/rollout.ts";
import { parseManifest } from "../lib/trust/manifest.ts";
import { changeRollout } from "../lib/publish/rollout.ts";
import { installIdPath } from "../lib/root/install_id.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { makeWorld, type World } from "./_e2e.ts";

/** `n` install ids, as lib/root/install_id.ts makes them. */
function ids(n: number): string[] {
  return Array.from({ length: n }, () => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  });
}

const SALT_A = "0123456789abcdef0123456789abcdef";
const SALT_B = "fedcba9876543210fedcba9876543210";

Deno.test("over 100,000 installs the cohort is within 1 point of 1%, 10% and 50%; two releases' cohorts overlap by chance", () => {
  const all = ids(100_000);
  const bucketsA = all.map((id) => installBucket(id, SALT_A));
  const bucketsB = all.map((id) => installBucket(id, SALT_B));
  for (const basisPoints of [100, 1000, 5000]) {
    const share = bucketsA.filter((b) => b < basisPoints).length / all.length * 100;
    assert.ok(Math.abs(share - basisPoints / 100) <= 1, `${basisPoints / 100}%: ${share}%`);
  }
  // Both at 10%: independent cohorts share 1% of installs (±1 point).
  const both = bucketsA.filter((b, i) => b < 1000 && bucketsB[i] < 1000).length / all.length * 100;
  assert.ok(Math.abs(both - 1) <= 1, `overlap ${both}%`);
  // Widening never removes an install: every install in at 10% is in at 50%.
  const in10 = all.filter((_, i) => bucketsA[i] < 1000);
  assert.ok(in10.every((id) => installBucket(id, SALT_A) < 5000));
});

Deno.test("rolloutShare follows a ramp from the release time and freezes while paused", () => {
  const ramp: Rollout = {
    salt: SALT_A,
    basis_points: null,
    paused: false,
    paused_at: null,
    ramp: [
      { after_hours: 0, basis_points: 100 },
      { after_hours: 24, basis_points: 1000 },
      { after_hours: 72, basis_points: 10000 },
    ],
  };
  const released = "2026-11-20T10:00:00Z";
  const at = (h: number) => new Date(Date.parse(released) + h * 3_600_000);
  assert.deepEqual([0, 23, 24, 71, 72, 500].map((h) => rolloutShare(ramp, released, at(h))), [
    100,
    100,
    1000,
    1000,
    10000,
    10000,
  ]);
  const paused = { ...ramp, paused: true, paused_at: at(30).toISOString() };
  assert.equal(rolloutShare(paused, released, at(100)), 1000);
});

/** A manifest view at a fixed share with previous 1.0.0. */
function view(extra: Partial<RolloutView> = {}): RolloutView {
  return {
    version: "1.1.0",
    released_at: "2026-11-20T10:00:00Z",
    rollout: { salt: SALT_A, basis_points: 1000, ramp: null, paused: false, paused_at: null },
    previous: { version: "1.0.0" },
    yanked: [],
    minimum_version: null,
    ...extra,
  };
}

/** An install id whose bucket for SALT_A is inside (or outside) a share. */
function idWhere(inside: boolean, basisPoints: number): string {
  for (const id of ids(10_000)) {
    if ((installBucket(id, SALT_A) < basisPoints) === inside) return id;
  }
  throw new Error("no such id in 10,000");
}

Deno.test("offeredRelease: the cohort, previous, critical, override, yanked and no id", () => {
  const now = new Date("2026-11-21T00:00:00Z");
  const inside = idWhere(true, 1000);
  const outside = idWhere(false, 1000);
  const offer = (v: RolloutView, installId: string | null, extra = {}) =>
    offeredRelease(v, { installId, now, current: "1.0.0", ...extra });
  assert.equal(offer(view(), inside).which, "newest");
  assert.equal(offer(view(), inside).reason, "in the cohort (10%)");
  assert.deepEqual(offer(view(), outside), {
    which: "previous",
    in_cohort: false,
    share: 1000,
    bucket: installBucket(outside, SALT_A),
    admits_at: null, // a fixed share: only the publisher widens it
    reason: "outside the cohort (10%)",
  });
  assert.equal(offer(view(), null).which, "previous"); // no id: outside every cohort
  assert.equal(offer(view(), outside, { override: true }).which, "newest");
  assert.equal(
    offer(view({ minimum_version: "1.0.5" }), outside).reason,
    "a critical update: 1.0.0 is below 1.0.5",
  );
  assert.equal(offer(view({ previous: null }), outside).which, "none");
  // An install that took 1.1.0 ahead of the rollout is never moved down to the previous release.
  assert.deepEqual(offer(view(), outside, { current: "1.1.0" }).which, "none");
  assert.equal(offer(view(), outside, { current: "0.9.0" }).which, "previous");
  assert.equal(offer(view({ rollout: null }), outside).reason, "no rollout");
  // A yanked newest is never offered, cohort or --now; nor a yanked previous.
  const yanked = [{ version: "1.1.0" }];
  assert.equal(offer(view({ yanked }), inside, { override: true }).which, "previous");
  assert.equal(offer(view({ yanked: [{ version: "1.0.0" }] }), outside).which, "none");
  // A paused rollout keeps its cohort and admits nobody else.
  const paused = view({
    rollout: { salt: SALT_A, basis_points: 1000, ramp: null, paused: true, paused_at: null },
  });
  assert.equal(offer(paused, inside).which, "newest");
  assert.equal(offer(paused, outside).reason, "outside the cohort (10%, paused)");
});

Deno.test("parseManifest reads the rollout fields strictly, naming the field and the value", () => {
  const url = "https://u.ms11.com/stable/manifest.json";
  const artifact = { url: "1.0.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" };
  const base = {
    schema: 1,
    channel: "stable",
    version: "1.1.0",
    released_at: "2026-11-20T10:00:00Z",
    artifacts: { "linux-x64": artifact },
  };
  const good = parseManifest(
    JSON.stringify({
      ...base,
      rollout: { salt: SALT_A, basis_points: 1000, paused: false },
      previous: {
        version: "1.0.0",
        released_at: "2026-11-10T10:00:00Z",
        artifacts: { "linux-x64": artifact },
      },
      yanked: [{ version: "0.9.0", reason: "broken", at: "2026-11-11T00:00:00Z" }],
      minimum_version: "0.9.5",
    }),
    { url },
  );
  assert.equal(good.rollout?.basis_points, 1000);
  assert.equal(good.previous?.artifacts["linux-x64"].url, "https://u.ms11.com/stable/1.0.0/ms11");
  assert.deepEqual(good.yanked.map((y) => y.version), ["0.9.0"]);
  assert.equal(good.minimum_version, "0.9.5");
  const cases: [Record<string, unknown>, string][] = [
    [
      { rollout: { salt: "x", basis_points: 1 } },
      'rollout.salt must be 32 lowercase hex digits, got "x"',
    ],
    [
      { rollout: { salt: SALT_A, basis_points: 10001 } },
      "rollout.basis_points must be an integer from 0 to 10000, got 10001",
    ],
    [
      { rollout: { salt: SALT_A, basis_points: 0.1 } },
      "rollout.basis_points must be an integer from 0 to 10000, got 0.1",
    ],
    [
      {
        rollout: {
          salt: SALT_A,
          ramp: [{ after_hours: 0, basis_points: 500 }, { after_hours: 24, basis_points: 100 }],
        },
      },
      "rollout.ramp[1].basis_points must be at least the step before, got 100",
    ],
    [
      { rollout: { salt: SALT_A, paused: true, ramp: [{ after_hours: 0, basis_points: 500 }] } },
      "rollout.paused_at must be the time of the pause (a paused ramp needs it), got undefined",
    ],
    [{
      yanked: [{ version: "1.0.0", reason: "x", at: "2026-11-11T00:00:00Z" }, {
        version: "1.0.0",
        reason: "y",
        at: "2026-11-11T00:00:00Z",
      }],
    }, 'yanked[1].version must be a version not yanked twice, got "1.0.0"'],
    [{ minimum_version: "one" }, 'minimum_version must be a semver version, got "one"'],
    [
      { previous: { version: "1.0.0", released_at: "2026-11-10T10:00:00Z", artifacts: {} } },
      "previous.artifacts must be an object with at least one platform, got {}",
    ],
  ];
  for (const [extra, message] of cases) {
    assert.throws(() => parseManifest(JSON.stringify({ ...base, ...extra }), { url }), {
      name: "TypeError",
      message: `Manifest ${url}: ${message}`,
    });
  }
});

/** The world's stable manifest's rollout salt. */
async function saltOf(world: World): Promise<string> {
  const doc = JSON.parse(await Deno.readTextFile(`${world.tree}/stable/manifest.json`));
  return doc.rollout.salt;
}

/** Give the world's root an install id whose bucket for `salt` is in [lo, hi). */
async function placeId(world: World, salt: string, lo: number, hi: number) {
  for (const id of ids(10_000)) {
    const bucket = installBucket(id, salt);
    if (bucket >= lo && bucket < hi) {
      await Deno.writeTextFile(installIdPath(layoutOf(world.root)), `${id}\n`);
      return;
    }
  }
  throw new Error("no such id");
}

Deno.test("the CLI: outside a 10% rollout the previous release; --now, early adopters, a widen and a critical minimum take the newest; a yanked one never", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  // The install's check made the root's id, kept on this machine only.
  const id = await Deno.readTextFile(installIdPath(layoutOf(world.root)));
  assert.match(id, /^[0-9a-f]{32}\n$/);
  await world.publish("stable", "1.1.0", { rollout: { basis_points: 1000 } });
  const salt = await saltOf(world);

  /** What `check --json` says is available to this install. */
  const offered = async (...flags: string[]) => {
    const run = await world.cli(["check", "--json", ...flags]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout).available;
  };
  await placeId(world, salt, 1000, 5000);
  assert.equal(await offered(), "1.0.0"); // the previous release: nothing new here
  // status --json says how the rollout applied to this install (and nothing leaves the machine).
  const status = await world.cli(["status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout).last_check.rollout, {
    newest: "1.1.0",
    offered: "previous",
    in_cohort: false,
    share_basis_points: 1000,
    paused: false,
    yanked: [],
    minimum_version: null,
    reason: "outside the cohort (10%)",
  });
  assert.equal(await offered("--now"), "1.1.0");
  await world.writeConfig({ rollout_early_adopter: true });
  assert.equal(await offered(), "1.1.0");
  await world.writeConfig();

  // Inside the cohort: offered at once.
  await placeId(world, salt, 0, 1000);
  assert.equal(await offered(), "1.1.0");

  // Outside (between 10% and 50%), until a minimum version above the install, or a widen.
  await placeId(world, salt, 1000, 5000);
  const change = (c: Parameters<typeof changeRollout>[1]["change"]) =>
    changeRollout(world.tree, {
      channel: "stable",
      change: c,
      expires: new Date(Date.now() + 86_400_000),
      keys: [world.key],
    });
  await change({ action: "minimum", version: "1.1.0" });
  assert.equal(await offered(), "1.1.0");
  await change({ action: "minimum", version: null });
  assert.equal(await offered(), "1.0.0");
  await change({ action: "widen", basis_points: 5000 });
  assert.equal(await offered(), "1.1.0");

  // Yanked: 1.1.0 is offered to nobody, --now included, and an update installs nothing new.
  await change({ action: "yank", version: "1.1.0", reason: "crashes at start" });
  assert.notEqual(await offered("--now"), "1.1.0");
  const run = await world.cli(["--now"]);
  assert.equal(run.code, 0, run.stderr);
  const state = JSON.parse(await Deno.readTextFile(`${world.root}/state.json`));
  assert.equal(state.staged, null);
});

Deno.test("a mirror cannot change a rollout: an unsigned widen and a replayed older manifest (un-yank, narrow) are refused", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0", { rollout: { basis_points: 1000 } });
  const dir = `${world.tree}/stable`;
  const saved = {
    manifest: await Deno.readFile(`${dir}/manifest.json`),
    sig: await Deno.readFile(`${dir}/manifest.json.sig`),
  };
  const salt = await saltOf(world);
  await placeId(world, salt, 1000, 10000); // outside 10%
  const check = () => world.cli(["check", "--json"]);
  assert.equal((await check()).code, 0);

  // Widened to 100% by editing the signed bytes: the signature no longer matches.
  const doc = JSON.parse(new TextDecoder().decode(saved.manifest));
  doc.rollout.basis_points = 10000;
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(doc, null, 2) + "\n");
  let run = await check();
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /has 0 valid signatures from the keys trusted for stable/);

  // Yanked by the publisher (serial up), then the older manifest served again to un-yank it.
  await Deno.writeFile(`${dir}/manifest.json`, saved.manifest);
  await changeRollout(world.tree, {
    channel: "stable",
    change: { action: "yank", version: "1.1.0", reason: "crashes at start" },
    expires: new Date(Date.now() + 86_400_000),
    keys: [world.key],
  });
  run = await check();
  assert.equal(run.code, 0, run.stderr);
  await Deno.writeFile(`${dir}/manifest.json`, saved.manifest);
  await Deno.writeFile(`${dir}/manifest.json.sig`, saved.sig);
  await Deno.remove(`${dir}/signatures`, { recursive: true }).catch(() => {});
  run = await check();
  assert.equal(run.code, 1, run.stderr);
  assert.match(
    run.stderr,
    /has serial 2 \(1\.1\.0\), older than serial 3 \(1\.0\.0\) already accepted on stable: .*nothing was accepted/,
  );
  // Nothing was taken from it: the yank stands, 1.1.0 is not staged.
  assert.equal(JSON.parse(await Deno.readTextFile(`${world.root}/state.json`)).staged, null);
});
